/// Recursive-descent parser over `JinjaLexer` tokens, following Jinja's grammar and precedence:
/// conditional < or < and < not < comparisons/in < + - < ~ < * / // % < ** < unary,
/// with filters, `is` tests and calls binding tightest (so `a + b | trim` is `a + (b|trim)`).
struct JinjaParser {
    private var tokens: [JinjaToken]
    private var index = 0
    /// `break`/`continue` are only legal inside a loop body (as Jinja checks at compile time).
    private var loopDepth = 0
    /// Depth guard for the parser's recursion and for the AST it builds: every recursive call
    /// and every loop iteration that wraps the expression so far in a new node (`a + b + …`,
    /// `x.a.b…`, `f()()…`, `x|f|g…`, `a if b else c if …`) counts one level. Hostile nesting becomes
    /// a syntax error instead of a stack overflow while parsing, evaluating or freeing the tree;
    /// the limit is low enough that the recursive evaluator and the recursive release of a
    /// tree at the limit stay far from the stack's end.
    /// One entry per open level: the chain construct that opened it, or nil for plain recursion
    /// (blocks, parentheses, unary operators), so the error names the chain that ran deep.
    private var levels: [String?] = []
    static let maxNesting = 200

    private mutating func enter(_ construct: String? = nil) throws {
        levels.append(construct)
        guard levels.count <= JinjaParser.maxNesting else {
            let name = levels.last(where: { $0 != nil }).flatMap { $0 } ?? "nested blocks, parentheses or unary operators"
            throw TemplateError.syntax("nesting too deep (\(name), more than \(JinjaParser.maxNesting) levels)", line: current.line)
        }
    }

    private mutating func leave(_ count: Int = 1) { levels.removeLast(count) }

    /// Statements that are valid Jinja but deliberately not implemented.
    private static let unsupportedStatements: Set<String> = [
        "extends", "block", "include", "import", "from", "call", "with", "autoescape", "do", "trans",
        "pluralize", "endcall",
    ]

    init(tokens: [JinjaToken]) { self.tokens = tokens }

    static func parse(_ source: String) throws -> [JinjaNode] {
        var parser = JinjaParser(tokens: try JinjaLexer.tokenize(source))
        let (body, end) = try parser.parseBody(until: [])
        if let end { throw TemplateError.syntax("unexpected '\(end)'", line: parser.current.line) }
        return body
    }

    // MARK: token helpers

    private var current: JinjaToken { tokens[min(index, tokens.count - 1)] }
    private func peek(_ offset: Int) -> JinjaToken { tokens[min(index + offset, tokens.count - 1)] }
    private mutating func advance() { if index < tokens.count - 1 { index += 1 } }

    private func isOp(_ op: String, _ token: JinjaToken? = nil) -> Bool {
        if case .op(op) = (token ?? current).kind { return true }
        return false
    }
    private func isName(_ name: String, _ token: JinjaToken? = nil) -> Bool {
        if case .name(name) = (token ?? current).kind { return true }
        return false
    }

    private func describe(_ token: JinjaToken) -> String {
        switch token.kind {
        case .text: return "template text"
        case .variableBegin: return "'{{'"
        case .variableEnd: return "'}}'"
        case .blockBegin: return "'{%'"
        case .blockEnd: return "'%}'"
        case let .name(n): return "'\(n)'"
        case let .string(s): return "string '\(s)'"
        case let .integer(i): return "integer \(i)"
        case let .float(d): return "number \(d)"
        case let .op(o): return "'\(o)'"
        case .eof: return "end of template"
        }
    }

    private func unexpected(expected: String) -> TemplateError {
        .syntax("expected \(expected), got \(describe(current))", line: current.line)
    }

    private mutating func expectOp(_ op: String) throws {
        guard isOp(op) else { throw unexpected(expected: "'\(op)'") }
        advance()
    }
    private mutating func expectName(_ name: String) throws {
        guard isName(name) else { throw unexpected(expected: "'\(name)'") }
        advance()
    }
    private mutating func expectBlockEnd() throws {
        guard current.kind == .blockEnd else { throw unexpected(expected: "'%}'") }
        advance()
    }
    private mutating func identifier() throws -> String {
        guard case let .name(name) = current.kind else { throw unexpected(expected: "a name") }
        advance()
        return name
    }

    // MARK: statements

    /// Parses nodes until a block tag named in `endTags`; returns that tag (its name consumed)
    /// or nil at the end of the template.
    private mutating func parseBody(until endTags: Set<String>) throws -> ([JinjaNode], String?) {
        try enter()
        defer { leave() }
        var nodes: [JinjaNode] = []
        while true {
            let token = current
            switch token.kind {
            case let .text(text):
                nodes.append(.text(text))
                advance()
            case .variableBegin:
                advance()
                let expr = try parseTuple()
                guard current.kind == .variableEnd else { throw unexpected(expected: "'}}'") }
                advance()
                nodes.append(.output(expr))
            case .blockBegin:
                advance()
                guard case let .name(keyword) = current.kind else { throw unexpected(expected: "a statement name") }
                if endTags.contains(keyword) {
                    advance()
                    return (nodes, keyword)
                }
                nodes.append(try parseStatement(keyword, line: current.line))
            case .eof:
                if !endTags.isEmpty {
                    let names = endTags.sorted().map { "'\($0)'" }.joined(separator: " or ")
                    throw TemplateError.syntax("unexpected end of template, expected \(names)", line: token.line)
                }
                return (nodes, nil)
            default:
                throw unexpected(expected: "text or a tag")
            }
        }
    }

    private mutating func parseStatement(_ keyword: String, line: Int) throws -> JinjaNode {
        advance()
        switch keyword {
        case "if": return try parseIf()
        case "for": return try parseFor(line: line)
        case "set": return try parseSet(line: line)
        case "macro": return try parseMacro(line: line)
        case "filter":
            let filters = try parseFilterChain()
            try expectBlockEnd()
            let (body, _) = try parseBody(until: ["endfilter"])
            try expectBlockEnd()
            return .filterBlock(body: body, filters: filters)
        case "break", "continue":
            guard loopDepth > 0 else { throw TemplateError.syntax("'\(keyword)' outside of a loop", line: line) }
            try expectBlockEnd()
            return keyword == "break" ? .breakLoop(line: line) : .continueLoop(line: line)
        default:
            if keyword.hasPrefix("end") || keyword == "elif" || keyword == "else" {
                throw TemplateError.syntax("unexpected '\(keyword)'", line: line)
            }
            if JinjaParser.unsupportedStatements.contains(keyword) {
                throw TemplateError.unsupported("statement '\(keyword)'", line: line)
            }
            throw TemplateError.syntax("unknown tag '\(keyword)'", line: line)
        }
    }

    private mutating func parseIf() throws -> JinjaNode {
        var branches: [(test: JinjaExpr, body: [JinjaNode])] = []
        var test = try parseTuple(withCondexpr: false)
        while true {
            try expectBlockEnd()
            let (body, end) = try parseBody(until: ["elif", "else", "endif"])
            branches.append((test, body))
            switch end {
            case "elif":
                test = try parseTuple(withCondexpr: false)
            case "else":
                try expectBlockEnd()
                let (otherwise, _) = try parseBody(until: ["endif"])
                try expectBlockEnd()
                return .ifBlock(branches: branches, otherwise: otherwise)
            default:
                try expectBlockEnd()
                return .ifBlock(branches: branches, otherwise: [])
            }
        }
    }

    private mutating func parseFor(line: Int) throws -> JinjaNode {
        let target = try parseAssignTarget(allowAttribute: false)
        try expectName("in")
        let iterable = try parseTuple(withCondexpr: false, extraEnd: ["if", "recursive"])
        var filter: JinjaExpr? = nil
        if isName("if") {
            advance()
            filter = try parseExpression()
        }
        if isName("recursive") { throw TemplateError.unsupported("recursive for loop", line: current.line) }
        try expectBlockEnd()
        loopDepth += 1
        let (body, end) = try parseBody(until: ["endfor", "else"])
        loopDepth -= 1
        var otherwise: [JinjaNode] = []
        if end == "else" {
            try expectBlockEnd()
            (otherwise, _) = try parseBody(until: ["endfor"])
        }
        try expectBlockEnd()
        return .forLoop(target: target, iterable: iterable, filter: filter, body: body, otherwise: otherwise, line: line)
    }

    private mutating func parseSet(line: Int) throws -> JinjaNode {
        let target = try parseAssignTarget(allowAttribute: true)
        if isOp("=") {
            advance()
            let value = try parseTuple()
            try expectBlockEnd()
            return .set(target, value, line: line)
        }
        let filters = try parseFilterChain()
        try expectBlockEnd()
        let (body, _) = try parseBody(until: ["endset"])
        try expectBlockEnd()
        return .setBlock(target, body: body, filters: filters, line: line)
    }

    private mutating func parseMacro(line: Int) throws -> JinjaNode {
        let name = try identifier()
        try expectOp("(")
        var parameters: [(name: String, defaultValue: JinjaExpr?)] = []
        while !isOp(")") {
            if !parameters.isEmpty { try expectOp(",") }
            if isOp(")") { break }
            let parameter = try identifier()
            var defaultValue: JinjaExpr? = nil
            if isOp("=") {
                advance()
                defaultValue = try parseExpression()
            } else if parameters.contains(where: { $0.defaultValue != nil }) {
                throw TemplateError.syntax("non-default argument follows default argument", line: current.line)
            }
            parameters.append((parameter, defaultValue))
        }
        advance()
        try expectBlockEnd()
        let savedDepth = loopDepth
        loopDepth = 0
        let (body, _) = try parseBody(until: ["endmacro"])
        loopDepth = savedDepth
        try expectBlockEnd()
        return .macro(JinjaMacro(name: name, parameters: parameters, body: body, line: line))
    }

    /// `| name(args) | name …` as used by `{% filter %}` and block `{% set %}`.
    private mutating func parseFilterChain() throws -> [(name: String, arguments: JinjaArguments, line: Int)] {
        var filters: [(name: String, arguments: JinjaArguments, line: Int)] = []
        var first = true
        while first || isOp("|") {
            if isOp("|") { advance() } else if current.kind == .blockEnd { break }
            first = false
            let line = current.line
            let name = try filterName()
            let arguments = isOp("(") ? try parseCallArguments() : JinjaArguments()
            filters.append((name, arguments, line))
        }
        return filters
    }

    private mutating func parseAssignTarget(allowAttribute: Bool) throws -> JinjaAssignTarget {
        var targets: [JinjaAssignTarget] = []
        repeat {
            if !targets.isEmpty { advance() }
            if isName("in") || current.kind == .blockEnd || isOp("=") { break }
            if isOp("(") {
                advance()
                let inner = try parseAssignTarget(allowAttribute: false)
                try expectOp(")")
                targets.append(inner)
                continue
            }
            let line = current.line
            let name = try identifier()
            if isOp(".") {
                guard allowAttribute else { throw TemplateError.syntax("cannot assign to an attribute here", line: line) }
                advance()
                targets.append(.attribute(name, try identifier()))
            } else {
                if ["true", "false", "none", "True", "False", "None"].contains(name) {
                    throw TemplateError.syntax("cannot assign to '\(name)'", line: line)
                }
                targets.append(.name(name))
            }
        } while isOp(",")
        guard let first = targets.first else { throw unexpected(expected: "an assignment target") }
        return targets.count == 1 && !isOp(",") ? first : .tuple(targets)
    }

    // MARK: expressions

    /// An expression or a bare comma tuple (`a, b`), as Jinja allows in `{{ }}` and `set`.
    private mutating func parseTuple(withCondexpr: Bool = true, extraEnd: Set<String> = []) throws -> JinjaExpr {
        let first = try parseExpression(withCondexpr: withCondexpr)
        guard isOp(",") else { return first }
        var items = [first]
        while isOp(",") {
            advance()
            if isTupleEnd(extraEnd) { break }
            items.append(try parseExpression(withCondexpr: withCondexpr))
        }
        return .tuple(items)
    }

    private func isTupleEnd(_ extraEnd: Set<String>) -> Bool {
        switch current.kind {
        case .blockEnd, .variableEnd, .eof: return true
        case .op(")"), .op("]"): return true
        case let .name(n): return extraEnd.contains(n)
        default: return false
        }
    }

    private mutating func parseExpression(withCondexpr: Bool = true) throws -> JinjaExpr {
        try enter()
        defer { leave() }
        return withCondexpr ? try parseConditional() : try parseOr()
    }

    private mutating func parseConditional() throws -> JinjaExpr {
        var expr = try parseOr()
        var opened = 0
        defer { leave(opened) }
        while isName("if") {
            try enter("'if … else' expression")
            opened += 1
            advance()
            let test = try parseOr()
            var otherwise: JinjaExpr? = nil
            if isName("else") {
                advance()
                otherwise = try parseConditional()
            }
            expr = .conditional(test: test, then: expr, otherwise: otherwise)
        }
        return expr
    }

    private mutating func parseOr() throws -> JinjaExpr {
        var left = try parseAnd()
        var opened = 0
        defer { leave(opened) }
        while isName("or") {
            try enter("'or' chain")
            opened += 1
            advance()
            left = .or(left, try parseAnd())
        }
        return left
    }

    private mutating func parseAnd() throws -> JinjaExpr {
        var left = try parseNot()
        var opened = 0
        defer { leave(opened) }
        while isName("and") {
            try enter("'and' chain")
            opened += 1
            advance()
            left = .and(left, try parseNot())
        }
        return left
    }

    private mutating func parseNot() throws -> JinjaExpr {
        try enter()
        defer { leave() }
        if isName("not") {
            advance()
            return .not(try parseNot())
        }
        return try parseCompare()
    }

    private mutating func parseCompare() throws -> JinjaExpr {
        let line = current.line
        let first = try parseMath1()
        var ops: [(op: String, rhs: JinjaExpr)] = []
        while true {
            if case let .op(op) = current.kind, ["==", "!=", "<", "<=", ">", ">="].contains(op) {
                advance()
                ops.append((op, try parseMath1()))
            } else if isName("in") {
                advance()
                ops.append(("in", try parseMath1()))
            } else if isName("not") && isName("in", peek(1)) {
                advance(); advance()
                ops.append(("notin", try parseMath1()))
            } else {
                break
            }
        }
        return ops.isEmpty ? first : .compare(first, ops, line: line)
    }

    private mutating func parseMath1() throws -> JinjaExpr {
        var left = try parseConcat()
        var opened = 0
        defer { leave(opened) }
        while isOp("+") || isOp("-") {
            guard case let .op(op) = current.kind else { break }
            try enter("'\(op)' chain")
            opened += 1
            let line = current.line
            advance()
            left = .binary(op, left, try parseConcat(), line: line)
        }
        return left
    }

    private mutating func parseConcat() throws -> JinjaExpr {
        var parts = [try parseMath2()]
        while isOp("~") {
            advance()
            parts.append(try parseMath2())
        }
        return parts.count == 1 ? parts[0] : .concat(parts)
    }

    private mutating func parseMath2() throws -> JinjaExpr {
        var left = try parsePow()
        var opened = 0
        defer { leave(opened) }
        while true {
            guard case let .op(op) = current.kind, ["*", "/", "//", "%"].contains(op) else { break }
            try enter("'\(op)' chain")
            opened += 1
            let line = current.line
            advance()
            left = .binary(op, left, try parsePow(), line: line)
        }
        return left
    }

    private mutating func parsePow() throws -> JinjaExpr {
        var left = try parseUnary()
        var opened = 0
        defer { leave(opened) }
        while isOp("**") {
            try enter("'**' chain")
            opened += 1
            let line = current.line
            advance()
            left = .binary("**", left, try parseUnary(), line: line)
        }
        return left
    }

    private mutating func parseUnary(withFilter: Bool = true) throws -> JinjaExpr {
        try enter()
        defer { leave() }
        let line = current.line
        var node: JinjaExpr
        if isOp("-") {
            advance()
            node = .negate(try parseUnary(withFilter: false), line: line)
        } else if isOp("+") {
            advance()
            node = .plus(try parseUnary(withFilter: false), line: line)
        } else {
            node = try parsePostfix(try parsePrimary())
        }
        if withFilter { node = try parseFilterExpr(node) }
        return node
    }

    private mutating func parsePrimary() throws -> JinjaExpr {
        let token = current
        switch token.kind {
        case let .name(name):
            advance()
            switch name {
            case "true", "True": return .literal(.bool(true))
            case "false", "False": return .literal(.bool(false))
            case "none", "None": return .literal(.null)
            default: return .name(name, line: token.line)
            }
        case let .string(first):
            advance()
            var text = first
            // Adjacent literals concatenate, as in Python.
            while case let .string(more) = current.kind {
                text += more
                advance()
            }
            return .literal(.string(text))
        case let .integer(value):
            advance()
            return .literal(.int(value))
        case let .float(value):
            advance()
            return .literal(.double(value))
        case .op("("):
            advance()
            if isOp(")") {
                advance()
                return .tuple([])
            }
            let first = try parseExpression()
            if isOp(")") {
                advance()
                return first
            }
            var items = [first]
            while isOp(",") {
                advance()
                if isOp(")") { break }
                items.append(try parseExpression())
            }
            try expectOp(")")
            return .tuple(items)
        case .op("["):
            advance()
            var items: [JinjaExpr] = []
            while !isOp("]") {
                if !items.isEmpty { try expectOp(",") }
                if isOp("]") { break }
                items.append(try parseExpression())
            }
            advance()
            return .list(items)
        case .op("{"):
            advance()
            var pairs: [(key: JinjaExpr, value: JinjaExpr)] = []
            while !isOp("}") {
                if !pairs.isEmpty { try expectOp(",") }
                if isOp("}") { break }
                let key = try parseExpression()
                try expectOp(":")
                pairs.append((key, try parseExpression()))
            }
            advance()
            return .dict(pairs, line: token.line)
        default:
            throw unexpected(expected: "an expression")
        }
    }

    private mutating func parsePostfix(_ start: JinjaExpr) throws -> JinjaExpr {
        var node = start
        var opened = 0
        defer { leave(opened) }
        while true {
            let line = current.line
            if isOp(".") || isOp("[") || isOp("(") {
                try enter(isOp(".") ? "'.attribute' chain" : isOp("[") ? "'[…]' subscript chain" : "'(…)' call chain")
                opened += 1
            }
            if isOp(".") {
                advance()
                switch current.kind {
                case let .name(attr):
                    advance()
                    node = .attribute(node, attr, line: line)
                case let .integer(i):
                    advance()
                    node = .item(node, .literal(.int(i)), line: line)
                default:
                    throw unexpected(expected: "an attribute name")
                }
            } else if isOp("[") {
                advance()
                node = try parseSubscript(node, line: line)
            } else if isOp("(") {
                node = .call(node, try parseCallArguments(), line: line)
            } else {
                return node
            }
        }
    }

    private mutating func parseSubscript(_ base: JinjaExpr, line: Int) throws -> JinjaExpr {
        var start: JinjaExpr? = nil
        if !isOp(":") {
            start = try parseExpression()
            if isOp("]") {
                advance()
                return .item(base, start ?? .literal(.null), line: line)
            }
            if isOp(",") { throw TemplateError.unsupported("tuple subscript", line: line) }
        }
        try expectOp(":")
        var stop: JinjaExpr? = nil
        var step: JinjaExpr? = nil
        if !isOp("]") && !isOp(":") { stop = try parseExpression() }
        if isOp(":") {
            advance()
            if !isOp("]") { step = try parseExpression() }
        }
        try expectOp("]")
        return .slice(base, start: start, stop: stop, step: step, line: line)
    }

    private mutating func parseCallArguments() throws -> JinjaArguments {
        try expectOp("(")
        var arguments = JinjaArguments()
        var first = true
        while !isOp(")") {
            if !first { try expectOp(",") }
            first = false
            if isOp(")") { break }
            if isOp("*") || isOp("**") { throw TemplateError.unsupported("*args/**kwargs in a call", line: current.line) }
            if case let .name(name) = current.kind, isOp("=", peek(1)) {
                advance(); advance()
                arguments.keywords.append((name, try parseExpression()))
            } else {
                if !arguments.keywords.isEmpty {
                    throw TemplateError.syntax("positional argument after keyword argument", line: current.line)
                }
                arguments.positional.append(try parseExpression())
            }
        }
        advance()
        return arguments
    }

    private mutating func filterName() throws -> String {
        let line = current.line
        var name = try identifier()
        while isOp(".") {
            advance()
            name += "." + (try identifier())
        }
        guard JinjaBuiltins.filterNames.contains(name) else { throw TemplateError.unsupported("filter '\(name)'", line: line) }
        return name
    }

    private mutating func parseFilterExpr(_ start: JinjaExpr) throws -> JinjaExpr {
        var node = start
        var opened = 0
        defer { leave(opened) }
        while true {
            let line = current.line
            if isOp("|") || isName("is") || isOp("(") {
                try enter(isOp("|") ? "'|filter' chain" : isOp("(") ? "'(…)' call chain" : "'is' test chain")
                opened += 1
            }
            if isOp("|") {
                advance()
                let name = try filterName()
                let arguments = isOp("(") ? try parseCallArguments() : JinjaArguments()
                node = .filter(node, name: name, arguments, line: line)
            } else if isName("is") {
                advance()
                var negated = false
                if isName("not") {
                    advance()
                    negated = true
                }
                let testLine = current.line
                var name = try identifier()
                while isOp(".") {
                    advance()
                    name += "." + (try identifier())
                }
                guard JinjaBuiltins.testNames.contains(name) else { throw TemplateError.unsupported("test '\(name)'", line: testLine) }
                var arguments = JinjaArguments()
                if isOp("(") {
                    arguments = try parseCallArguments()
                } else if startsTestArgument() {
                    arguments.positional = [try parsePostfix(try parsePrimary())]
                }
                node = .test(node, name: name, arguments, negated: negated, line: line)
            } else if isOp("(") {
                node = .call(node, try parseCallArguments(), line: line)
            } else {
                return node
            }
        }
    }

    /// Jinja lets a test take one argument without parentheses: `x is divisibleby 3`.
    private func startsTestArgument() -> Bool {
        switch current.kind {
        case let .name(n): return !["else", "or", "and", "if", "in", "not", "is"].contains(n)
        case .string, .integer, .float, .op("["), .op("{"): return true
        default: return false
        }
    }
}
