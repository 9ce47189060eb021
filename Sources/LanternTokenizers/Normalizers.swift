// tokenizer.json normalizers: text -> text before pre-tokenization, as the `tokenizers` library
// defines them (offsets are not tracked: Lantern needs ids, not alignments).

import Foundation

indirect enum Normalizer: Sendable {
    case nfc, nfd, nfkc, nfkd, lowercase, stripAccents, nmt, byteLevel
    case bert(cleanText: Bool, chineseChars: Bool, stripAccents: Bool, lowercase: Bool)
    case replace(TextPattern, String)
    case prepend(String)
    case strip(left: Bool, right: Bool)
    case precompiled(PrecompiledCharsMap)
    case sequence([Normalizer])

    func normalize(_ text: String) -> String {
        switch self {
        case .nfc: return text.precomposedStringWithCanonicalMapping
        case .nfd: return text.decomposedStringWithCanonicalMapping
        case .nfkc: return text.precomposedStringWithCompatibilityMapping
        case .nfkd: return text.decomposedStringWithCompatibilityMapping
        case .lowercase: return Self.lowercased(text)
        case .stripAccents: return String(scalars: text.unicodeScalars.filter { !HFChar.isCombiningMark($0) })
        case .nmt: return Self.nmt(text)
        case .byteLevel: return ByteLevel.encode(text.utf8)
        case .bert(let clean, let chinese, let strip, let lower):
            var s = text
            if clean { s = Self.bertClean(s) }
            if chinese { s = Self.padChineseChars(s) }
            if strip {
                s = String(scalars: s.decomposedStringWithCanonicalMapping.unicodeScalars
                    .filter { $0.properties.generalCategory != .nonspacingMark })
            }
            if lower { s = Self.lowercased(s) }
            return s
        case .replace(let pattern, let content): return pattern.replacingMatches(in: text, with: content)
        case .prepend(let prefix): return text.isEmpty ? text : prefix + text
        case .strip(let left, let right):
            var scalars = Substring(text).unicodeScalars[...]
            if left { while let f = scalars.first, HFChar.isWhitespace(f) { scalars.removeFirst() } }
            if right { while let l = scalars.last, HFChar.isWhitespace(l) { scalars.removeLast() } }
            return String(scalars: scalars)
        case .precompiled(let map): return map.normalize(text)
        case .sequence(let list): return list.reduce(text) { $1.normalize($0) }
        }
    }

    /// Per-scalar full lowercase mapping, as Rust's `char::to_lowercase` (no final-sigma context).
    static func lowercased(_ text: String) -> String {
        if text.utf8.allSatisfy({ $0 < 0x80 }) { return text.lowercased() }
        var out = String.UnicodeScalarView()
        for s in text.unicodeScalars {
            if s.properties.changesWhenLowercased {
                out.append(contentsOf: s.properties.lowercaseMapping.unicodeScalars)
            } else {
                out.append(s)
            }
        }
        return String(out)
    }

    /// SentencePiece's NMT normalization: drop most C0 controls, map odd spaces to ' '.
    static func nmt(_ text: String) -> String {
        var out = String.UnicodeScalarView()
        for s in text.unicodeScalars {
            switch s.value {
            case 0x01...0x08, 0x0B, 0x0E...0x1F, 0x7F, 0x8F, 0x9F: continue
            case 0x09, 0x0A, 0x0C, 0x0D, 0x1680, 0x200B...0x200F, 0x2028, 0x2029, 0x2581, 0xFEFF, 0xFFFD:
                out.append(" ")
            default: out.append(s)
            }
        }
        return String(out)
    }

    /// BertNormalizer's clean_text: drop NUL, U+FFFD and control / format / unassigned characters
    /// (not tab, LF, CR), and turn every whitespace character into a space.
    static func bertClean(_ text: String) -> String {
        var out = String.UnicodeScalarView()
        for s in text.unicodeScalars {
            if s.value == 0 || s.value == 0xFFFD { continue }
            let isTabOrNewline = s == "\t" || s == "\n" || s == "\r"
            if !isTabOrNewline {
                switch s.properties.generalCategory {
                case .control, .format, .privateUse, .surrogate, .unassigned: continue
                default: break
                }
            }
            out.append(isTabOrNewline || HFChar.isWhitespace(s) ? " " : s)
        }
        return String(out)
    }

    static func isChineseChar(_ v: UInt32) -> Bool {
        switch v {
        case 0x4E00...0x9FFF, 0x3400...0x4DBF, 0x20000...0x2A6DF, 0x2A700...0x2B73F, 0x2B740...0x2B81F,
             0x2B920...0x2CEAF, 0xF900...0xFAFF, 0x2F800...0x2FA1F: return true
        default: return false
        }
    }

    static func padChineseChars(_ text: String) -> String {
        guard text.unicodeScalars.contains(where: { isChineseChar($0.value) }) else { return text }
        var out = String.UnicodeScalarView()
        for s in text.unicodeScalars {
            if isChineseChar(s.value) {
                out.append(" "); out.append(s); out.append(" ")
            } else {
                out.append(s)
            }
        }
        return String(out)
    }
}

/// SentencePiece's precompiled normalization map (`precompiled_charsmap`): a darts-clone double
/// array over UTF-8 whose values are offsets of NUL-terminated replacement strings.
///
/// Layout: u32 LE trie size in bytes, the trie's u32 units, then the replacement strings.
/// Applied as `spm_precompiled` does: per grapheme cluster shorter than 6 bytes if the map has it,
/// else per scalar. Every array access is range-checked (the map comes from the file).
struct PrecompiledCharsMap: Sendable {
    let units: [UInt32]
    let normalized: [UInt8]

    init(base64: String) throws(TokenizerError) {
        guard let data = Data(base64Encoded: base64), data.count >= 4 else {
            throw .invalidTokenizerJSON("normalizer Precompiled: precompiled_charsmap is not valid base64")
        }
        let bytes = [UInt8](data)
        let trieSize = Int(bytes[0]) | Int(bytes[1]) << 8 | Int(bytes[2]) << 16 | Int(bytes[3]) << 24
        guard trieSize % 4 == 0, 4 + trieSize <= bytes.count else {
            throw .invalidTokenizerJSON("normalizer Precompiled: trie size \(trieSize) exceeds the map (\(bytes.count) bytes)")
        }
        var units: [UInt32] = []
        units.reserveCapacity(trieSize / 4)
        var i = 4
        while i < 4 + trieSize {
            units.append(UInt32(bytes[i]) | UInt32(bytes[i + 1]) << 8 | UInt32(bytes[i + 2]) << 16 | UInt32(bytes[i + 3]) << 24)
            i += 4
        }
        self.units = units
        normalized = Array(bytes[(4 + trieSize)...])
    }

    /// darts-clone `common_prefix_search`, first (shortest) result, as `spm_precompiled::transform`.
    func transform<C: Collection<UInt8>>(_ key: C) -> [UInt8]? {
        guard !units.isEmpty else { return nil }
        func offset(_ u: UInt32) -> Int { Int((u >> 10) << ((u & (1 << 9)) >> 6)) }
        var pos = 0
        var unit = units[0]
        pos ^= offset(unit)
        for c in key {
            if c == 0 { break }
            pos ^= Int(c)
            guard pos < units.count else { return nil }
            unit = units[pos]
            if unit & ((1 << 31) | 0xFF) != UInt32(c) { return nil }
            pos ^= offset(unit)
            if (unit >> 8) & 1 == 1 {
                guard pos < units.count else { return nil }
                let start = Int(units[pos] & ((1 << 31) - 1))
                guard start <= normalized.count else { return nil }
                var end = start
                while end < normalized.count, normalized[end] != 0 { end += 1 }
                return Array(normalized[start..<end])
            }
        }
        return nil
    }

    func normalize(_ text: String) -> String {
        guard !units.isEmpty else { return text }
        var out: [UInt8] = []
        out.reserveCapacity(text.utf8.count)
        for grapheme in text {
            let g = grapheme.utf8
            if g.count < 6, let replacement = transform(g) {
                out.append(contentsOf: replacement)
                continue
            }
            for s in grapheme.unicodeScalars {
                let bytes = Array(String(s).utf8)
                if let replacement = transform(bytes) { out.append(contentsOf: replacement) } else { out.append(contentsOf: bytes) }
            }
        }
        return String(decoding: out, as: UTF8.self)
    }
}
