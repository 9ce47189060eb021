/// Runtime values: the JSON data model plus what only exists while rendering
/// (Jinja's `Undefined`, namespaces, callables). Semantics follow Python, because chat
/// templates are written against Python's truthiness, equality and `str()`.

/// Mutable attribute bag from `namespace(...)`; a class because `{% set ns.x = … %}` inside a
/// loop must be visible outside it (Jinja namespaces are shared references).
final class JinjaNamespace {
    var attributes: JinjaDict
    init(_ attributes: JinjaDict) { self.attributes = attributes }
}

/// A callable: global function, macro, bound string/dict method or `loop.cycle`.
struct JinjaFunction {
    let name: String
    let body: (JinjaInterpreter, [JinjaValue], [(name: String, value: JinjaValue)]) throws -> JinjaValue
}

/// Insertion-ordered dict with string keys (Python dicts built from JSON or literals).
struct JinjaDict {
    private(set) var keys: [String] = []
    private var storage: [String: JinjaValue] = [:]

    init() {}

    var count: Int { keys.count }
    var isEmpty: Bool { keys.isEmpty }

    subscript(key: String) -> JinjaValue? {
        get { storage[key] }
        set {
            guard let newValue else {
                if storage.removeValue(forKey: key) != nil { keys.removeAll { $0 == key } }
                return
            }
            if storage.updateValue(newValue, forKey: key) == nil { keys.append(key) }
        }
    }

    var entries: [(key: String, value: JinjaValue)] { keys.compactMap { k in storage[k].map { (k, $0) } } }
    var values: [JinjaValue] { keys.compactMap { storage[$0] } }
}

enum JinjaValue {
    /// Jinja's default `Undefined`: prints as "", is falsy and iterates as empty; most other
    /// uses raise. `hint` is the message Jinja would raise with.
    case undefined(hint: String)
    case none
    case bool(Bool)
    case int(Int)
    case double(Double)
    case string(String)
    case list([JinjaValue])
    case dict(JinjaDict)
    case namespace(JinjaNamespace)
    case function(JinjaFunction)

    init(_ value: TemplateValue) {
        switch value {
        case .null: self = .none
        case let .bool(b): self = .bool(b)
        case let .int(i): self = .int(i)
        case let .double(d): self = .double(d)
        case let .string(s): self = .string(s)
        case let .array(items): self = .list(items.map(JinjaValue.init))
        case let .object(object):
            var dict = JinjaDict()
            for (key, item) in object.entries { dict[key] = JinjaValue(item) }
            self = .dict(dict)
        }
    }

    static func undefinedName(_ name: String) -> JinjaValue { .undefined(hint: "'\(name)' is undefined") }

    var isUndefined: Bool {
        if case .undefined = self { return true }
        return false
    }

    /// Python truthiness.
    var truthy: Bool {
        switch self {
        case .undefined, .none: return false
        case let .bool(b): return b
        case let .int(i): return i != 0
        case let .double(d): return d != 0
        case let .string(s): return !s.isEmpty
        case let .list(items): return !items.isEmpty
        case let .dict(d): return !d.isEmpty
        case .namespace, .function: return true
        }
    }

    /// Python type name, for error messages matching Python's wording.
    var typeName: String {
        switch self {
        case .undefined: return "Undefined"
        case .none: return "NoneType"
        case .bool: return "bool"
        case .int: return "int"
        case .double: return "float"
        case .string: return "str"
        case .list: return "list"
        case .dict: return "dict"
        case .namespace: return "Namespace"
        case .function: return "function"
        }
    }

    /// Python `str()` as Jinja prints `{{ value }}` (undefined prints as nothing).
    /// Throws when the value is nested too deeply or its text would exceed the string cap.
    var pythonString: String {
        get throws {
            switch self {
            case .undefined: return ""
            case let .string(s): return s
            default: return try pythonRepr
            }
        }
    }

    /// Python `repr()`, used for items inside printed lists and dicts.
    ///
    /// A namespace that is already being printed further up prints as `<Namespace {...}>`, as
    /// Python's `reprlib` guard on the namespace's attribute dict does (jinja2 3.1.6 prints
    /// `{% set ns.me = ns %}{{ ns }}` as `<Namespace {'me': <Namespace {...}>}>`). Lists and dicts
    /// are values here, so only namespaces can close a cycle. Depth and length are capped.
    var pythonRepr: String {
        get throws {
            var printer = JinjaReprPrinter()
            try printer.write(self, depth: 0)
            return printer.out
        }
    }
    /// Numeric view for arithmetic and comparisons (Python bools are ints).
    var number: Double? {
        switch self {
        case let .bool(b): return b ? 1 : 0
        case let .int(i): return Double(i)
        case let .double(d): return d
        default: return nil
        }
    }

    var integer: Int? {
        switch self {
        case let .bool(b): return b ? 1 : 0
        case let .int(i): return i
        default: return nil
        }
    }
}

/// Limits on values built or printed during one render, so a hostile template gets a
/// `TemplateError` instead of exhausting memory or the stack.
enum JinjaLimits {
    /// Largest string (UTF-8 bytes) a concatenation, filter or print may produce.
    static let maxStringBytes = 64 << 20
    /// Largest list a concatenation may produce.
    static let maxListCount = 16 << 20
    /// Largest rendered output (UTF-8 bytes), also for `{% set %}` / `{% filter %}` captures and macros.
    static let maxOutputBytes = 64 << 20
    /// Loop iterations (`for` bodies and `for … if` filters) per render.
    static let maxIterations = 10_000_000
    /// Deepest list/dict/namespace nesting a value may be printed, serialized or stored with.
    static let maxValueDepth = 500
    /// Most containers checked when storing a value in a namespace attribute.
    static let maxCheckedContainers = 4_000_000
    /// Work units (one per value visited, plus one per 64 bytes of string compared or searched) that
    /// all comparisons and membership tests of one render may spend: lists that share themselves
    /// (`{% set a = [a, a] %}` thirty times) are small to build but exponential to compare.
    static let maxComparisonWork = 4_000_000
}

/// The comparison work left in one render (`JinjaLimits.maxComparisonWork`), shared by `==`, `!=`,
/// ordering, `in` and the filters and tests that compare (`unique`, `sort`, `min`, `max`, `eq`, ...).
final class ComparisonBudget {
    private(set) var remaining: Int
    let limit: Int

    init(limit: Int = JinjaLimits.maxComparisonWork) {
        self.limit = limit
        remaining = limit
    }

    /// Spends `units`; throws once the render has spent more than its limit.
    func spend(_ units: Int, line: Int) throws {
        remaining -= units
        if remaining < 0 {
            throw TemplateError.runtime("comparisons in this render visited more than \(limit) values (or 64-byte string chunks)", line: line)
        }
    }

    /// The cost of comparing or searching a string of `bytes` UTF-8 bytes.
    static func stringCost(_ bytes: Int) -> Int { 1 + bytes >> 6 }
}

/// Builds `repr()` text with a cycle guard for namespaces and the depth/size limits.
private struct JinjaReprPrinter {
    var out = ""
    var active: [ObjectIdentifier] = []

    mutating func write(_ value: JinjaValue, depth: Int) throws {
        guard depth <= JinjaLimits.maxValueDepth else {
            throw TemplateError.runtime("value nested too deeply to print (more than \(JinjaLimits.maxValueDepth) levels)", line: 0)
        }
        switch value {
        case .undefined: break
        case .none: out += "None"
        case let .bool(b): out += b ? "True" : "False"
        case let .int(i): out += String(i)
        case let .double(d): out += formatPythonFloat(d)
        case let .string(s): out += pythonStringRepr(s)
        case let .list(items):
            out += "["
            for (index, item) in items.enumerated() {
                if index > 0 { out += ", " }
                try write(item, depth: depth + 1)
                try checkSize()
            }
            out += "]"
        case let .dict(d):
            try writeDict(d, depth: depth)
        case let .namespace(ns):
            let id = ObjectIdentifier(ns)
            if active.contains(id) {
                out += "<Namespace {...}>"
                return
            }
            active.append(id)
            defer { active.removeLast() }
            out += "<Namespace "
            try writeDict(ns.attributes, depth: depth)
            out += ">"
        case let .function(f): out += "<function \(f.name)>"
        }
        try checkSize()
    }

    private mutating func writeDict(_ d: JinjaDict, depth: Int) throws {
        out += "{"
        for (index, entry) in d.entries.enumerated() {
            if index > 0 { out += ", " }
            out += pythonStringRepr(entry.key) + ": "
            try write(entry.value, depth: depth + 1)
            try checkSize()
        }
        out += "}"
    }

    private func checkSize() throws {
        if out.utf8.count > JinjaLimits.maxStringBytes {
            throw TemplateError.runtime("printed value larger than the \(JinjaLimits.maxStringBytes >> 20) MiB string limit", line: 0)
        }
    }
}

/// How deeply lists and dicts nest inside `value` (namespaces count as leaves: their own
/// attributes were checked when stored). Throws past `JinjaLimits.maxValueDepth`, or when more
/// than `JinjaLimits.maxCheckedContainers` containers would have to be visited.
func checkStorableDepth(_ value: JinjaValue, line: Int) throws {
    var visited = 0
    func visit(_ value: JinjaValue, _ depth: Int) throws {
        let children: [JinjaValue]
        switch value {
        case let .list(items): children = items
        case let .dict(d): children = d.values
        default: return
        }
        visited += 1
        guard depth < JinjaLimits.maxValueDepth else {
            throw TemplateError.runtime("value nested too deeply (more than \(JinjaLimits.maxValueDepth) levels)", line: line)
        }
        guard visited <= JinjaLimits.maxCheckedContainers else {
            throw TemplateError.runtime("value has more than \(JinjaLimits.maxCheckedContainers) nested containers", line: line)
        }
        for child in children { try visit(child, depth + 1) }
    }
    try visit(value, 0)
}

/// Python `==`: numbers compare by value across int/float/bool, strings by code points
/// (not Swift's canonical equivalence), containers element-wise, undefined equals undefined.
/// Every value visited is charged to `budget`, so comparing huge (self-sharing) values ends in a
/// `TemplateError` instead of running without bound.
func pythonEqual(_ a: JinjaValue, _ b: JinjaValue, budget: ComparisonBudget, line: Int) throws -> Bool {
    try budget.spend(1, line: line)
    switch (a, b) {
    case (.undefined, .undefined), (.none, .none): return true
    case let (.string(x), .string(y)):
        try budget.spend(ComparisonBudget.stringCost(min(x.utf8.count, y.utf8.count)), line: line)
        return x.unicodeScalars.elementsEqual(y.unicodeScalars)
    case let (.list(x), .list(y)):
        guard x.count == y.count else { return false }
        for (l, r) in zip(x, y) where !(try pythonEqual(l, r, budget: budget, line: line)) { return false }
        return true
    case let (.dict(x), .dict(y)):
        guard x.count == y.count else { return false }
        for entry in x.entries {
            guard let other = y[entry.key], try pythonEqual(entry.value, other, budget: budget, line: line) else { return false }
        }
        return true
    case let (.namespace(x), .namespace(y)): return x === y
    default:
        if let x = a.integer, let y = b.integer { return x == y }
        if let x = a.number, let y = b.number { return x == y }
        return false
    }
}

/// Python's `repr(str)`: single quotes unless the text has `'` and no `"`.
func pythonStringRepr(_ s: String) -> String {
    let quote: Character = s.contains("'") && !s.contains("\"") ? "\"" : "'"
    var out = String(quote)
    for scalar in s.unicodeScalars {
        switch scalar {
        case "\\": out += "\\\\"
        case "\n": out += "\\n"
        case "\r": out += "\\r"
        case "\t": out += "\\t"
        default:
            if Character(scalar) == quote {
                out += "\\" + String(quote)
            } else if scalar.value < 0x20 || scalar.value == 0x7F || (scalar.value >= 0x80 && scalar.value < 0xA0) {
                out += "\\x" + pythonHex(scalar.value, width: 2)
            } else {
                out.unicodeScalars.append(scalar)
            }
        }
    }
    out.append(quote)
    return out
}

func pythonHex(_ value: UInt32, width: Int) -> String {
    let digits = String(value, radix: 16)
    return String(repeating: "0", count: max(0, width - digits.count)) + digits
}

/// Python `repr(float)`: the shortest round-tripping digits (which Swift's `description` also
/// produces), laid out the Python way: positional for 1e-4 <= |x| < 1e16, otherwise
/// `d.ddde±XX`; always with a `.0` or exponent so it reads back as a float.
func formatPythonFloat(_ value: Double) -> String {
    if value.isNaN { return "nan" }
    if value.isInfinite { return value < 0 ? "-inf" : "inf" }
    if value == 0 { return value.sign == .minus ? "-0.0" : "0.0" }
    // Decompose Swift's shortest representation into digits and a decimal exponent.
    var text = "\(value.magnitude)"
    var exponent = 0
    if let e = text.firstIndex(where: { $0 == "e" || $0 == "E" }) {
        exponent = Int(text[text.index(after: e)...]) ?? 0
        text = String(text[..<e])
    }
    let parts = text.split(separator: ".", omittingEmptySubsequences: false)
    let intPart = String(parts[0])
    let fracPart = parts.count > 1 ? String(parts[1]) : ""
    var digits = intPart + fracPart
    // Value = 0.digits * 10^(pointPos)
    var pointPos = intPart.count + exponent
    while digits.hasPrefix("0") && digits.count > 1 {
        digits.removeFirst()
        pointPos -= 1
    }
    while digits.hasSuffix("0") && digits.count > 1 { digits.removeLast() }
    let sign = value < 0 ? "-" : ""
    let sciExponent = pointPos - 1
    if sciExponent < -4 || sciExponent >= 16 {
        var mantissa = String(digits.first ?? "0")
        if digits.count > 1 { mantissa += "." + digits.dropFirst() }
        let expSign = sciExponent < 0 ? "-" : "+"
        let expDigits = String(abs(sciExponent))
        return sign + mantissa + "e" + expSign + (expDigits.count < 2 ? "0" + expDigits : expDigits)
    }
    if pointPos <= 0 {
        return sign + "0." + String(repeating: "0", count: -pointPos) + digits
    }
    if pointPos >= digits.count {
        return sign + digits + String(repeating: "0", count: pointPos - digits.count) + ".0"
    }
    let index = digits.index(digits.startIndex, offsetBy: pointPos)
    return sign + digits[..<index] + "." + digits[index...]
}

/// Python `str.isspace()` characters, for `strip()`/`split()`/`trim`.
func isPythonWhitespace(_ scalar: Unicode.Scalar) -> Bool {
    switch scalar.value {
    case 0x09...0x0D, 0x1C...0x20, 0x85, 0xA0, 0x1680, 0x2000...0x200A, 0x2028, 0x2029, 0x202F, 0x205F, 0x3000:
        return true
    default:
        return false
    }
}
