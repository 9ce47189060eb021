// tokenizer.json decoders: token strings -> text, each stage a `decode_chain` over the strings.

indirect enum TokenDecoder: Sendable {
    case byteLevel
    case wordPiece(prefix: String, cleanup: Bool)
    case metaspace(replacement: Unicode.Scalar, prependsSpace: Bool)
    case byteFallback
    case fuse
    case strip(content: Unicode.Scalar, start: Int, stop: Int)
    case replace(TextPattern, String)
    case bpe(suffix: String)
    case sequence([TokenDecoder])

    /// - Parameter firstIndex: the position of `tokens[0]` in the whole sequence. Rendering one
    ///   token in the middle of a stream passes 1, so first-token rules (WordPiece's missing space,
    ///   Metaspace's dropped prefix, Strip at the start) do not apply to it.
    func decodeChain(_ tokens: [String], firstIndex: Int = 0) -> [String] {
        switch self {
        case .sequence(let list):
            return list.reduce(tokens) { $1.decodeChain($0, firstIndex: firstIndex) }
        case .byteLevel:
            var bytes: [UInt8] = []
            for t in tokens {
                var mapped: [UInt8] = []
                mapped.reserveCapacity(t.utf8.count)
                var ok = true
                for s in t.unicodeScalars {
                    let v = Int(s.value)
                    guard v < ByteLevel.byteForScalar.count, ByteLevel.byteForScalar[v] >= 0 else { ok = false; break }
                    mapped.append(UInt8(ByteLevel.byteForScalar[v]))
                }
                bytes += ok ? mapped : Array(t.utf8)
            }
            return [String(decoding: bytes, as: UTF8.self)]
        case .wordPiece(let prefix, let cleanup):
            return tokens.enumerated().map { i, token in
                var t = token
                if i + firstIndex != 0 {
                    if !prefix.isEmpty, t.hasPrefix(prefix) { t = String(t.dropFirst(prefix.count)) } else { t = " " + t }
                }
                return cleanup ? Self.cleanup(t) : t
            }
        case .metaspace(let replacement, let prependsSpace):
            return tokens.enumerated().map { i, token in
                String(scalars: token.unicodeScalars.compactMap { s -> Unicode.Scalar? in
                    guard s == replacement else { return s }
                    return i + firstIndex == 0 && prependsSpace ? nil : " "
                })
            }
        case .byteFallback:
            var out: [String] = []
            var pending: [UInt8] = []
            func flush() {
                guard !pending.isEmpty else { return }
                if let s = String(validating: pending, as: UTF8.self) {
                    out.append(s)
                } else {
                    out += Array(repeating: "\u{FFFD}", count: pending.count)
                }
                pending.removeAll()
            }
            for t in tokens {
                if let b = Self.byteValue(t) {
                    pending.append(b)
                } else {
                    flush()
                    out.append(t)
                }
            }
            flush()
            return out
        case .fuse:
            return [tokens.joined()]
        case .strip(let content, let start, let stop):
            return tokens.map { token in
                let scalars = Array(token.unicodeScalars)
                var lo = 0, hi = scalars.count
                if firstIndex == 0 { while lo < min(start, scalars.count), scalars[lo] == content { lo += 1 } }
                if firstIndex == 0 {
                    var removed = 0
                    while removed < stop, hi > lo, scalars[hi - 1] == content { hi -= 1; removed += 1 }
                }
                return String(scalars: scalars[lo..<hi])
            }
        case .replace(let pattern, let content):
            return tokens.map { pattern.replacingMatches(in: $0, with: content) }
        case .bpe(let suffix):
            return tokens.enumerated().map { i, token in
                guard !suffix.isEmpty else { return token }
                let scalars = Array(token.unicodeScalars)
                let pieces = TextPattern.literal(Array(suffix.unicodeScalars)).findMatches(token, scalars)
                let with = i == tokens.count - 1 && firstIndex == 0 ? "" : " "
                return pieces.map { $0.isMatch ? with : String(scalars: scalars[$0.range]) }.joined()
            }
        }
    }

    /// `<0xNN>` -> NN.
    static func byteValue(_ token: String) -> UInt8? {
        let u = Array(token.utf8)
        guard u.count == 6, u[0] == 0x3C, u[1] == 0x30, u[2] == 0x78, u[5] == 0x3E else { return nil }
        return UInt8(String(decoding: u[3..<5], as: UTF8.self), radix: 16)
    }

    private static let cleanupPairs: [([UInt8], [UInt8])] = [
        (" .", "."), (" ?", "?"), (" !", "!"), (" ,", ","), (" ' ", "'"), (" n't", "n't"), (" 'm", "'m"),
        (" do not", " don't"), (" 's", "'s"), (" 've", "'ve"), (" 're", "'re"),
    ].map { (Array($0.0.utf8), Array($0.1.utf8)) }

    /// WordPiece's `cleanup`: undo the spaces tokenization put before punctuation and contractions,
    /// each replacement over the whole string in turn. The patterns are ASCII, so replacing UTF-8
    /// bytes is exact.
    static func cleanup(_ s: String) -> String {
        var bytes = Array(s.utf8)
        guard bytes.contains(0x20) else { return s }
        for (from, to) in cleanupPairs {
            guard bytes.count >= from.count else { continue }
            var out: [UInt8] = []
            var i = 0, changed = false
            while i < bytes.count {
                if bytes[i] == 0x20, i + from.count <= bytes.count, bytes[i..<(i + from.count)].elementsEqual(from) {
                    if !changed { out.reserveCapacity(bytes.count); out.append(contentsOf: bytes[..<i]); changed = true }
                    out.append(contentsOf: to)
                    i += from.count
                } else {
                    if changed { out.append(bytes[i]) }
                    i += 1
                }
            }
            if changed { bytes = out }
        }
        return String(decoding: bytes, as: UTF8.self)
    }

    /// Whether the chain contains ByteFallback (whose `<0xNN>` tokens stand for raw bytes).
    var hasByteFallback: Bool {
        switch self {
        case .byteFallback: return true
        case .sequence(let list): return list.contains(where: \.hasByteFallback)
        default: return false
        }
    }

    var hasByteLevel: Bool {
        switch self {
        case .byteLevel: return true
        case .sequence(let list): return list.contains(where: \.hasByteLevel)
        default: return false
        }
    }
}
