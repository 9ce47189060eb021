/// The parsed template: statements (`JinjaNode`) and expressions (`JinjaExpr`).
/// Every node that can fail at render time carries its source line for error messages.

/// Call arguments as written: positional, then `name=value` keywords.
struct JinjaArguments: Sendable {
    var positional: [JinjaExpr] = []
    var keywords: [(name: String, value: JinjaExpr)] = []
}

indirect enum JinjaExpr: Sendable {
    case literal(TemplateValue)
    case name(String, line: Int)
    case list([JinjaExpr])
    /// A tuple literal `(a, b)`; evaluated as a list (tuples only differ in `repr`).
    case tuple([JinjaExpr])
    case dict([(key: JinjaExpr, value: JinjaExpr)], line: Int)
    case attribute(JinjaExpr, String, line: Int)
    case item(JinjaExpr, JinjaExpr, line: Int)
    case slice(JinjaExpr, start: JinjaExpr?, stop: JinjaExpr?, step: JinjaExpr?, line: Int)
    case call(JinjaExpr, JinjaArguments, line: Int)
    case filter(JinjaExpr, name: String, JinjaArguments, line: Int)
    case test(JinjaExpr, name: String, JinjaArguments, negated: Bool, line: Int)
    case negate(JinjaExpr, line: Int)
    case plus(JinjaExpr, line: Int)
    case not(JinjaExpr)
    case binary(String, JinjaExpr, JinjaExpr, line: Int)
    case concat([JinjaExpr])
    /// Chained comparison `a < b < c`: each operator with its right-hand side.
    case compare(JinjaExpr, [(op: String, rhs: JinjaExpr)], line: Int)
    case and(JinjaExpr, JinjaExpr)
    case or(JinjaExpr, JinjaExpr)
    case conditional(test: JinjaExpr, then: JinjaExpr, otherwise: JinjaExpr?)
}

/// Where `{% set %}` or `{% for %}` binds: a name, a tuple of targets, or `ns.attr`.
indirect enum JinjaAssignTarget: Sendable {
    case name(String)
    case tuple([JinjaAssignTarget])
    case attribute(String, String)
}

struct JinjaMacro: Sendable {
    let name: String
    let parameters: [(name: String, defaultValue: JinjaExpr?)]
    let body: [JinjaNode]
    let line: Int
}

indirect enum JinjaNode: Sendable {
    case text(String)
    case output(JinjaExpr)
    case ifBlock(branches: [(test: JinjaExpr, body: [JinjaNode])], otherwise: [JinjaNode])
    case forLoop(target: JinjaAssignTarget, iterable: JinjaExpr, filter: JinjaExpr?, body: [JinjaNode], otherwise: [JinjaNode], line: Int)
    case set(JinjaAssignTarget, JinjaExpr, line: Int)
    /// `{% set x %}…{% endset %}` with optional filters applied to the captured text.
    case setBlock(JinjaAssignTarget, body: [JinjaNode], filters: [(name: String, arguments: JinjaArguments, line: Int)], line: Int)
    case macro(JinjaMacro)
    case filterBlock(body: [JinjaNode], filters: [(name: String, arguments: JinjaArguments, line: Int)])
    case breakLoop(line: Int)
    case continueLoop(line: Int)
}
