// Turning generated ids into text one token at a time without ever printing half a character.

/// Feeds token ids one at a time and hands back only complete UTF-8 text.
///
/// A byte-level token may end in the middle of a character (an emoji is often 2-4 tokens), so the
/// bytes of an incomplete trailing sequence are held back until the next tokens complete it.
/// Invariant: the concatenation of every `append` result and the final `flush` equals
/// `tokenizer.decode(allIDs, skipSpecial:)`, including U+FFFD for bytes that can never form a
/// character, because text is only cut where the UTF-8 decoder holds no partial state.
public struct StreamingDetokenizer: Sendable {
    public let tokenizer: any Tokenizer
    public let skipSpecial: Bool
    /// Bytes not yet returned: at most a prefix (1-3 bytes) of one UTF-8 character after each `append`.
    private var pending: [UInt8] = []

    public init(tokenizer: any Tokenizer, skipSpecial: Bool) {
        self.tokenizer = tokenizer
        self.skipSpecial = skipSpecial
    }

    /// The text that became complete with this token (often empty in the middle of a character).
    public mutating func append(_ id: Int) -> String {
        if skipSpecial && tokenizer.isSpecial(id) { return "" }
        pending.append(contentsOf: tokenizer.tokenBytes(id))
        let keep = Self.incompleteSuffixLength(pending)
        let readyCount = pending.count - keep
        guard readyCount > 0 else { return "" }
        let text = String(decoding: pending[..<readyCount], as: UTF8.self)
        pending.removeFirst(readyCount)
        return text
    }

    /// Whatever is still held back (an unfinished character becomes U+FFFD), then starts afresh.
    public mutating func flush() -> String {
        defer { pending.removeAll() }
        return pending.isEmpty ? "" : String(decoding: pending, as: UTF8.self)
    }

    /// The number of trailing bytes that are a proper prefix of a well-formed UTF-8 sequence and
    /// could still be completed by later bytes (0 if the bytes end on a character boundary or in
    /// an error a decoder would already replace).
    static func incompleteSuffixLength(_ bytes: [UInt8]) -> Int {
        let n = bytes.count
        for k in 1...3 where k <= n {
            let lead = bytes[n - k]
            if lead & 0xC0 == 0x80 { continue }            // continuation byte: look further back
            let length: Int
            switch lead {
            case 0xC2...0xDF: length = 2
            case 0xE0...0xEF: length = 3
            case 0xF0...0xF4: length = 4
            default: return 0                              // ASCII or a byte that never starts a character
            }
            guard k < length else { return 0 }             // the sequence is complete
            if k >= 2 {
                // The second byte's allowed range depends on the lead (no overlongs, surrogates, > U+10FFFF).
                let second = bytes[n - k + 1]
                let range: ClosedRange<UInt8>
                switch lead {
                case 0xE0: range = 0xA0...0xBF
                case 0xED: range = 0x80...0x9F
                case 0xF0: range = 0x90...0xBF
                case 0xF4: range = 0x80...0x8F
                default: range = 0x80...0xBF
                }
                guard range.contains(second) else { return 0 }
            }
            return k
        }
        return 0
    }
}
