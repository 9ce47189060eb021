/// The parsed template: statements (`Node`) and expressions (`Expr`).
/// Every node that can fail at render time carries its source line for error messages.

/// Call arguments as written: positional, then `name=value` keywords.
struct Arguments: Sendable {
    var positional: [Expr] = []
    var keywords: [(name: String, value: Expr)] = []
}

indirect enum Expr: Sendable {
    case literal(TemplateValue)
    case name(String, line: Int)
    case list([Expr])
    /// A tuple literal `(a, b)`; evaluated as a list (tuples only differ in `repr`).
    case tuple([Expr])
    case dict([(key: Expr, value: Expr)], line: Int)
    case attribute(Expr, String, line: Int)
    case item(Expr, Expr, line: Int)
    case slice(Expr, start: Expr?, stop: Expr?, step: Expr?, line: Int)
    case call(Expr, Arguments, line: Int)
    case filter(Expr, name: String, Arguments, line: Int)
    case test(Expr, name: String, Arguments, negated: Bool, line: Int)
    case negate(Expr, line: Int)
    case plus(Expr, line: Int)
    case not(Expr)
    case binary(String, Expr, Expr, line: Int)
    case concat([Expr])
    /// Chained comparison `a < b < c`: each operator with its right-hand side.
    case compare(Expr, [(op: String, rhs: Expr)], line: Int)
    case and(Expr, Expr)
    case or(Expr, Expr)
    case conditional(test: Expr, then: Expr, otherwise: Expr?)
}

/// Where `{% set %}` or `{% for %}` binds: a name, a tuple of targets, or `ns.attr`.
indirect enum AssignTarget: Sendable {
    case name(String)
    case tuple([AssignTarget])
    case attribute(String, String)
}

struct MacroDefinition: Sendable {
    let name: String
    let parameters: [(name: String, defaultValue: Expr?)]
    let body: [Node]
    let line: Int
}

indirect enum Node: Sendable {
    case text(String)
    case output(Expr)
    case ifBlock(branches: [(test: Expr, body: [Node])], otherwise: [Node])
    case forLoop(target: AssignTarget, iterable: Expr, filter: Expr?, body: [Node], otherwise: [Node], line: Int)
    case set(AssignTarget, Expr, line: Int)
    /// `{% set x %}…{% endset %}` with optional filters applied to the captured text.
    case setBlock(AssignTarget, body: [Node], filters: [(name: String, arguments: Arguments, line: Int)], line: Int)
    case macro(MacroDefinition)
    case filterBlock(body: [Node], filters: [(name: String, arguments: Arguments, line: Int)])
    case breakLoop(line: Int)
    case continueLoop(line: Int)
}
