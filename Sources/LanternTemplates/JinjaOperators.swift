import Foundation

/// Python semantics for binary operators, comparisons and membership.
enum JinjaOperators {
    static func arithmetic(_ op: String, _ a: JinjaValue, _ b: JinjaValue, line: Int) throws -> JinjaValue {
        if case let .undefined(hint) = a { throw TemplateError.undefined(hint, line: line) }
        if case let .undefined(hint) = b { throw TemplateError.undefined(hint, line: line) }
        func unsupported() -> TemplateError {
            .runtime("unsupported operand type(s) for \(op): '\(a.typeName)' and '\(b.typeName)'", line: line)
        }
        func overflow() -> TemplateError { .runtime("integer overflow in '\(op)'", line: line) }
        switch op {
        case "+":
            switch (a, b) {
            case let (.string(x), .string(y)):
                try checkStringSize(x.utf8.count + y.utf8.count, line: line)
                return .string(x + y)
            case let (.list(x), .list(y)):
                try checkListSize(x.count + y.count, line: line)
                return .list(x + y)
            case (.string, _), (.list, _):
                throw TemplateError.runtime("can only concatenate \(a.typeName) (not \"\(b.typeName)\") to \(a.typeName)", line: line)
            default: break
            }
            if let x = a.integer, let y = b.integer {
                let (sum, over) = x.addingReportingOverflow(y)
                if over { throw overflow() }
                return .int(sum)
            }
            if let x = a.number, let y = b.number { return .double(x + y) }
            throw unsupported()
        case "-":
            if let x = a.integer, let y = b.integer {
                let (difference, over) = x.subtractingReportingOverflow(y)
                if over { throw overflow() }
                return .int(difference)
            }
            if let x = a.number, let y = b.number { return .double(x - y) }
            throw unsupported()
        case "*":
            switch (a, b) {
            case let (.string(text), n), let (n, .string(text)):
                if let count = n.integer {
                    try checkSize(text.utf8.count, times: count, line: line)
                    return .string(count > 0 ? String(repeating: text, count: count) : "")
                }
            case let (.list(items), n), let (n, .list(items)):
                if let count = n.integer {
                    try checkSize(items.count, times: count, line: line)
                    return .list(count > 0 ? Array([[JinjaValue]](repeating: items, count: count).joined()) : [])
                }
            default: break
            }
            if let x = a.integer, let y = b.integer {
                let (product, over) = x.multipliedReportingOverflow(by: y)
                if over { throw overflow() }
                return .int(product)
            }
            if let x = a.number, let y = b.number { return .double(x * y) }
            throw unsupported()
        case "/":
            guard let x = a.number, let y = b.number else { throw unsupported() }
            guard y != 0 else { throw TemplateError.runtime("division by zero", line: line) }
            return .double(x / y)
        case "//":
            if let x = a.integer, let y = b.integer {
                guard y != 0 else { throw TemplateError.runtime("integer division or modulo by zero", line: line) }
                guard !(x == Int.min && y == -1) else { throw overflow() }
                let q = x / y
                return .int((x % y != 0 && ((x < 0) != (y < 0))) ? q - 1 : q)
            }
            guard let x = a.number, let y = b.number else { throw unsupported() }
            guard y != 0 else { throw TemplateError.runtime("float floor division by zero", line: line) }
            return .double((x / y).rounded(.down))
        case "%":
            if case .string = a { throw TemplateError.unsupported("printf-style string formatting with '%'", line: line) }
            if let x = a.integer, let y = b.integer {
                guard y != 0 else { throw TemplateError.runtime("integer division or modulo by zero", line: line) }
                guard y != -1 else { return .int(0) }
                let r = x % y
                return .int(r != 0 && ((r < 0) != (y < 0)) ? r + y : r)
            }
            guard let x = a.number, let y = b.number else { throw unsupported() }
            guard y != 0 else { throw TemplateError.runtime("float modulo", line: line) }
            let r = fmod(x, y)
            return .double(r != 0 && ((r < 0) != (y < 0)) ? r + y : r)
        case "**":
            if let base = a.integer, var exponent = b.integer, exponent >= 0 {
                // Exponentiation by squaring; any overflow is an error (Python would grow the int).
                var result = 1
                var factor = base
                while exponent > 0 {
                    if exponent & 1 == 1 {
                        let (product, over) = result.multipliedReportingOverflow(by: factor)
                        if over { throw overflow() }
                        result = product
                    }
                    exponent >>= 1
                    if exponent > 0 {
                        let (square, over) = factor.multipliedReportingOverflow(by: factor)
                        if over { throw overflow() }
                        factor = square
                    }
                }
                return .int(result)
            }
            guard let x = a.number, let y = b.number else { throw unsupported() }
            return .double(pow(x, y))
        default:
            throw TemplateError.unsupported("operator '\(op)'", line: line)
        }
    }

    /// Caps repetition (`'x' * n`) so a template cannot exhaust memory.
    static let maxRepeatedSize = 10_000_000

    static func checkSize(_ unit: Int, times count: Int, line: Int) throws {
        guard count > 0, unit > 0 else { return }
        let (total, over) = unit.multipliedReportingOverflow(by: count)
        if over || total > maxRepeatedSize { throw TemplateError.runtime("repetition result too large", line: line) }
    }

    /// Per-value caps from `JinjaLimits`, checked before a concatenation is built.
    static func checkStringSize(_ bytes: Int, line: Int) throws {
        if bytes > JinjaLimits.maxStringBytes {
            throw TemplateError.runtime("string longer than the \(JinjaLimits.maxStringBytes >> 20) MiB limit", line: line)
        }
    }

    static func checkListSize(_ count: Int, line: Int) throws {
        if count > JinjaLimits.maxListCount {
            throw TemplateError.runtime("list longer than the \(JinjaLimits.maxListCount) item limit", line: line)
        }
    }

    static func compare(_ op: String, _ a: JinjaValue, _ b: JinjaValue, budget: ComparisonBudget, line: Int) throws -> Bool {
        switch op {
        case "==": return try pythonEqual(a, b, budget: budget, line: line)
        case "!=": return !(try pythonEqual(a, b, budget: budget, line: line))
        case "in": return try contains(b, a, budget: budget, line: line)
        case "notin": return !(try contains(b, a, budget: budget, line: line))
        default:
            let order = try ordering(a, b, op: op, budget: budget, line: line)
            switch op {
            case "<": return order < 0
            case "<=": return order <= 0
            case ">": return order > 0
            default: return order >= 0
            }
        }
    }

    /// -1, 0 or 1 under Python ordering; mismatched types raise as Python does.
    static func ordering(_ a: JinjaValue, _ b: JinjaValue, op: String, budget: ComparisonBudget, line: Int) throws -> Int {
        if case let .undefined(hint) = a { throw TemplateError.undefined(hint, line: line) }
        if case let .undefined(hint) = b { throw TemplateError.undefined(hint, line: line) }
        try budget.spend(1, line: line)
        switch (a, b) {
        case let (.string(x), .string(y)):
            try budget.spend(ComparisonBudget.stringCost(min(x.utf8.count, y.utf8.count)), line: line)
            return lexicographic(Array(x.unicodeScalars.map(\.value)), Array(y.unicodeScalars.map(\.value)))
        case let (.list(x), .list(y)):
            for (l, r) in zip(x, y) where !(try pythonEqual(l, r, budget: budget, line: line)) {
                return try ordering(l, r, op: op, budget: budget, line: line)
            }
            return x.count == y.count ? 0 : (x.count < y.count ? -1 : 1)
        default:
            if let x = a.integer, let y = b.integer { return x == y ? 0 : (x < y ? -1 : 1) }
            if let x = a.number, let y = b.number { return x == y ? 0 : (x < y ? -1 : 1) }
            throw TemplateError.runtime(
                "'\(op)' not supported between instances of '\(a.typeName)' and '\(b.typeName)'", line: line)
        }
    }

    private static func lexicographic(_ x: [UInt32], _ y: [UInt32]) -> Int {
        for (l, r) in zip(x, y) where l != r { return l < r ? -1 : 1 }
        return x.count == y.count ? 0 : (x.count < y.count ? -1 : 1)
    }

    /// Python `item in container`.
    static func contains(_ container: JinjaValue, _ item: JinjaValue, budget: ComparisonBudget, line: Int) throws -> Bool {
        switch container {
        case .undefined: return false
        case let .string(s):
            guard case let .string(needle) = item else {
                throw TemplateError.runtime("'in <string>' requires string as left operand, not \(item.typeName)", line: line)
            }
            try budget.spend(ComparisonBudget.stringCost(s.utf8.count + needle.utf8.count), line: line)
            return findScalars(needle, in: s) != nil
        case let .list(items):
            for element in items where try pythonEqual(element, item, budget: budget, line: line) { return true }
            return false
        case let .dict(d):
            if case let .string(key) = item { return d[key] != nil }
            return false
        default:
            throw TemplateError.runtime("argument of type '\(container.typeName)' is not iterable", line: line)
        }
    }
}

/// Code-point substring search (Python semantics, no Unicode normalization); returns the
/// scalar offset of the first match at or after `from`. Linear time.
func findScalars(_ needle: String, in haystack: String, from: Int = 0) -> Int? {
    let h = Array(haystack.unicodeScalars)
    let n = Array(needle.unicodeScalars)
    if n.isEmpty { return from <= h.count ? max(0, from) : nil }
    var found: Int? = nil
    forEachScalarMatch(n, in: h, from: from, overlapping: false) { start in
        found = start
        return false
    }
    return found
}
