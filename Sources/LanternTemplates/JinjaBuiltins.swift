import Foundation

/// Positional and keyword arguments of a filter, test, method or global call, looked up the
/// way Python binds parameters (by position first, then by name).
struct JinjaCallArguments {
    let positional: [JinjaValue]
    let keywords: [(name: String, value: JinjaValue)]
    let function: String
    let line: Int

    func get(_ index: Int, _ name: String) -> JinjaValue? {
        if index < positional.count { return positional[index] }
        return keywords.last { $0.name == name }?.value
    }

    func string(_ index: Int, _ name: String, default defaultValue: String) throws -> String {
        guard let value = get(index, name) else { return defaultValue }
        guard case let .string(s) = value else { throw error("argument '\(name)' must be a string, not \(value.typeName)") }
        return s
    }

    func optionalString(_ index: Int, _ name: String) throws -> String? {
        guard let value = get(index, name) else { return nil }
        if case .none = value { return nil }
        guard case let .string(s) = value else { throw error("argument '\(name)' must be a string, not \(value.typeName)") }
        return s
    }

    func int(_ index: Int, _ name: String, default defaultValue: Int) throws -> Int {
        guard let value = get(index, name) else { return defaultValue }
        guard let i = value.integer else { throw error("argument '\(name)' must be an integer, not \(value.typeName)") }
        return i
    }

    func bool(_ index: Int, _ name: String, default defaultValue: Bool) -> Bool {
        get(index, name)?.truthy ?? defaultValue
    }

    func error(_ message: String) -> TemplateError { .runtime("\(function)(): \(message)", line: line) }
}

/// The built-in filters, tests, globals and Python methods available to templates.
enum JinjaBuiltins {
    static let filterNames: Set<String> = [
        "abs", "capitalize", "count", "d", "default", "e", "escape", "first", "float", "indent", "int", "items",
        "join", "last", "length", "list", "lower", "map", "max", "min", "reject", "rejectattr", "replace", "reverse",
        "round", "safe", "select", "selectattr", "sort", "string", "sum", "title", "tojson", "trim", "unique", "upper",
        "wordcount", "dictsort",
    ]

    static let testNames: Set<String> = [
        "boolean", "callable", "defined", "divisibleby", "eq", "equalto", "==", "escaped", "even", "false", "filter",
        "float", "ge", ">=", "gt", "greaterthan", ">", "in", "integer", "iterable", "le", "<=", "lower", "lt",
        "lessthan", "<", "mapping", "ne", "!=", "none", "number", "odd", "sameas", "sequence", "string", "test",
        "true", "undefined", "upper",
    ]

    // MARK: globals

    /// Built per render (a computed property) because `JinjaValue` holds closures and is not `Sendable`.
    static var globals: [String: JinjaValue] { [
        "raise_exception": .function(JinjaFunction(name: "raise_exception") { _, args, keywords in
            let message = args.first ?? keywords.first?.value ?? .string("")
            throw TemplateError.raised(try message.pythonString)
        }),
        "strftime_now": .function(JinjaFunction(name: "strftime_now") { interpreter, args, _ in
            guard case let .string(format)? = args.first else {
                throw TemplateError.runtime("strftime_now() expects a format string", line: 0)
            }
            return .string(try pythonStrftime(format, interpreter.now))
        }),
        "namespace": .function(JinjaFunction(name: "namespace") { interpreter, args, keywords in
            var attributes = JinjaDict()
            for arg in args {
                guard case let .dict(d) = arg else { throw TemplateError.runtime("namespace() takes mappings as positional arguments", line: 0) }
                for (key, value) in d.entries { attributes[key] = value }
            }
            for keyword in keywords { attributes[keyword.name] = keyword.value }
            for value in attributes.values { try checkStorableDepth(value, line: 0) }
            return .namespace(interpreter.register(JinjaNamespace(attributes)))
        }),
        "dict": .function(JinjaFunction(name: "dict") { _, args, keywords in
            var result = JinjaDict()
            if case let .dict(d)? = args.first { for (key, value) in d.entries { result[key] = value } }
            for keyword in keywords { result[keyword.name] = keyword.value }
            return .dict(result)
        }),
        "range": .function(JinjaFunction(name: "range") { _, args, _ in
            let ints = args.compactMap(\.integer)
            guard ints.count == args.count, (1...3).contains(ints.count) else {
                throw TemplateError.runtime("range() expects 1 to 3 integer arguments", line: 0)
            }
            let (start, stop, step) = ints.count == 1 ? (0, ints[0], 1) : (ints[0], ints[1], ints.count == 3 ? ints[2] : 1)
            guard step != 0 else { throw TemplateError.runtime("range() arg 3 must not be zero", line: 0) }
            let values = Array(stride(from: start, to: stop, by: step).prefix(100_001))
            guard values.count <= 100_000 else { throw TemplateError.runtime("range() too large", line: 0) }
            return .list(values.map(JinjaValue.int))
        }),
    ] }

    // MARK: filters

    static func applyFilter(
        _ name: String, _ value: JinjaValue, _ positional: [JinjaValue], _ keywords: [(name: String, value: JinjaValue)],
        interpreter: JinjaInterpreter, line: Int
    ) throws -> JinjaValue {
        let args = JinjaCallArguments(positional: positional, keywords: keywords, function: name, line: line)
        func requireDefined() throws {
            if case let .undefined(hint) = value { throw TemplateError.undefined(hint, line: line) }
        }
        switch name {
        case "trim":
            let chars = try args.optionalString(0, "chars")
            return .string(pythonStrip(try value.pythonString, chars: chars, leading: true, trailing: true))
        case "upper": return .string(try value.pythonString.uppercased())
        case "lower": return .string(try value.pythonString.lowercased())
        case "capitalize": return .string(pythonCapitalize(try value.pythonString))
        case "title": return .string(jinjaTitle(try value.pythonString))
        case "string": return .string(try value.pythonString)
        case "safe": return value
        case "e", "escape": return .string(htmlEscape(try value.pythonString))
        case "length", "count":
            return .int(try length(of: value, line: line))
        case "default", "d":
            let fallback = args.get(0, "default_value") ?? .string("")
            let useBoolean = args.bool(1, "boolean", default: false)
            if value.isUndefined || (useBoolean && !value.truthy) { return fallback }
            return value
        case "tojson":
            return .string(try pythonJSONDumps(value, args: args))
        case "items":
            switch value {
            case .undefined: return .list([])
            case let .dict(d): return .list(d.entries.map { .list([.string($0.key), $0.value]) })
            default: throw TemplateError.runtime("Can only get item pairs from a mapping.", line: line)
            }
        case "join":
            let separator = try args.string(0, "d", default: "")
            var items = try interpreter.iterate(value, line: line)
            if let attribute = args.get(1, "attribute") {
                items = try items.map { try lookupPath($0, attribute, interpreter: interpreter, line: line) }
            }
            let parts = try items.map { try $0.pythonString }
            let bytes = parts.reduce(0) { $0 + $1.utf8.count } + max(0, parts.count - 1) * separator.utf8.count
            try JinjaOperators.checkStringSize(bytes, line: line)
            return .string(parts.joined(separator: separator))
        case "first":
            let items = try interpreter.iterate(value, line: line)
            return items.first ?? .undefined(hint: "No first item, sequence was empty.")
        case "last":
            try requireDefined()
            let items = try interpreter.iterate(value, line: line)
            return items.last ?? .undefined(hint: "No last item, sequence was empty.")
        case "list":
            return .list(try interpreter.iterate(value, line: line))
        case "reverse":
            if case let .string(s) = value { return .string(String(String.UnicodeScalarView(s.unicodeScalars.reversed()))) }
            return .list(try interpreter.iterate(value, line: line).reversed())
        case "int":
            let fallback = args.get(0, "default") ?? .int(0)
            let base = try args.int(1, "base", default: 10)
            guard (2...36).contains(base) else { throw args.error("base must be between 2 and 36") }
            return pythonInt(value, base: base) ?? fallback
        case "float":
            let fallback = args.get(0, "default") ?? .double(0)
            return pythonFloat(value).map(JinjaValue.double) ?? fallback
        case "abs":
            switch value {
            case let .int(i) where i != Int.min: return .int(abs(i))
            case let .bool(b): return .int(b ? 1 : 0)
            case let .double(d): return .double(abs(d))
            default: throw TemplateError.runtime("bad operand type for abs(): '\(value.typeName)'", line: line)
            }
        case "round":
            guard let number = value.number else { throw TemplateError.runtime("round: value must be a number", line: line) }
            let precision = try args.int(0, "precision", default: 0)
            let method = try args.string(1, "method", default: "common")
            let scale = pow(10.0, Double(precision))
            let rule: FloatingPointRoundingRule
            switch method {
            case "common": rule = .toNearestOrEven
            case "ceil": rule = .up
            case "floor": rule = .down
            default: throw TemplateError.runtime("method must be common, ceil or floor", line: line)
            }
            return .double((number * scale).rounded(rule) / scale)
        case "replace":
            let old = try args.string(0, "old", default: "")
            let new = try args.string(1, "new", default: "")
            let count = try args.get(2, "count").flatMap { $0.isNone ? nil : $0 }.map { v -> Int in
                guard let i = v.integer else { throw args.error("count must be an integer") }
                return i
            }
            return .string(try pythonReplace(try value.pythonString, old, new, count: count ?? -1))
        case "indent":
            let width: String
            switch args.get(0, "width") {
            case let .string(s)?: width = s
            case let v?:
                let count = v.integer ?? 4
                try JinjaOperators.checkSize(1, times: count, line: line)
                width = String(repeating: " ", count: max(0, count))
            case nil: width = "    "
            }
            let indentFirst = args.bool(1, "first", default: false)
            let indentBlank = args.bool(2, "blank", default: false)
            var lines = try value.pythonString.components(separatedBy: "\n")
            try JinjaOperators.checkStringSize(lines.reduce(0) { $0 + $1.utf8.count + 1 + width.utf8.count }, line: line)
            for index in lines.indices where (index > 0 || indentFirst) && (indentBlank || !lines[index].isEmpty) {
                lines[index] = width + lines[index]
            }
            return .string(lines.joined(separator: "\n"))
        case "wordcount":
            let words = try value.pythonString.split { !($0.isLetter || $0.isNumber || $0 == "_") }
            return .int(words.count)
        case "unique":
            let caseSensitive = args.bool(0, "case_sensitive", default: false)
            let attribute = args.get(1, "attribute")
            var seen: [JinjaValue] = []
            var result: [JinjaValue] = []
            for item in try interpreter.iterate(value, line: line) {
                var key = try attribute.map { try lookupPath(item, $0, interpreter: interpreter, line: line) } ?? item
                if !caseSensitive, case let .string(s) = key { key = .string(s.lowercased()) }
                if !(try seen.contains(where: { try pythonEqual($0, key, budget: interpreter.comparisons, line: line) })) {
                    seen.append(key)
                    result.append(item)
                }
            }
            return .list(result)
        case "sort", "dictsort", "min", "max", "sum":
            return try aggregate(name, value, args: args, interpreter: interpreter, line: line)
        case "select", "reject", "selectattr", "rejectattr":
            let byAttribute = name.hasSuffix("attr")
            let keep = name.hasPrefix("select")
            let rest = byAttribute ? Array(positional.dropFirst()) : positional
            guard !byAttribute || !positional.isEmpty else { throw args.error("missing attribute name") }
            var result: [JinjaValue] = []
            for item in try interpreter.iterate(value, line: line) {
                let subject = byAttribute ? try lookupPath(item, positional[0], interpreter: interpreter, line: line) : item
                let passed: Bool
                if case let .string(test)? = rest.first {
                    guard testNames.contains(test) else { throw TemplateError.unsupported("test '\(test)'", line: line) }
                    passed = try applyTest(test, subject, Array(rest.dropFirst()), interpreter: interpreter, line: line)
                } else {
                    passed = subject.truthy
                }
                if passed == keep { result.append(item) }
            }
            return .list(result)
        case "map":
            let items = try interpreter.iterate(value, line: line)
            if let attribute = keywords.last(where: { $0.name == "attribute" })?.value {
                let fallback = keywords.last { $0.name == "default" }?.value
                return .list(try items.map { item in
                    let found = try lookupPath(item, attribute, interpreter: interpreter, line: line)
                    if found.isUndefined, let fallback { return fallback }
                    return found
                })
            }
            guard case let .string(filter)? = positional.first else { throw args.error("expects a filter name or attribute=") }
            guard filterNames.contains(filter) else { throw TemplateError.unsupported("filter '\(filter)'", line: line) }
            return .list(try items.map {
                try applyFilter(filter, $0, Array(positional.dropFirst()), keywords, interpreter: interpreter, line: line)
            })
        default:
            throw TemplateError.unsupported("filter '\(name)'", line: line)
        }
    }

    private static func aggregate(_ name: String, _ value: JinjaValue, args: JinjaCallArguments, interpreter: JinjaInterpreter, line: Int) throws -> JinjaValue {
        if name == "dictsort" {
            guard case let .dict(d) = value else { throw TemplateError.runtime("dictsort: expected a mapping", line: line) }
            let caseSensitive = args.bool(0, "case_sensitive", default: false)
            let byValue = (try args.string(1, "by", default: "key")) == "value"
            let reverse = args.bool(2, "reverse", default: false)
            let pairs = d.entries.map { JinjaValue.list([.string($0.key), $0.value]) }
            let sorted = try sortValues(pairs, reverse: reverse, budget: interpreter.comparisons, line: line) { pair in
                guard case let .list(kv) = pair else { return pair }
                let key = kv[byValue ? 1 : 0]
                if !caseSensitive, case let .string(s) = key { return .string(s.lowercased()) }
                return key
            }
            return .list(sorted)
        }
        let items = try interpreter.iterate(value, line: line)
        let attributeIndex = name == "sort" ? 2 : (name == "sum" ? 0 : 1)
        let attribute = args.get(attributeIndex, "attribute")
        func key(_ item: JinjaValue) throws -> JinjaValue {
            var k = try attribute.map { try lookupPath(item, $0, interpreter: interpreter, line: line) } ?? item
            let caseSensitive = name == "sort" ? args.bool(1, "case_sensitive", default: false)
                : args.bool(0, "case_sensitive", default: false)
            if name != "sum", !caseSensitive, case let .string(s) = k { k = .string(s.lowercased()) }
            return k
        }
        switch name {
        case "sort":
            return .list(try sortValues(items, reverse: args.bool(0, "reverse", default: false), budget: interpreter.comparisons, line: line, key: key))
        case "sum":
            var total = args.get(1, "start") ?? .int(0)
            for item in items { total = try JinjaOperators.arithmetic("+", total, try key(item), line: line) }
            return total
        default:
            guard !items.isEmpty else { return .undefined(hint: "No aggregated item, sequence was empty.") }
            var best = items[0]
            var bestKey = try key(best)
            for item in items.dropFirst() {
                let k = try key(item)
                let order = try JinjaOperators.ordering(k, bestKey, op: "<", budget: interpreter.comparisons, line: line)
                if name == "min" ? order < 0 : order > 0 {
                    best = item
                    bestKey = k
                }
            }
            return best
        }
    }

    /// Stable sort by a key under Python ordering; type errors surface instead of crashing.
    private static func sortValues(_ items: [JinjaValue], reverse: Bool, budget: ComparisonBudget, line: Int, key: (JinjaValue) throws -> JinjaValue) throws -> [JinjaValue] {
        let keyed = try items.enumerated().map { (offset: $0.offset, key: try key($0.element), item: $0.element) }
        var failure: Error? = nil
        let sorted = keyed.sorted { a, b in
            do {
                let order = try JinjaOperators.ordering(a.key, b.key, op: "<", budget: budget, line: line)
                if order == 0 { return a.offset < b.offset }
                return reverse ? order > 0 : order < 0
            } catch {
                failure = error
                return a.offset < b.offset
            }
        }
        if let failure { throw failure }
        return sorted.map(\.item)
    }

    /// Jinja's attribute getter for `map(attribute=)`, `selectattr` etc.: dotted paths, with
    /// integer parts as indexes.
    static func lookupPath(_ item: JinjaValue, _ path: JinjaValue, interpreter: JinjaInterpreter, line: Int) throws -> JinjaValue {
        if let index = path.integer { return try interpreter.getItem(item, .int(index), line: line) }
        guard case let .string(text) = path else { return .undefined(hint: "invalid attribute") }
        var current = item
        for part in text.split(separator: ".", omittingEmptySubsequences: false) {
            let key: JinjaValue = Int(part).map(JinjaValue.int) ?? .string(String(part))
            current = try interpreter.getItem(current, key, line: line)
        }
        return current
    }

    static func length(of value: JinjaValue, line: Int) throws -> Int {
        switch value {
        case .undefined: return 0
        case let .string(s): return s.unicodeScalars.count
        case let .list(items): return items.count
        case let .dict(d): return d.count
        default: throw TemplateError.runtime("object of type '\(value.typeName)' has no len()", line: line)
        }
    }

    // MARK: tests

    static func applyTest(_ name: String, _ value: JinjaValue, _ args: [JinjaValue], interpreter: JinjaInterpreter, line: Int) throws -> Bool {
        func argument() throws -> JinjaValue {
            guard let first = args.first else { throw TemplateError.runtime("test '\(name)' needs an argument", line: line) }
            return first
        }
        switch name {
        case "defined": return !value.isUndefined
        case "undefined": return value.isUndefined
        case "none": if case .none = value { return true } else { return false }
        case "boolean": if case .bool = value { return true } else { return false }
        case "true": if case .bool(true) = value { return true } else { return false }
        case "false": if case .bool(false) = value { return true } else { return false }
        case "integer": if case .int = value { return true } else { return false }
        case "float": if case .double = value { return true } else { return false }
        case "number": return value.number != nil
        case "string": if case .string = value { return true } else { return false }
        case "mapping": if case .dict = value { return true } else { return false }
        case "callable": if case .function = value { return true } else { return false }
        case "escaped": return false
        // Jinja's Undefined defines __iter__, __len__ and __getitem__, so it counts as both.
        case "iterable":
            switch value {
            case .undefined, .string, .list, .dict: return true
            default: return false
            }
        case "sequence":
            switch value {
            case .undefined, .string, .list, .dict: return true
            default: return false
            }
        case "lower":
            guard case let .string(s) = value else { return false }
            return s == s.lowercased() && s != s.uppercased()
        case "upper":
            guard case let .string(s) = value else { return false }
            return s == s.uppercased() && s != s.lowercased()
        case "even", "odd":
            guard let i = value.integer else { throw TemplateError.runtime("test '\(name)' needs an integer", line: line) }
            return (i % 2 == 0) == (name == "even")
        case "divisibleby":
            guard let i = value.integer, let n = try argument().integer, n != 0 else {
                throw TemplateError.runtime("divisibleby needs non-zero integers", line: line)
            }
            // Every integer is divisible by -1; `Int.min % -1` would trap, as in JinjaOperators' `%`.
            guard n != -1 else { return true }
            return i % n == 0
        case "eq", "equalto", "==": return try pythonEqual(value, try argument(), budget: interpreter.comparisons, line: line)
        case "ne", "!=": return !(try pythonEqual(value, try argument(), budget: interpreter.comparisons, line: line))
        case "sameas":
            let other = try argument()
            switch (value, other) {
            case (.none, .none): return true
            case let (.bool(a), .bool(b)): return a == b
            case let (.namespace(a), .namespace(b)): return a === b
            default: return false
            }
        case "lt", "lessthan", "<": return try JinjaOperators.compare("<", value, try argument(), budget: interpreter.comparisons, line: line)
        case "le", "<=": return try JinjaOperators.compare("<=", value, try argument(), budget: interpreter.comparisons, line: line)
        case "gt", "greaterthan", ">": return try JinjaOperators.compare(">", value, try argument(), budget: interpreter.comparisons, line: line)
        case "ge", ">=": return try JinjaOperators.compare(">=", value, try argument(), budget: interpreter.comparisons, line: line)
        case "in": return try JinjaOperators.contains(try argument(), value, budget: interpreter.comparisons, line: line)
        case "filter":
            guard case let .string(s) = value else { return false }
            return filterNames.contains(s)
        case "test":
            guard case let .string(s) = value else { return false }
            return testNames.contains(s)
        default:
            throw TemplateError.unsupported("test '\(name)'", line: line)
        }
    }

    // MARK: methods

    /// Read-only Python `dict` methods (the sandbox forbids the mutating ones).
    static func dictMethod(_ dict: JinjaDict, _ name: String) -> JinjaValue? {
        switch name {
        case "items":
            return .function(JinjaFunction(name: "items") { _, _, _ in .list(dict.entries.map { .list([.string($0.key), $0.value]) }) })
        case "keys":
            return .function(JinjaFunction(name: "keys") { _, _, _ in .list(dict.keys.map(JinjaValue.string)) })
        case "values":
            return .function(JinjaFunction(name: "values") { _, _, _ in .list(dict.values) })
        case "get":
            return .function(JinjaFunction(name: "get") { _, args, _ in
                guard case let .string(key)? = args.first else { return args.count > 1 ? args[1] : .none }
                return dict[key] ?? (args.count > 1 ? args[1] : .none)
            })
        default:
            return nil
        }
    }

    static let stringMethodNames: Set<String> = [
        "strip", "lstrip", "rstrip", "split", "rsplit", "splitlines", "startswith", "endswith", "replace", "upper", "lower",
        "title", "capitalize", "find", "rfind", "count", "join", "isdigit", "isalpha", "isalnum", "isspace", "isupper",
        "islower", "format",
    ]

    /// Python `str` methods as bound functions.
    static func stringMethod(_ s: String, _ name: String) -> JinjaValue? {
        guard stringMethodNames.contains(name) else { return nil }
        return .function(JinjaFunction(name: name) { _, positional, keywords in
            let args = JinjaCallArguments(positional: positional, keywords: keywords, function: "str.\(name)", line: 0)
            return try callStringMethod(s, name, args)
        })
    }

    private static func callStringMethod(_ s: String, _ name: String, _ args: JinjaCallArguments) throws -> JinjaValue {
        switch name {
        case "strip", "lstrip", "rstrip":
            let chars = try args.optionalString(0, "chars")
            return .string(pythonStrip(s, chars: chars, leading: name != "rstrip", trailing: name != "lstrip"))
        case "split", "rsplit":
            let separator = try args.optionalString(0, "sep")
            let maxSplit = try args.int(1, "maxsplit", default: -1)
            return .list(pythonSplit(s, separator: separator, maxSplit: maxSplit, fromRight: name == "rsplit").map(JinjaValue.string))
        case "splitlines":
            return .list(s.split(omittingEmptySubsequences: false) { $0.isNewline }.map { .string(String($0)) }.dropLast(s.last?.isNewline == true ? 1 : 0))
        case "startswith", "endswith":
            let candidates: [String]
            switch args.get(0, "prefix") {
            case let .string(p)?: candidates = [p]
            case let .list(items)?: candidates = items.compactMap { if case let .string(p) = $0 { return p } else { return nil } }
            default: throw args.error("expects a string or tuple of strings")
            }
            let scalars = Array(s.unicodeScalars)
            return .bool(candidates.contains { candidate in
                let c = Array(candidate.unicodeScalars)
                guard c.count <= scalars.count else { return false }
                return name == "startswith" ? Array(scalars.prefix(c.count)) == c : Array(scalars.suffix(c.count)) == c
            })
        case "replace":
            let old = try args.string(0, "old", default: "")
            let new = try args.string(1, "new", default: "")
            return .string(try pythonReplace(s, old, new, count: try args.int(2, "count", default: -1)))
        case "upper": return .string(s.uppercased())
        case "lower": return .string(s.lowercased())
        case "title": return .string(pythonTitle(s))
        case "capitalize": return .string(pythonCapitalize(s))
        case "find", "rfind", "count":
            // One linear scan over code points (Python counts non-overlapping matches; `rfind`
            // is the last match, which may overlap an earlier one).
            let needle = Array(try args.string(0, "sub", default: "").unicodeScalars)
            let haystack = Array(s.unicodeScalars)
            if needle.isEmpty {
                switch name {
                case "count": return .int(haystack.count + 1)
                case "find": return .int(0)
                default: return .int(haystack.count)
                }
            }
            var count = 0
            var first = -1
            var last = -1
            forEachScalarMatch(needle, in: haystack, overlapping: name == "rfind") { start in
                count += 1
                if first < 0 { first = start }
                last = start
                return name != "find"
            }
            switch name {
            case "count": return .int(count)
            case "find": return .int(first)
            default: return .int(last)
            }
        case "join":
            guard case let .list(items)? = args.get(0, "iterable") else { throw args.error("expects a list") }
            var parts: [String] = []
            for item in items {
                guard case let .string(part) = item else { throw args.error("sequence item: expected str instance, \(item.typeName) found") }
                parts.append(part)
            }
            return .string(parts.joined(separator: s))
        case "isdigit": return .bool(!s.isEmpty && s.unicodeScalars.allSatisfy { $0.properties.numericType != nil })
        case "isalpha": return .bool(!s.isEmpty && s.unicodeScalars.allSatisfy { $0.properties.isAlphabetic })
        case "isalnum": return .bool(!s.isEmpty && s.unicodeScalars.allSatisfy { $0.properties.isAlphabetic || $0.properties.numericType != nil })
        case "isspace": return .bool(!s.isEmpty && s.unicodeScalars.allSatisfy(isPythonWhitespace))
        case "isupper": return .bool(s == s.uppercased() && s != s.lowercased())
        case "islower": return .bool(s == s.lowercased() && s != s.uppercased())
        default:
            throw TemplateError.unsupported("string method '\(name)'", line: args.line)
        }
    }
}

extension JinjaValue {
    var isNone: Bool {
        if case .none = self { return true }
        return false
    }
}
