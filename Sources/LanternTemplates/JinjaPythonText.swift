import Foundation

/// Python string helpers and `json.dumps`, written against code points (Python `str`
/// semantics), not Swift grapheme clusters.

func pythonStrip(_ s: String, chars: String?, leading: Bool, trailing: Bool) -> String {
    let set = chars.map { Set($0.unicodeScalars) }
    func strippable(_ c: Unicode.Scalar) -> Bool { set.map { $0.contains(c) } ?? isPythonWhitespace(c) }
    let scalars = Array(s.unicodeScalars)
    var start = 0
    var end = scalars.count
    if leading { while start < end, strippable(scalars[start]) { start += 1 } }
    if trailing { while end > start, strippable(scalars[end - 1]) { end -= 1 } }
    return String(String.UnicodeScalarView(scalars[start..<end]))
}

/// Python `str.split`/`rsplit`: without a separator, splits on whitespace runs and drops empties.
func pythonSplit(_ s: String, separator: String?, maxSplit: Int, fromRight: Bool) -> [String] {
    let scalars = Array(s.unicodeScalars)
    func text(_ slice: ArraySlice<Unicode.Scalar>) -> String { String(String.UnicodeScalarView(slice)) }
    guard let separator, !separator.isEmpty else {
        // Whitespace mode: tokens are maximal non-space runs.
        var ranges: [Range<Int>] = []
        var i = 0
        while i < scalars.count {
            while i < scalars.count, isPythonWhitespace(scalars[i]) { i += 1 }
            guard i < scalars.count else { break }
            let start = i
            while i < scalars.count, !isPythonWhitespace(scalars[i]) { i += 1 }
            ranges.append(start..<i)
        }
        guard maxSplit >= 0, ranges.count > maxSplit else { return ranges.map { text(scalars[$0]) } }
        if fromRight {
            let kept = ranges.suffix(maxSplit)
            let headEnd = ranges[ranges.count - maxSplit - 1].upperBound
            // The unsplit remainder keeps its outer whitespace, as in Python.
            return [text(scalars[0..<headEnd])] + kept.map { text(scalars[$0]) }
        }
        let head = ranges.prefix(maxSplit).map { text(scalars[$0]) }
        let restStart = ranges[maxSplit].lowerBound
        return head + [text(scalars[restStart...])]
    }
    let sep = Array(separator.unicodeScalars)
    var matches: [Int] = []
    var i = 0
    while i + sep.count <= scalars.count {
        if Array(scalars[i..<(i + sep.count)]) == sep {
            matches.append(i)
            i += sep.count
        } else {
            i += 1
        }
    }
    if maxSplit >= 0 && matches.count > maxSplit {
        matches = fromRight ? Array(matches.suffix(maxSplit)) : Array(matches.prefix(maxSplit))
    }
    var parts: [String] = []
    var start = 0
    for m in matches {
        parts.append(text(scalars[start..<m]))
        start = m + sep.count
    }
    parts.append(text(scalars[start...]))
    return parts
}

func pythonReplace(_ s: String, _ old: String, _ new: String, count: Int) throws -> String {
    if count == 0 { return s }
    let scalars = Array(s.unicodeScalars)
    let oldScalars = Array(old.unicodeScalars)
    // Count the replacements first, so an oversized result is refused before it is built.
    var matches = 0
    if oldScalars.isEmpty {
        matches = count < 0 ? scalars.count + 1 : min(count, scalars.count + 1)
    } else {
        forEachScalarMatch(oldScalars, in: scalars, overlapping: false) { _ in
            matches += 1
            return count < 0 || matches < count
        }
    }
    let (growth, over1) = matches.multipliedReportingOverflow(by: new.utf8.count - old.utf8.count)
    let (size, over2) = s.utf8.count.addingReportingOverflow(growth)
    if over1 || over2 || size > JinjaLimits.maxStringBytes {
        throw TemplateError.runtime("replace(): result larger than the \(JinjaLimits.maxStringBytes >> 20) MiB string limit", line: 0)
    }
    var out = String.UnicodeScalarView()
    var replaced = 0
    if oldScalars.isEmpty {
        // Python inserts `new` between every character and at both ends.
        for scalar in scalars {
            if replaced < matches { out.append(contentsOf: new.unicodeScalars); replaced += 1 }
            out.append(scalar)
        }
        if replaced < matches { out.append(contentsOf: new.unicodeScalars) }
        return String(out)
    }
    var copied = 0
    forEachScalarMatch(oldScalars, in: scalars, overlapping: false) { start in
        out.append(contentsOf: scalars[copied..<start])
        out.append(contentsOf: new.unicodeScalars)
        copied = start + oldScalars.count
        replaced += 1
        return replaced < matches
    }
    out.append(contentsOf: scalars[copied...])
    return String(out)
}

/// Calls `body` with the start of each match of `needle` in `haystack` (code points, no
/// normalization), left to right, until it returns false. Knuth–Morris–Pratt, so linear in
/// both lengths. Non-overlapping matches resume after a match (Python's `count`/`replace`);
/// overlapping ones also report matches that start inside the previous one (`rfind`).
/// An empty needle matches nowhere here; callers handle it Python's way.
func forEachScalarMatch(
    _ needle: [Unicode.Scalar], in haystack: [Unicode.Scalar], from: Int = 0, overlapping: Bool, _ body: (Int) throws -> Bool
) rethrows {
    let m = needle.count
    guard m > 0, haystack.count - max(0, from) >= m else { return }
    var failure = [Int](repeating: 0, count: m)
    var k = 0
    for i in 1..<m {
        while k > 0 && needle[i] != needle[k] { k = failure[k - 1] }
        if needle[i] == needle[k] { k += 1 }
        failure[i] = k
    }
    var matched = 0
    for i in max(0, from)..<haystack.count {
        while matched > 0 && haystack[i] != needle[matched] { matched = failure[matched - 1] }
        if haystack[i] == needle[matched] { matched += 1 }
        if matched == m {
            guard try body(i - m + 1) else { return }
            matched = overlapping ? failure[m - 1] : 0
        }
    }
}

/// Python `str.capitalize()`: first character upper-cased, the rest lower-cased.
func pythonCapitalize(_ s: String) -> String {
    guard let first = s.unicodeScalars.first else { return s }
    return String(first).uppercased() + String(String.UnicodeScalarView(s.unicodeScalars.dropFirst())).lowercased()
}

/// Python `str.title()`: a letter following a non-letter starts a word.
func pythonTitle(_ s: String) -> String {
    var out = ""
    var previousCased = false
    for scalar in s.unicodeScalars {
        let text = String(scalar)
        out += previousCased ? text.lowercased() : text.uppercased()
        previousCased = scalar.properties.isCased
    }
    return out
}

/// Jinja's `title` filter: words split on whitespace, `-`, and opening brackets.
func jinjaTitle(_ s: String) -> String {
    var out = ""
    var atWordStart = true
    for scalar in s.unicodeScalars {
        let isBoundary = isPythonWhitespace(scalar) || "-({[<".unicodeScalars.contains(scalar)
        if isBoundary {
            out.unicodeScalars.append(scalar)
            atWordStart = true
        } else {
            out += atWordStart ? String(scalar).uppercased() : String(scalar).lowercased()
            atWordStart = false
        }
    }
    return out
}

func htmlEscape(_ s: String) -> String {
    var out = ""
    for scalar in s.unicodeScalars {
        switch scalar {
        case "&": out += "&amp;"
        case "<": out += "&lt;"
        case ">": out += "&gt;"
        case "\"": out += "&#34;"
        case "'": out += "&#39;"
        default: out.unicodeScalars.append(scalar)
        }
    }
    return out
}

/// Jinja's `int` filter: Python `int(x)`, falling back to `int(float(x))`; nil means "use default".
func pythonInt(_ value: JinjaValue, base: Int) -> JinjaValue? {
    switch value {
    case let .int(i): return .int(i)
    case let .bool(b): return .int(b ? 1 : 0)
    case let .double(d):
        guard d.isFinite, d.magnitude < 9.2e18 else { return nil }
        return .int(Int(d))
    case let .string(s):
        let trimmed = pythonStrip(s, chars: nil, leading: true, trailing: true).replacingOccurrences(of: "_", with: "")
        if let i = Int(trimmed, radix: base) { return .int(i) }
        if let d = Double(trimmed), d.isFinite, d.magnitude < 9.2e18 { return .int(Int(d)) }
        return nil
    default: return nil
    }
}

func pythonFloat(_ value: JinjaValue) -> Double? {
    switch value {
    case let .string(s):
        let trimmed = pythonStrip(s, chars: nil, leading: true, trailing: true)
        switch trimmed.lowercased() {
        case "inf", "+inf", "infinity", "+infinity": return .infinity
        case "-inf", "-infinity": return -.infinity
        case "nan", "+nan", "-nan": return .nan
        default: return Double(trimmed.replacingOccurrences(of: "_", with: ""))
        }
    default: return value.number
    }
}

// MARK: JSON

/// The `tojson` filter as transformers defines it:
/// `json.dumps(x, ensure_ascii=False, indent=None, separators=None, sort_keys=False)`.
func pythonJSONDumps(_ value: JinjaValue, args: JinjaCallArguments) throws -> String {
    let ensureASCII = args.bool(0, "ensure_ascii", default: false)
    var indent: String? = nil
    switch args.get(1, "indent") {
    case nil, .none?: indent = nil
    case let .string(s)?: indent = s
    case let v?:
        guard let n = v.integer else { throw args.error("indent must be an integer or string") }
        try JinjaOperators.checkSize(1, times: n, line: args.line)
        indent = String(repeating: " ", count: max(0, n))
    }
    var itemSeparator = indent == nil ? ", " : ","
    var keySeparator = ": "
    if let separators = args.get(2, "separators"), !separators.isNone {
        guard case let .list(pair) = separators, pair.count == 2, case let .string(item) = pair[0], case let .string(key) = pair[1] else {
            throw args.error("separators must be a (item, key) pair of strings")
        }
        itemSeparator = item
        keySeparator = key
    }
    let sortKeys = args.bool(3, "sort_keys", default: false)
    var out = ""
    try writeJSON(value, into: &out, indent: indent, level: 0, itemSeparator: itemSeparator, keySeparator: keySeparator,
        sortKeys: sortKeys, ensureASCII: ensureASCII, line: args.line)
    return out
}

private func writeJSON(
    _ value: JinjaValue, into out: inout String, indent: String?, level: Int, itemSeparator: String, keySeparator: String,
    sortKeys: Bool, ensureASCII: Bool, line: Int
) throws {
    func newline(_ depth: Int) -> String {
        guard let indent else { return "" }
        return "\n" + String(repeating: indent, count: depth)
    }
    guard level <= JinjaLimits.maxValueDepth else {
        throw TemplateError.runtime("tojson: value nested too deeply (more than \(JinjaLimits.maxValueDepth) levels)", line: line)
    }
    guard out.utf8.count <= JinjaLimits.maxStringBytes else {
        throw TemplateError.runtime("tojson: output larger than the \(JinjaLimits.maxStringBytes >> 20) MiB string limit", line: line)
    }
    switch value {
    case .none: out += "null"
    case let .bool(b): out += b ? "true" : "false"
    case let .int(i): out += String(i)
    case let .double(d):
        if d.isNaN { out += "NaN" } else if d.isInfinite { out += d < 0 ? "-Infinity" : "Infinity" } else { out += formatPythonFloat(d) }
    case let .string(s): out += jsonQuote(s, ensureASCII: ensureASCII)
    case let .list(items):
        guard !items.isEmpty else { out += "[]"; return }
        out += "["
        for (index, item) in items.enumerated() {
            out += (index == 0 ? "" : itemSeparator) + newline(level + 1)
            try writeJSON(item, into: &out, indent: indent, level: level + 1, itemSeparator: itemSeparator,
                keySeparator: keySeparator, sortKeys: sortKeys, ensureASCII: ensureASCII, line: line)
        }
        out += newline(level) + "]"
    case let .dict(d):
        guard !d.isEmpty else { out += "{}"; return }
        var entries = d.entries
        if sortKeys {
            entries.sort { Array($0.key.unicodeScalars.map(\.value)).lexicographicallyPrecedes($1.key.unicodeScalars.map(\.value)) }
        }
        out += "{"
        for (index, entry) in entries.enumerated() {
            out += (index == 0 ? "" : itemSeparator) + newline(level + 1)
            out += jsonQuote(entry.key, ensureASCII: ensureASCII) + keySeparator
            try writeJSON(entry.value, into: &out, indent: indent, level: level + 1, itemSeparator: itemSeparator,
                keySeparator: keySeparator, sortKeys: sortKeys, ensureASCII: ensureASCII, line: line)
        }
        out += newline(level) + "}"
    case .undefined, .namespace, .function:
        throw TemplateError.runtime("Object of type \(value.typeName) is not JSON serializable", line: line)
    }
}

/// Python `json.dumps` string escaping: `"`, `\\`, the short escapes, `\u00XX` for other
/// control characters; non-ASCII raw unless `ensure_ascii`.
func jsonQuote(_ s: String, ensureASCII: Bool) -> String {
    var out = "\""
    for scalar in s.unicodeScalars {
        switch scalar {
        case "\"": out += "\\\""
        case "\\": out += "\\\\"
        case "\n": out += "\\n"
        case "\r": out += "\\r"
        case "\t": out += "\\t"
        case "\u{08}": out += "\\b"
        case "\u{0C}": out += "\\f"
        default:
            if scalar.value < 0x20 {
                out += "\\u" + pythonHex(scalar.value, width: 4)
            } else if ensureASCII && scalar.value > 0x7E {
                if scalar.value >= 0x10000 {
                    let v = scalar.value - 0x10000
                    out += "\\u" + pythonHex(0xD800 + (v >> 10), width: 4) + "\\u" + pythonHex(0xDC00 + (v & 0x3FF), width: 4)
                } else {
                    out += "\\u" + pythonHex(scalar.value, width: 4)
                }
            } else {
                out.unicodeScalars.append(scalar)
            }
        }
    }
    return out + "\""
}

// MARK: dates

/// C-locale `strftime` for the codes chat templates use, in the local time zone like Python's
/// `datetime.now()`. Supports the glibc `%-d` (no padding) flag.
func pythonStrftime(_ format: String, _ date: Date) throws -> String {
    var calendar = Calendar(identifier: .gregorian)
    calendar.timeZone = TimeZone.current
    let c = calendar.dateComponents([.year, .month, .day, .hour, .minute, .second, .weekday], from: date)
    let year = c.year ?? 1970, month = c.month ?? 1, day = c.day ?? 1
    let hour = c.hour ?? 0, minute = c.minute ?? 0, second = c.second ?? 0
    let weekday = (c.weekday ?? 1) - 1  // 0 = Sunday
    let dayOfYear = calendar.ordinality(of: .day, in: .year, for: date) ?? 1
    let months = ["January", "February", "March", "April", "May", "June", "July", "August", "September", "October", "November", "December"]
    let days = ["Sunday", "Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday"]
    var out = ""
    var scalars = format.unicodeScalars.makeIterator()
    while let scalar = scalars.next() {
        guard scalar == "%" else { out.unicodeScalars.append(scalar); continue }
        guard var code = scalars.next() else { out += "%"; break }
        var pad = true
        if code == "-" {
            pad = false
            guard let next = scalars.next() else { throw TemplateError.unsupported("strftime format '%-'", line: 0) }
            code = next
        }
        func number(_ n: Int, _ width: Int) -> String {
            let digits = String(n)
            return pad ? String(repeating: "0", count: max(0, width - digits.count)) + digits : digits
        }
        switch code {
        case "d": out += number(day, 2)
        case "e": out += pad && day < 10 ? " \(day)" : String(day)
        case "m": out += number(month, 2)
        case "Y": out += String(year)
        case "y": out += number(year % 100, 2)
        case "b", "h": out += String(months[month - 1].prefix(3))
        case "B": out += months[month - 1]
        case "a": out += String(days[weekday].prefix(3))
        case "A": out += days[weekday]
        case "H": out += number(hour, 2)
        case "I": out += number(hour % 12 == 0 ? 12 : hour % 12, 2)
        case "M": out += number(minute, 2)
        case "S": out += number(second, 2)
        case "p": out += hour < 12 ? "AM" : "PM"
        case "j": out += number(dayOfYear, 3)
        case "w": out += String(weekday)
        case "%": out += "%"
        default: throw TemplateError.unsupported("strftime format '%\(code)'", line: 0)
        }
    }
    return out
}
