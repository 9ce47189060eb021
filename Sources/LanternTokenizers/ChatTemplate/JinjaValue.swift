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
    var pythonString: String {
        switch self {
        case .undefined: return ""
        case let .string(s): return s
        default: return pythonRepr
        }
    }

    /// Python `repr()`, used for items inside printed lists and dicts.
    var pythonRepr: String {
        switch self {
        case .undefined: return ""
        case .none: return "None"
        case let .bool(b): return b ? "True" : "False"
        case let .int(i): return String(i)
        case let .double(d): return formatPythonFloat(d)
        case let .string(s): return pythonStringRepr(s)
        case let .list(items): return "[" + items.map(\.pythonRepr).joined(separator: ", ") + "]"
        case let .dict(d):
            return "{" + d.entries.map { pythonStringRepr($0.key) + ": " + $0.value.pythonRepr }.joined(separator: ", ") + "}"
        case let .namespace(ns):
            return "<Namespace " + JinjaValue.dict(ns.attributes).pythonRepr + ">"
        case let .function(f): return "<function \(f.name)>"
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

/// Python `==`: numbers compare by value across int/float/bool, strings by code points
/// (not Swift's canonical equivalence), containers element-wise, undefined equals undefined.
func pythonEqual(_ a: JinjaValue, _ b: JinjaValue) -> Bool {
    switch (a, b) {
    case (.undefined, .undefined), (.none, .none): return true
    case let (.string(x), .string(y)): return x.unicodeScalars.elementsEqual(y.unicodeScalars)
    case let (.list(x), .list(y)): return x.count == y.count && zip(x, y).allSatisfy { pythonEqual($0, $1) }
    case let (.dict(x), .dict(y)):
        guard x.count == y.count else { return false }
        return x.entries.allSatisfy { entry in y[entry.key].map { pythonEqual(entry.value, $0) } ?? false }
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
