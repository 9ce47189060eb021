import Foundation

/// Executes a parsed template against a context. One instance per render (it holds the
/// variable scopes), so `ChatTemplate` itself stays immutable and `Sendable`.
final class JinjaInterpreter {
    /// Scope chain, innermost last: [globals, render context + top-level `set`, loop/macro frames…].
    /// A `for` body gets a fresh frame per iteration, so a `set` inside a loop is local to
    /// that iteration, exactly as Jinja scopes it.
    var frames: [[String: JinjaValue]]
    /// The clock for `strftime_now`, injectable so output is reproducible in tests.
    let now: Date

    enum Flow { case normal, breakLoop, continueLoop }

    /// Loop iterations so far in this render, against `JinjaLimits.maxIterations`.
    private var iterations = 0
    /// The iteration budget (tests lower it to reach it quickly).
    let maxIterations: Int

    /// Comparison work left in this render (`==`, ordering, `in`, and the filters and tests that compare).
    let comparisons: ComparisonBudget

    /// Macro call depth; unbounded recursion becomes an error rather than a stack overflow.
    private var callDepth = 0
    private static let maxCallDepth = 100

    /// Every namespace created by this render. A namespace can hold itself (`{% set ns.me = ns %}`),
    /// which reference counting never frees, so `deinit` empties them all to break such cycles.
    private var namespaces: [JinjaNamespace] = []

    init(context: [String: JinjaValue], now: Date, maxIterations: Int = JinjaLimits.maxIterations,
         maxComparisonWork: Int = JinjaLimits.maxComparisonWork) {
        frames = [JinjaBuiltins.globals, context]
        self.now = now
        self.maxIterations = maxIterations
        comparisons = ComparisonBudget(limit: maxComparisonWork)
    }

    deinit {
        for ns in namespaces { ns.attributes = JinjaDict() }
    }

    func register(_ ns: JinjaNamespace) -> JinjaNamespace {
        namespaces.append(ns)
        return ns
    }

    func render(_ nodes: [JinjaNode]) throws -> String {
        var out = ""
        _ = try execute(nodes, into: &out)
        return out
    }

    // MARK: statements

    func execute(_ nodes: [JinjaNode], into out: inout String) throws -> Flow {
        for node in nodes {
            switch node {
            case let .text(text):
                try emit(text, into: &out)
            case let .output(expr):
                try emit(try eval(expr).pythonString, into: &out)
            case let .ifBlock(branches, otherwise):
                var chosen = otherwise
                for branch in branches where try eval(branch.test).truthy {
                    chosen = branch.body
                    break
                }
                let flow = try execute(chosen, into: &out)
                if flow != .normal { return flow }
            case let .forLoop(target, iterable, filter, body, otherwise, line):
                try executeFor(target: target, iterable: iterable, filter: filter, body: body, otherwise: otherwise, line: line, into: &out)
            case let .set(target, expr, line):
                try assign(target, try eval(expr), line: line)
            case let .setBlock(target, body, filters, line):
                var captured = ""
                _ = try execute(body, into: &captured)
                try assign(target, try applyFilters(filters, to: .string(captured)), line: line)
            case let .macro(definition):
                frames[frames.count - 1][definition.name] = .function(makeMacro(definition))
            case let .filterBlock(body, filters):
                var captured = ""
                _ = try execute(body, into: &captured)
                try emit(try applyFilters(filters, to: .string(captured)).pythonString, into: &out)
            case .breakLoop:
                return .breakLoop
            case .continueLoop:
                return .continueLoop
            }
        }
        return .normal
    }

    /// Appends to an output buffer (the render, a capture or a macro body) within the output cap.
    private func emit(_ text: String, into out: inout String) throws {
        guard out.utf8.count + text.utf8.count <= JinjaLimits.maxOutputBytes else {
            throw TemplateError.runtime("output larger than the \(JinjaLimits.maxOutputBytes >> 20) MiB limit", line: 0)
        }
        out += text
    }

    /// Counts one loop iteration against the per-render budget.
    private func countIteration(line: Int) throws {
        iterations += 1
        guard iterations <= maxIterations else {
            throw TemplateError.runtime("more than \(maxIterations) loop iterations in one render", line: line)
        }
    }

    private func applyFilters(_ filters: [(name: String, arguments: JinjaArguments, line: Int)], to start: JinjaValue) throws -> JinjaValue {
        var value = start
        for filter in filters {
            let (positional, keywords) = try evalArguments(filter.arguments)
            value = try JinjaBuiltins.applyFilter(filter.name, value, positional, keywords, interpreter: self, line: filter.line)
        }
        return value
    }

    private func executeFor(
        target: JinjaAssignTarget, iterable: JinjaExpr, filter: JinjaExpr?, body: [JinjaNode], otherwise: [JinjaNode], line: Int,
        into out: inout String
    ) throws {
        var items = try iterate(try eval(iterable), line: line)
        if let filter {
            items = try items.filter { item in
                try countIteration(line: line)
                frames.append([:])
                defer { frames.removeLast() }
                try assign(target, item, line: line)
                return try eval(filter).truthy
            }
        }
        if items.isEmpty {
            _ = try execute(otherwise, into: &out)
            return
        }
        let count = items.count
        for (index, item) in items.enumerated() {
            try countIteration(line: line)
            frames.append([:])
            defer { frames.removeLast() }
            try assign(target, item, line: line)
            frames[frames.count - 1]["loop"] = .dict(loopObject(index: index, items: items, count: count))
            if try execute(body, into: &out) == .breakLoop { break }
        }
    }

    /// The `loop` variable. Absent `previtem`/`nextitem` stay undefined, as in Jinja.
    private func loopObject(index: Int, items: [JinjaValue], count: Int) -> JinjaDict {
        var loop = JinjaDict()
        loop["index"] = .int(index + 1)
        loop["index0"] = .int(index)
        loop["revindex"] = .int(count - index)
        loop["revindex0"] = .int(count - index - 1)
        loop["first"] = .bool(index == 0)
        loop["last"] = .bool(index == count - 1)
        loop["length"] = .int(count)
        loop["depth"] = .int(1)
        loop["depth0"] = .int(0)
        if index > 0 { loop["previtem"] = items[index - 1] }
        if index + 1 < count { loop["nextitem"] = items[index + 1] }
        loop["cycle"] = .function(JinjaFunction(name: "cycle") { _, args, _ in
            guard !args.isEmpty else { throw TemplateError.runtime("no items for cycling given", line: 0) }
            return args[index % args.count]
        })
        return loop
    }

    /// Python iteration: lists, dict keys, string characters; undefined iterates as empty.
    func iterate(_ value: JinjaValue, line: Int) throws -> [JinjaValue] {
        switch value {
        case .undefined: return []
        case let .list(items): return items
        case let .dict(d): return d.keys.map(JinjaValue.string)
        case let .string(s): return s.unicodeScalars.map { .string(String($0)) }
        default: throw TemplateError.runtime("'\(value.typeName)' object is not iterable", line: line)
        }
    }

    private func assign(_ target: JinjaAssignTarget, _ value: JinjaValue, line: Int) throws {
        switch target {
        case let .name(name):
            frames[frames.count - 1][name] = value
        case let .tuple(targets):
            let items = try iterate(value, line: line)
            guard items.count == targets.count else {
                let problem = items.count < targets.count ? "not enough" : "too many"
                throw TemplateError.runtime("\(problem) values to unpack (expected \(targets.count), got \(items.count))", line: line)
            }
            for (sub, item) in zip(targets, items) { try assign(sub, item, line: line) }
        case let .attribute(name, attribute):
            guard case let .namespace(ns) = lookup(name) else {
                throw TemplateError.runtime("cannot assign attribute on non-namespace object '\(name)'", line: line)
            }
            try checkStorableDepth(value, line: line)
            ns.attributes[attribute] = value
        }
    }

    func lookup(_ name: String) -> JinjaValue {
        for frame in frames.reversed() {
            if let value = frame[name] { return value }
        }
        return .undefinedName(name)
    }

    private func makeMacro(_ definition: JinjaMacro) -> JinjaFunction {
        JinjaFunction(name: definition.name) { interpreter, args, keywords in
            guard args.count <= definition.parameters.count else {
                throw TemplateError.runtime(
                    "macro '\(definition.name)' takes not more than \(definition.parameters.count) argument(s)", line: definition.line)
            }
            for keyword in keywords where !definition.parameters.contains(where: { $0.name == keyword.name }) {
                throw TemplateError.runtime("macro '\(definition.name)' takes no keyword argument '\(keyword.name)'", line: definition.line)
            }
            guard interpreter.callDepth < JinjaInterpreter.maxCallDepth else {
                throw TemplateError.runtime("maximum recursion depth exceeded in macro '\(definition.name)'", line: definition.line)
            }
            let saved = interpreter.frames
            interpreter.frames = [saved[0], saved[1], [:]]
            interpreter.callDepth += 1
            defer {
                interpreter.frames = saved
                interpreter.callDepth -= 1
            }
            for (index, parameter) in definition.parameters.enumerated() {
                let value: JinjaValue
                if index < args.count {
                    value = args[index]
                } else if let keyword = keywords.last(where: { $0.name == parameter.name }) {
                    value = keyword.value
                } else if let defaultValue = parameter.defaultValue {
                    value = try interpreter.eval(defaultValue)
                } else {
                    value = .undefined(hint: "parameter '\(parameter.name)' was not provided")
                }
                interpreter.frames[2][parameter.name] = value
            }
            var out = ""
            _ = try interpreter.execute(definition.body, into: &out)
            return .string(out)
        }
    }

    // MARK: expressions

    func evalArguments(_ arguments: JinjaArguments) throws -> ([JinjaValue], [(name: String, value: JinjaValue)]) {
        let positional = try arguments.positional.map { try eval($0) }
        let keywords = try arguments.keywords.map { (name: $0.name, value: try eval($0.value)) }
        return (positional, keywords)
    }

    func eval(_ expr: JinjaExpr) throws -> JinjaValue {
        switch expr {
        case let .literal(value):
            return JinjaValue(value)
        case let .name(name, _):
            return lookup(name)
        case let .list(items), let .tuple(items):
            return .list(try items.map { try eval($0) })
        case let .dict(pairs, line):
            var dict = JinjaDict()
            for pair in pairs {
                guard case let .string(key) = try eval(pair.key) else {
                    throw TemplateError.unsupported("dict literal with a non-string key", line: line)
                }
                dict[key] = try eval(pair.value)
            }
            return .dict(dict)
        case let .attribute(base, name, line):
            return try getAttribute(try eval(base), name, line: line)
        case let .item(base, key, line):
            return try getItem(try eval(base), try eval(key), line: line)
        case let .slice(base, start, stop, step, line):
            return try slice(try eval(base), start: try start.map { try eval($0) }, stop: try stop.map { try eval($0) },
                step: try step.map { try eval($0) }, line: line)
        case let .call(callee, arguments, line):
            let function = try eval(callee)
            let (positional, keywords) = try evalArguments(arguments)
            switch function {
            case let .function(f): return try checkedSize(try f.body(self, positional, keywords), line: line)
            case let .undefined(hint): throw TemplateError.undefined(hint, line: line)
            default: throw TemplateError.runtime("'\(function.typeName)' object is not callable", line: line)
            }
        case let .filter(base, name, arguments, line):
            let value = try eval(base)
            let (positional, keywords) = try evalArguments(arguments)
            return try checkedSize(try JinjaBuiltins.applyFilter(name, value, positional, keywords, interpreter: self, line: line), line: line)
        case let .test(base, name, arguments, negated, line):
            let value = try eval(base)
            let (positional, _) = try evalArguments(arguments)
            let result = try JinjaBuiltins.applyTest(name, value, positional, interpreter: self, line: line)
            return .bool(result != negated)
        case let .negate(operand, line):
            let value = try eval(operand)
            switch value {
            case let .int(i):
                guard i != Int.min else { throw TemplateError.runtime("integer overflow", line: line) }
                return .int(-i)
            case let .bool(b): return .int(b ? -1 : 0)
            case let .double(d): return .double(-d)
            case let .undefined(hint): throw TemplateError.undefined(hint, line: line)
            default: throw TemplateError.runtime("bad operand type for unary -: '\(value.typeName)'", line: line)
            }
        case let .plus(operand, line):
            let value = try eval(operand)
            switch value {
            case .int, .double: return value
            case let .bool(b): return .int(b ? 1 : 0)
            case let .undefined(hint): throw TemplateError.undefined(hint, line: line)
            default: throw TemplateError.runtime("bad operand type for unary +: '\(value.typeName)'", line: line)
            }
        case let .not(operand):
            return .bool(!(try eval(operand).truthy))
        case let .binary(op, lhs, rhs, line):
            return try JinjaOperators.arithmetic(op, try eval(lhs), try eval(rhs), line: line)
        case let .concat(parts):
            var text = ""
            for part in parts {
                let piece = try eval(part).pythonString
                try JinjaOperators.checkStringSize(text.utf8.count + piece.utf8.count, line: 0)
                text += piece
            }
            return .string(text)
        case let .compare(first, ops, line):
            var left = try eval(first)
            for (op, rhs) in ops {
                let right = try eval(rhs)
                guard try JinjaOperators.compare(op, left, right, budget: comparisons, line: line) else { return .bool(false) }
                left = right
            }
            return .bool(true)
        case let .and(lhs, rhs):
            // Python `and`/`or` short-circuit and return an operand, not a bool.
            let left = try eval(lhs)
            return left.truthy ? try eval(rhs) : left
        case let .or(lhs, rhs):
            let left = try eval(lhs)
            return left.truthy ? left : try eval(rhs)
        case let .conditional(test, then, otherwise):
            if try eval(test).truthy { return try eval(then) }
            guard let otherwise else { return .undefined(hint: "the inline if-expression evaluated to false and no else section was defined") }
            return try eval(otherwise)
        }
    }

    /// Refuses a string or list past the per-value caps (results of filters and calls, which
    /// are not all checked before they are built).
    private func checkedSize(_ value: JinjaValue, line: Int) throws -> JinjaValue {
        switch value {
        case let .string(s): try JinjaOperators.checkStringSize(s.utf8.count, line: line)
        case let .list(items): try JinjaOperators.checkListSize(items.count, line: line)
        default: break
        }
        return value
    }

    /// Jinja `obj.name`: a Python attribute (method) first, then the key, else undefined.
    func getAttribute(_ object: JinjaValue, _ name: String, line: Int) throws -> JinjaValue {
        switch object {
        case let .undefined(hint):
            throw TemplateError.undefined(hint, line: line)
        case let .dict(d):
            if let method = JinjaBuiltins.dictMethod(d, name) { return method }
            return d[name] ?? .undefined(hint: "'dict object' has no attribute '\(name)'")
        case let .string(s):
            return JinjaBuiltins.stringMethod(s, name) ?? .undefined(hint: "'str object' has no attribute '\(name)'")
        case let .namespace(ns):
            return ns.attributes[name] ?? .undefined(hint: "'Namespace object' has no attribute '\(name)'")
        case .none:
            return .undefined(hint: "'None' has no attribute '\(name)'")
        default:
            return .undefined(hint: "'\(object.typeName) object' has no attribute '\(name)'")
        }
    }

    /// Jinja `obj[key]`: the item first, then a same-named attribute, else undefined.
    /// Out-of-range indexes give undefined (not an error), as in Jinja.
    func getItem(_ object: JinjaValue, _ key: JinjaValue, line: Int) throws -> JinjaValue {
        switch (object, key) {
        case let (.undefined(hint), _):
            throw TemplateError.undefined(hint, line: line)
        case let (.list(items), _):
            if let index = key.integer {
                let resolved = index < 0 ? index + items.count : index
                if resolved >= 0 && resolved < items.count { return items[resolved] }
                return .undefined(hint: "list object has no element \(index)")
            }
        case let (.string(s), _):
            if let index = key.integer {
                let scalars = Array(s.unicodeScalars)
                let resolved = index < 0 ? index + scalars.count : index
                if resolved >= 0 && resolved < scalars.count { return .string(String(scalars[resolved])) }
                return .undefined(hint: "str object has no element \(index)")
            }
        case let (.dict(d), .string(name)):
            if let value = d[name] { return value }
        default:
            break
        }
        if case let .string(name) = key { return try getAttribute(object, name, line: line) }
        return .undefined(hint: "\(object.typeName) object has no element \(try key.pythonRepr)")
    }

    private func slice(_ object: JinjaValue, start: JinjaValue?, stop: JinjaValue?, step: JinjaValue?, line: Int) throws -> JinjaValue {
        func bound(_ value: JinjaValue?) throws -> Int? {
            guard let value else { return nil }
            if case .none = value { return nil }
            guard let i = value.integer else {
                throw TemplateError.runtime("slice indices must be integers or None", line: line)
            }
            return i
        }
        let stepValue = try bound(step) ?? 1
        guard stepValue != 0 else { throw TemplateError.runtime("slice step cannot be zero", line: line) }
        func indices(_ count: Int) throws -> [Int] {
            func clamp(_ raw: Int?, _ defaultValue: Int, low: Int, high: Int) -> Int {
                guard var v = raw else { return defaultValue }
                if v < 0 { v += count }
                return min(max(v, low), high)
            }
            var result: [Int] = []
            if stepValue > 0 {
                let from = clamp(try bound(start), 0, low: 0, high: count)
                let to = clamp(try bound(stop), count, low: 0, high: count)
                var i = from
                while i < to {
                    result.append(i)
                    let (next, over) = i.addingReportingOverflow(stepValue)
                    if over { break }
                    i = next
                }
            } else {
                let from = clamp(try bound(start), count - 1, low: -1, high: count - 1)
                let to = clamp(try bound(stop), -1, low: -1, high: count - 1)
                var i = from
                while i > to {
                    result.append(i)
                    let (next, over) = i.addingReportingOverflow(stepValue)
                    if over { break }
                    i = next
                }
            }
            return result
        }
        switch object {
        case let .list(items):
            return .list(try indices(items.count).map { items[$0] })
        case let .string(s):
            let scalars = Array(s.unicodeScalars)
            var out = String.UnicodeScalarView()
            for i in try indices(scalars.count) { out.append(scalars[i]) }
            return .string(String(out))
        case let .undefined(hint):
            throw TemplateError.undefined(hint, line: line)
        default:
            throw TemplateError.runtime("'\(object.typeName)' object is not subscriptable", line: line)
        }
    }
}
