/// Splits template source into text and tag tokens, applying whitespace control the way
/// transformers configures Jinja: `trim_blocks=True`, `lstrip_blocks=True`,
/// `keep_trailing_newline=False`, plus explicit `-`/`+` markers on tags.
struct JinjaToken: Equatable {
    enum Kind: Equatable {
        case text(String)
        case variableBegin, variableEnd, blockBegin, blockEnd
        case name(String)
        case string(String)
        case integer(Int)
        case float(Double)
        /// Operators and punctuation, e.g. `==`, `(`, `|`.
        case op(String)
        case eof
    }
    let kind: Kind
    let line: Int
}

struct JinjaLexer {
    private let src: [UInt8]
    private var pos = 0
    private var line = 1
    private var tokens: [JinjaToken] = []
    /// Jinja's `line_starting`: true at the start and after a tag that swallowed a newline,
    /// so `lstrip_blocks` also applies to a tag that follows directly.
    private var lineStarting = true

    private static let operators2: Set<String> = ["//", "**", "==", "!=", "<=", ">="]
    private static let operators1: Set<UInt8> = Set("+-/*%~[](){}<>=.:|,;".utf8)

    init(_ source: String) {
        src = Array(JinjaLexer.normalizeNewlines(source).utf8)
    }

    /// Jinja joins `splitlines()` with `\n`, which turns `\r\n`/`\r` into `\n` and drops one
    /// trailing newline (since `keep_trailing_newline` is off).
    static func normalizeNewlines(_ source: String) -> String {
        var text = source
        if text.contains("\r") {
            text = text.replacingOccurrences(of: "\r\n", with: "\n").replacingOccurrences(of: "\r", with: "\n")
        }
        if text.hasSuffix("\n") { text.removeLast() }
        return text
    }

    static func tokenize(_ source: String) throws -> [JinjaToken] {
        var lexer = JinjaLexer(source)
        try lexer.run()
        return lexer.tokens
    }

    private func byte(_ offset: Int = 0) -> UInt8? {
        let index = pos + offset
        return index < src.count ? src[index] : nil
    }

    private static func isSpace(_ b: UInt8) -> Bool { b == 0x20 || b == 0x09 || b == 0x0A || b == 0x0D || b == 0x0B || b == 0x0C }

    private mutating func emitText(_ bytes: ArraySlice<UInt8>) {
        if bytes.isEmpty { return }
        let text = String(decoding: bytes, as: UTF8.self)
        tokens.append(JinjaToken(kind: .text(text), line: line))
        line += bytes.lazy.filter { $0 == 0x0A }.count
    }

    /// Finds the next `{{`, `{%` or `{#` at or after `from`.
    private func nextTagStart(from: Int) -> Int? {
        var i = from
        while i + 1 < src.count {
            if src[i] == UInt8(ascii: "{") {
                let next = src[i + 1]
                if next == UInt8(ascii: "{") || next == UInt8(ascii: "%") || next == UInt8(ascii: "#") { return i }
            }
            i += 1
        }
        return nil
    }

    private mutating func run() throws {
        while pos < src.count {
            guard let tagStart = nextTagStart(from: pos) else {
                emitText(src[pos...])
                pos = src.count
                break
            }
            let kind = src[tagStart + 1]
            let marker = tagStart + 2 < src.count ? src[tagStart + 2] : 0
            let stripBefore = marker == UInt8(ascii: "-")
            let keepIndent = marker == UInt8(ascii: "+") && kind != UInt8(ascii: "{")
            var textEnd = tagStart
            if stripBefore {
                while textEnd > pos, JinjaLexer.isSpace(src[textEnd - 1]) { textEnd -= 1 }
            } else if kind != UInt8(ascii: "{") && !keepIndent {
                // lstrip_blocks: drop spaces/tabs between the line start and a block/comment tag.
                var lineStart = textEnd
                while lineStart > pos, src[lineStart - 1] != 0x0A { lineStart -= 1 }
                if lineStart > pos || lineStarting,
                    src[lineStart..<textEnd].allSatisfy({ $0 == 0x20 || $0 == 0x09 })
                {
                    textEnd = lineStart
                }
            }
            // Count lines of the stripped whitespace too, so later line numbers stay right.
            emitText(src[pos..<textEnd])
            line += src[textEnd..<tagStart].lazy.filter { $0 == 0x0A }.count
            pos = tagStart + 2 + (stripBefore || keepIndent ? 1 : 0)
            switch kind {
            case UInt8(ascii: "#"): try lexComment()
            case UInt8(ascii: "{"): try lexTag(isBlock: false)
            default: try lexTag(isBlock: true)
            }
        }
        tokens.append(JinjaToken(kind: .eof, line: line))
    }

    /// After a block or comment end: `-` strips all following whitespace, `+` keeps it,
    /// otherwise trim_blocks removes exactly one newline.
    private mutating func finishTag(marker: UInt8?, isBlockLike: Bool) {
        lineStarting = false
        if marker == UInt8(ascii: "-") {
            while let b = byte(), JinjaLexer.isSpace(b) {
                if b == 0x0A { line += 1 }
                lineStarting = b == 0x0A
                pos += 1
            }
        } else if isBlockLike && marker != UInt8(ascii: "+") && byte() == 0x0A {
            pos += 1
            line += 1
            lineStarting = true
        }
    }

    private mutating func lexComment() throws {
        let startLine = line
        var i = pos
        while i + 1 < src.count, !(src[i] == UInt8(ascii: "#") && src[i + 1] == UInt8(ascii: "}")) { i += 1 }
        guard i + 1 < src.count else { throw TemplateError.syntax("unclosed comment", line: startLine) }
        let marker: UInt8? = i > pos ? src[i - 1] : nil
        line += src[pos..<i].lazy.filter { $0 == 0x0A }.count
        pos = i + 2
        finishTag(marker: marker, isBlockLike: true)
    }

    /// Lexes expression tokens up to the closing `}}` or `%}` (ignored inside brackets, as in Jinja).
    private mutating func lexTag(isBlock: Bool) throws {
        let startLine = line
        let beginIndex = tokens.count
        tokens.append(JinjaToken(kind: isBlock ? .blockBegin : .variableBegin, line: line))
        var depth = 0
        let closer = isBlock ? UInt8(ascii: "%") : UInt8(ascii: "}")
        while true {
            while let b = byte(), JinjaLexer.isSpace(b) {
                if b == 0x0A { line += 1 }
                pos += 1
            }
            guard let b = byte() else {
                throw TemplateError.syntax(isBlock ? "unclosed block tag '{%'" : "unclosed variable tag '{{'", line: startLine)
            }
            if depth == 0 {
                var marker: UInt8? = nil
                var length = 0
                if (b == UInt8(ascii: "-") || b == UInt8(ascii: "+")) && byte(1) == closer && byte(2) == UInt8(ascii: "}") {
                    if b == UInt8(ascii: "-") || isBlock { marker = b; length = 3 }
                }
                if length == 0 && b == closer && byte(1) == UInt8(ascii: "}") { length = 2 }
                if length > 0 {
                    pos += length
                    tokens.append(JinjaToken(kind: isBlock ? .blockEnd : .variableEnd, line: line))
                    finishTag(marker: marker, isBlockLike: isBlock)
                    if isBlock { try lexRawIfNeeded(beginIndex: beginIndex) }
                    return
                }
            }
            if b == UInt8(ascii: "'") || b == UInt8(ascii: "\"") {
                tokens.append(JinjaToken(kind: .string(try lexString(quote: b)), line: line))
            } else if isNameStart(b) {
                let start = pos
                while let c = byte(), isNameStart(c) || (c >= 0x30 && c <= 0x39) { pos += 1 }
                tokens.append(JinjaToken(kind: .name(String(decoding: src[start..<pos], as: UTF8.self)), line: line))
            } else if b >= 0x30 && b <= 0x39 {
                tokens.append(JinjaToken(kind: try lexNumber(), line: line))
            } else {
                let two = pos + 1 < src.count ? String(decoding: src[pos...(pos + 1)], as: UTF8.self) : ""
                if JinjaLexer.operators2.contains(two) {
                    tokens.append(JinjaToken(kind: .op(two), line: line))
                    pos += 2
                } else if JinjaLexer.operators1.contains(b) {
                    if b == UInt8(ascii: "(") || b == UInt8(ascii: "[") || b == UInt8(ascii: "{") { depth += 1 }
                    if b == UInt8(ascii: ")") || b == UInt8(ascii: "]") || b == UInt8(ascii: "}") {
                        guard depth > 0 else { throw TemplateError.syntax("unexpected '\(Character(Unicode.Scalar(b)))'", line: line) }
                        depth -= 1
                    }
                    tokens.append(JinjaToken(kind: .op(String(Character(Unicode.Scalar(b)))), line: line))
                    pos += 1
                } else {
                    let scalar = String(decoding: src[pos..<min(pos + 4, src.count)], as: UTF8.self).unicodeScalars.first ?? "?"
                    throw TemplateError.syntax("unexpected character '\(scalar)'", line: line)
                }
            }
        }
    }

    private func isNameStart(_ b: UInt8) -> Bool {
        (b >= 0x41 && b <= 0x5A) || (b >= 0x61 && b <= 0x7A) || b == UInt8(ascii: "_") || b >= 0x80
    }

    /// Integers and floats with `_` separators; after a `.` only an integer is read, so
    /// `x.0.1` stays two subscripts as in Jinja.
    private mutating func lexNumber() throws -> JinjaToken.Kind {
        let afterDot = pos > 0 && src[pos - 1] == UInt8(ascii: ".")
        var digits = ""
        func readDigits() {
            while let c = byte(), (c >= 0x30 && c <= 0x39) || (c == UInt8(ascii: "_") && (byte(1).map { $0 >= 0x30 && $0 <= 0x39 } ?? false)) {
                if c != UInt8(ascii: "_") { digits.append(Character(Unicode.Scalar(c))) }
                pos += 1
            }
        }
        readDigits()
        var isFloat = false
        if !afterDot {
            if byte() == UInt8(ascii: "."), let next = byte(1), next >= 0x30 && next <= 0x39 {
                isFloat = true
                digits.append(".")
                pos += 1
                readDigits()
            }
            if byte() == UInt8(ascii: "e") || byte() == UInt8(ascii: "E") {
                var offset = 1
                if byte(1) == UInt8(ascii: "+") || byte(1) == UInt8(ascii: "-") { offset = 2 }
                if let d = byte(offset), d >= 0x30 && d <= 0x39 {
                    isFloat = true
                    digits.append("e")
                    if offset == 2, let sign = byte(1) { digits.append(Character(Unicode.Scalar(sign))) }
                    pos += offset
                    readDigits()
                }
            }
        }
        if isFloat {
            guard let value = Double(digits) else { throw TemplateError.syntax("invalid number '\(digits)'", line: line) }
            return .float(value)
        }
        guard let value = Int(digits) else { throw TemplateError.unsupported("integer literal '\(digits)' beyond 64 bits", line: line) }
        return .integer(value)
    }

    /// Reads a quoted literal and decodes Python escapes (`\n`, `\t`, `\xhh`, `\uXXXX`...);
    /// an unknown escape keeps its backslash, as Python does.
    private mutating func lexString(quote: UInt8) throws -> String {
        let startLine = line
        pos += 1
        var out: [UInt8] = []
        while true {
            guard let b = byte() else { throw TemplateError.syntax("unterminated string literal", line: startLine) }
            pos += 1
            if b == quote { break }
            if b == 0x0A { line += 1 }
            guard b == UInt8(ascii: "\\") else { out.append(b); continue }
            guard let e = byte() else { throw TemplateError.syntax("unterminated string literal", line: startLine) }
            pos += 1
            switch e {
            case UInt8(ascii: "n"): out.append(0x0A)
            case UInt8(ascii: "t"): out.append(0x09)
            case UInt8(ascii: "r"): out.append(0x0D)
            case UInt8(ascii: "\\"): out.append(0x5C)
            case UInt8(ascii: "'"): out.append(0x27)
            case UInt8(ascii: "\""): out.append(0x22)
            case UInt8(ascii: "a"): out.append(0x07)
            case UInt8(ascii: "b"): out.append(0x08)
            case UInt8(ascii: "f"): out.append(0x0C)
            case UInt8(ascii: "v"): out.append(0x0B)
            case 0x0A: line += 1  // backslash-newline is a line continuation
            case UInt8(ascii: "0")...UInt8(ascii: "7"):
                var value = UInt32(e - 0x30)
                var count = 1
                while count < 3, let d = byte(), d >= 0x30 && d <= 0x37 {
                    value = value * 8 + UInt32(d - 0x30); pos += 1; count += 1
                }
                appendScalar(value, to: &out)
            case UInt8(ascii: "x"), UInt8(ascii: "u"), UInt8(ascii: "U"):
                let width = e == UInt8(ascii: "x") ? 2 : (e == UInt8(ascii: "u") ? 4 : 8)
                guard pos + width <= src.count,
                    let value = UInt32(String(decoding: src[pos..<(pos + width)], as: UTF8.self), radix: 16)
                else { throw TemplateError.syntax("truncated \\\(Character(Unicode.Scalar(e))) escape", line: line) }
                pos += width
                appendScalar(value, to: &out)
            case UInt8(ascii: "N"):
                throw TemplateError.unsupported("string escape '\\N{...}'", line: line)
            default:
                out.append(0x5C)
                out.append(e)
            }
        }
        return String(decoding: out, as: UTF8.self)
    }

    private func appendScalar(_ value: UInt32, to out: inout [UInt8]) {
        let scalar = Unicode.Scalar(value) ?? "\u{FFFD}"
        out.append(contentsOf: Array(String(Character(scalar)).utf8))
    }

    /// `{% raw %}…{% endraw %}`: the body is emitted verbatim as text.
    private mutating func lexRawIfNeeded(beginIndex: Int) throws {
        guard tokens.count == beginIndex + 3, case .name("raw") = tokens[beginIndex + 1].kind else { return }
        let startLine = tokens[beginIndex].line
        tokens.removeLast(3)
        var i = pos
        while i + 1 < src.count {
            if src[i] == UInt8(ascii: "{") && src[i + 1] == UInt8(ascii: "%") {
                var j = i + 2
                let strip = j < src.count && src[j] == UInt8(ascii: "-")
                if j < src.count && (src[j] == UInt8(ascii: "-") || src[j] == UInt8(ascii: "+")) { j += 1 }
                while j < src.count, JinjaLexer.isSpace(src[j]) { j += 1 }
                let word = Array("endraw".utf8)
                if j + word.count <= src.count, Array(src[j..<(j + word.count)]) == word {
                    j += word.count
                    while j < src.count, JinjaLexer.isSpace(src[j]) { j += 1 }
                    var marker: UInt8? = nil
                    if j < src.count && (src[j] == UInt8(ascii: "-") || src[j] == UInt8(ascii: "+")) { marker = src[j]; j += 1 }
                    if j + 1 < src.count && src[j] == UInt8(ascii: "%") && src[j + 1] == UInt8(ascii: "}") {
                        var end = i
                        if strip { while end > pos, JinjaLexer.isSpace(src[end - 1]) { end -= 1 } }
                        emitText(src[pos..<end])
                        line += src[end..<(j + 2)].lazy.filter { $0 == 0x0A }.count
                        pos = j + 2
                        finishTag(marker: marker, isBlockLike: true)
                        return
                    }
                }
            }
            i += 1
        }
        throw TemplateError.syntax("missing {% endraw %}", line: startLine)
    }
}
