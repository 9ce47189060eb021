// SentencePiece BPE vocabularies (LLaMA 1/2, Mistral, Gemma ...) as llama.cpp runs them from GGUF
// metadata (`tokenizer.ggml.model == "llama"`).

import LanternFormats

/// llama.cpp's SPM tokenizer: special-token partition -> whitespace escaping -> score-ordered merges
/// over UTF-8 characters -> byte fallback.
///
/// Encoding a text fragment: spaces become U+2581 ("▁"), and one "▁" is put in front when
/// `addsSpacePrefix` and the fragment starts the text or follows a special token. The fragment is
/// split into UTF-8 characters; repeatedly the adjacent pair whose concatenation is a vocabulary
/// token with the highest score is merged (equal scores: the leftmost pair). A final symbol that is
/// not a token (a character the vocabulary lacks) becomes its bytes' `<0xXX>` tokens.
///
/// Decoding (`decode`, as `llama_detokenize` with `remove_special` off): normal tokens with "▁" as
/// space, byte tokens as their byte, user-defined tokens as their text, control and unknown tokens
/// as their text only when `skipSpecial` is false, unused tokens as nothing; with `addsSpacePrefix`
/// the first token loses one leading space. `tokenBytes` is the per-token piece without that
/// removal (llama.cpp's `token_to_piece`, which its streaming output uses too).
///
/// Invariants after `init`: `pieces` holds every token's text bytes and `rendered` every token's
/// decoded bytes, indexed by `*Offsets[id] ..< *Offsets[id + 1]`; `lookup` maps a text to the last id
/// carrying it (as llama.cpp's map does); `byteTokenID[b]` is the token standing for byte `b` (or -1).
/// The value is immutable, so it is `Sendable` and safe to share between threads.
public final class SentencePieceTokenizer: Tokenizer {
    public let vocabularySize: Int
    public let bosTokenID: Int?
    public let eosTokenID: Int?
    public let unknownTokenID: Int?
    public let paddingTokenID: Int?
    public let endOfGenerationIDs: Set<Int>
    public let addsBOS: Bool
    /// `tokenizer.ggml.add_eos_token`: `encode(..., addBOS: true)` also appends EOS, as llama.cpp's
    /// `add_special` does. False for every model Lantern ships.
    public let addsEOS: Bool
    /// `tokenizer.ggml.add_space_prefix` (llama.cpp's default for SPM: true; Gemma 3 stores false).
    public let addsSpacePrefix: Bool

    private let tokens: [String]
    private let types: [TokenType]
    private let scores: [Float]
    private let pieces: [UInt8]
    private let pieceOffsets: [Int]
    private let rendered: [UInt8]
    private let renderedOffsets: [Int]
    private let lookup: PieceTable
    private let byteTokenID: [Int32]
    private let specials: SpecialTokenMatcher

    /// Builds the tokenizer from GGUF metadata (`tokenizer.ggml.*` keys) as llama.cpp's loader does for
    /// `tokenizer.ggml.model == "llama"`, including its text-based special-token rules
    /// (`LlamaCppTokenRules`). Absent keys take llama.cpp's SPM defaults: bos 1, eos 2, unknown 0 (each
    /// only if inside the vocabulary), add_bos true, add_eos false, add_space_prefix true, scores 0,
    /// all tokens normal.
    public convenience init(gguf metadata: [String: GGUFValue]) throws(TokenizerError) {
        let meta = MetadataReader(metadata)
        let model = try meta.string("tokenizer.ggml.model")
        guard model == "llama" else { throw .unsupportedModel(model) }
        let vocabulary = try meta.strings("tokenizer.ggml.tokens")
        let n = vocabulary.count
        guard n > 0 else { throw .emptyVocabulary }
        let scores = try meta.optionalFloats("tokenizer.ggml.scores") ?? []
        guard scores.isEmpty || scores.count >= n else {
            throw .countMismatch(key: "tokenizer.ggml.scores", count: scores.count, expected: n)
        }
        let rawTypes = try meta.optionalInts("tokenizer.ggml.token_type") ?? []
        guard rawTypes.isEmpty || rawTypes.count >= n else {
            throw .countMismatch(key: "tokenizer.ggml.token_type", count: rawTypes.count, expected: n)
        }
        var ids = try GGUFSpecialTokenIDs(meta, vocabularySize: n)
        func orDefault(_ given: Int?, _ fallback: Int) -> Int? { given ?? (fallback < n ? fallback : nil) }
        ids.bos = orDefault(ids.bos, 1)
        ids.eos = orDefault(ids.eos, 2)
        ids.unknown = orDefault(ids.unknown, 0)

        // Types as llama.cpp reads them (values it does not know are "undefined"), then its fix-ups.
        var types = rawTypes.isEmpty ? [TokenType](repeating: .normal, count: n)
            : rawTypes.prefix(n).map { TokenType(rawValue: $0) ?? .undefined }
        let eog = LlamaCppTokenRules.apply(texts: vocabulary, types: &types, ids: ids)

        try self.init(vocabulary: vocabulary, scores: Array(scores.prefix(n)), tokenTypes: types, specialIDs: ids,
                      addBOS: try meta.optionalBool("tokenizer.ggml.add_bos_token") ?? true,
                      addEOS: try meta.optionalBool("tokenizer.ggml.add_eos_token") ?? false,
                      addSpacePrefix: try meta.optionalBool("tokenizer.ggml.add_space_prefix") ?? true,
                      endOfGenerationIDs: eog)
    }

    /// - Parameters:
    ///   - vocabulary: token texts by id, with "▁" for a space and `<0xXX>` for byte tokens.
    ///   - scores: merge priority by id (higher merges first); empty means all 0.
    ///   - tokenTypes: by id; empty means all normal. No rules are applied here (`init(gguf:)` does).
    ///   - specialIDs: bos, eos, unknown and padding are used; the others only through `endOfGenerationIDs`.
    ///   - endOfGenerationIDs: nil means eos alone.
    public init(vocabulary: [String], scores: [Float], tokenTypes: [TokenType], specialIDs: GGUFSpecialTokenIDs,
                addBOS: Bool, addEOS: Bool = false, addSpacePrefix: Bool,
                endOfGenerationIDs: Set<Int>? = nil) throws(TokenizerError) {
        let n = vocabulary.count
        guard n > 0 else { throw .emptyVocabulary }
        guard n < Int(Int32.max) else { throw .countMismatch(key: "tokenizer.ggml.tokens", count: n, expected: Int(Int32.max)) }
        guard scores.isEmpty || scores.count == n else {
            throw .countMismatch(key: "tokenizer.ggml.scores", count: scores.count, expected: n)
        }
        guard tokenTypes.isEmpty || tokenTypes.count == n else {
            throw .countMismatch(key: "tokenizer.ggml.token_type", count: tokenTypes.count, expected: n)
        }
        let named = [("bos_token_id", specialIDs.bos), ("eos_token_id", specialIDs.eos),
                     ("unknown_token_id", specialIDs.unknown), ("padding_token_id", specialIDs.padding)]
        for (key, id) in named {
            if let id, !(0..<n).contains(id) { throw .tokenIDOutOfRange(key: "tokenizer.ggml." + key, id: id, vocabularySize: n) }
        }
        for id in endOfGenerationIDs ?? [] where !(0..<n).contains(id) {
            throw .tokenIDOutOfRange(key: "end-of-generation ids", id: id, vocabularySize: n)
        }

        vocabularySize = n
        tokens = vocabulary
        types = tokenTypes.isEmpty ? [TokenType](repeating: .normal, count: n) : tokenTypes
        self.scores = scores.isEmpty ? [Float](repeating: 0, count: n) : scores
        bosTokenID = specialIDs.bos
        eosTokenID = specialIDs.eos
        unknownTokenID = specialIDs.unknown
        paddingTokenID = specialIDs.padding
        addsBOS = addBOS && specialIDs.bos != nil
        addsEOS = addEOS && specialIDs.eos != nil
        addsSpacePrefix = addSpacePrefix
        self.endOfGenerationIDs = endOfGenerationIDs ?? Set([specialIDs.eos].compactMap { $0 })

        var pieces: [UInt8] = []
        var pieceOffsets: [Int] = [0]
        var rendered: [UInt8] = []
        var renderedOffsets: [Int] = [0]
        pieceOffsets.reserveCapacity(n + 1)
        renderedOffsets.reserveCapacity(n + 1)
        for id in 0..<n {
            let start = pieces.count
            pieces.append(contentsOf: vocabulary[id].utf8)
            let text = pieces[start...]
            switch types[id] {
            case .normal:
                Self.unescapeSpaces(text, into: &rendered)
            case .byte:
                if let b = Self.byteValue(text) { rendered.append(b) }
            case .control, .userDefined, .unknown:
                rendered.append(contentsOf: text)
            case .unused, .undefined:
                break
            }
            pieceOffsets.append(pieces.count)
            renderedOffsets.append(rendered.count)
        }
        self.pieces = pieces
        self.pieceOffsets = pieceOffsets
        self.rendered = rendered
        self.renderedOffsets = renderedOffsets
        let lookup = PieceTable(pieces: pieces, offsets: pieceOffsets)
        self.lookup = lookup

        // llama.cpp's byte_to_token: "<0xXX>" (upper-case hex), else the one-byte text itself.
        let hex = Array("0123456789ABCDEF".utf8)
        byteTokenID = (0..<256).map { b -> Int32 in
            let name: [UInt8] = [0x3C, 0x30, 0x78, hex[b >> 4], hex[b & 15], 0x3E]    // <0xXX>
            let id = name.withUnsafeBufferPointer { lookup.find($0) }
            if id >= 0 { return id }
            return [UInt8(b)].withUnsafeBufferPointer { lookup.find($0) }
        }

        var special: [(id: Int, bytes: [UInt8], alwaysMatched: Bool)] = []
        for id in 0..<n where types[id].isLiteralText {
            special.append((id, Array(pieces[pieceOffsets[id]..<pieceOffsets[id + 1]]), types[id] == .userDefined))
        }
        specials = SpecialTokenMatcher(special)
    }

    // MARK: - Tokenizer

    public func tokenText(_ id: Int) -> String? { (0..<vocabularySize).contains(id) ? tokens[id] : nil }

    public func tokenBytes(_ id: Int) -> [UInt8] {
        guard (0..<vocabularySize).contains(id) else { return [] }
        return Array(rendered[renderedOffsets[id]..<renderedOffsets[id + 1]])
    }

    public func isSpecial(_ id: Int) -> Bool {
        (0..<vocabularySize).contains(id) && types[id].isSkippedWhenNotSpecial
    }

    /// The token type of `id` after llama.cpp's rules (nil outside the vocabulary).
    public func tokenType(_ id: Int) -> TokenType? { (0..<vocabularySize).contains(id) ? types[id] : nil }

    /// The merge score of `id` (nil outside the vocabulary).
    public func score(_ id: Int) -> Float? { (0..<vocabularySize).contains(id) ? scores[id] : nil }

    /// Ids outside the vocabulary are skipped (they do not count as the first token); ill-formed
    /// UTF-8 (a byte token without the rest of its character) becomes U+FFFD.
    public func decode(_ ids: [Int], skipSpecial: Bool) -> String {
        var bytes: [UInt8] = []
        bytes.reserveCapacity(ids.count * 6)
        var first = true
        for id in ids where (0..<vocabularySize).contains(id) {
            defer { first = false }
            if skipSpecial && types[id].isSkippedWhenNotSpecial { continue }
            var start = renderedOffsets[id]
            let end = renderedOffsets[id + 1]
            if first && addsSpacePrefix && start < end && rendered[start] == 0x20 { start += 1 }
            bytes.append(contentsOf: rendered[start..<end])
        }
        return String(decoding: bytes, as: UTF8.self)
    }

    /// - Parameter addBOS: llama.cpp's `add_special`: BOS first, and EOS last when `addsEOS`.
    public func encode(_ text: String, parseSpecial: Bool, addBOS: Bool) -> [Int] {
        var out: [Int] = []
        if addBOS, let bos = bosTokenID { out.append(bos) }
        let bytes = Array(text.utf8)
        out.reserveCapacity(out.count + bytes.count / 3 + 2)
        var scratch = SPMScratch()
        var previousWasSpecial = true
        for fragment in specials.partition(bytes, parseSpecial: parseSpecial) {
            switch fragment {
            case .special(let id):
                out.append(id)
                previousWasSpecial = true
            case .text(let range):
                scratch.text.removeAll(keepingCapacity: true)
                if addsSpacePrefix && previousWasSpecial { scratch.text.append(contentsOf: Self.spaceMark) }
                for b in bytes[range] {
                    if b == 0x20 { scratch.text.append(contentsOf: Self.spaceMark) } else { scratch.text.append(b) }
                }
                merge(&scratch, into: &out)
                previousWasSpecial = false
            }
        }
        if addBOS && addsEOS, let eos = eosTokenID { out.append(eos) }
        return out
    }

    // MARK: - Merging

    /// U+2581 LOWER ONE EIGHTH BLOCK, SentencePiece's visible space.
    static let spaceMark: [UInt8] = [0xE2, 0x96, 0x81]

    /// Tokenizes `s.text` (already escaped) and appends the ids.
    ///
    /// Symbols are UTF-8 characters in a doubly linked list over `s.start/length/prev/next`; the heap
    /// holds candidate pairs by score. A popped pair is stale when either side has been merged since
    /// (its length is 0 or the pair's combined length changed: lengths only grow), so it is dropped.
    private func merge(_ s: inout SPMScratch, into out: inout [Int]) {
        let n = s.text.count
        guard n > 0 else { return }
        s.start.removeAll(keepingCapacity: true)
        s.length.removeAll(keepingCapacity: true)
        s.prev.removeAll(keepingCapacity: true)
        s.next.removeAll(keepingCapacity: true)
        s.heap.removeAll(keepingCapacity: true)

        // UTF-8 sequence length from the lead byte's high nibble, as llama.cpp's unicode_len_utf8.
        let lengths: [Int] = [1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 2, 2, 3, 4]
        var offset = 0
        while offset < n {
            let len = min(lengths[Int(s.text[offset] >> 4)], n - offset)
            let index = Int32(s.start.count)
            s.start.append(Int32(offset))
            s.length.append(Int32(len))
            s.prev.append(index - 1)
            offset += len
            s.next.append(offset == n ? -1 : index + 1)
        }

        let escaped = s.text    // shares storage; `s` is mutated below while the text is read
        escaped.withUnsafeBufferPointer { text in
            func candidate(_ l: Int32, _ r: Int32, _ s: inout SPMScratch) {
                guard l >= 0, r >= 0 else { return }
                let start = Int(s.start[Int(l)])
                let size = Int(s.length[Int(l)] + s.length[Int(r)])
                let id = lookup.find(UnsafeBufferPointer(rebasing: text[start..<(start + size)]))
                guard id >= 0 else { return }
                s.heap.push(SPMBigram(score: scores[Int(id)], left: l, right: r, size: Int32(size)))
            }
            for i in 1..<Int32(s.start.count) { candidate(i - 1, i, &s) }

            while let bigram = s.heap.popMin() {
                let l = Int(bigram.left), r = Int(bigram.right)
                guard s.length[l] > 0, s.length[r] > 0, s.length[l] + s.length[r] == bigram.size else { continue }
                s.length[l] += s.length[r]
                s.length[r] = 0
                s.next[l] = s.next[r]
                if s.next[r] >= 0 { s.prev[Int(s.next[r])] = bigram.left }
                candidate(s.prev[l], bigram.left, &s)
                candidate(bigram.left, s.next[l], &s)
            }

            var i: Int32 = 0
            while i >= 0 {
                let start = Int(s.start[Int(i)]), size = Int(s.length[Int(i)])
                let id = lookup.find(UnsafeBufferPointer(rebasing: text[start..<(start + size)]))
                if id >= 0 {
                    out.append(Int(id))
                } else {
                    // Only a single character the vocabulary lacks gets here (merged symbols are tokens).
                    for b in text[start..<(start + size)] {
                        let byteID = byteTokenID[Int(b)]
                        if byteID >= 0 { out.append(Int(byteID)) } else if let unk = unknownTokenID { out.append(unk) }
                    }
                }
                i = s.next[Int(i)]
            }
        }
    }

    // MARK: - Loading helpers

    /// Appends `text` with every "▁" turned back into a space.
    static func unescapeSpaces(_ text: ArraySlice<UInt8>, into out: inout [UInt8]) {
        var i = text.startIndex
        while i < text.endIndex {
            if text[i] == 0xE2, i + 2 < text.endIndex, text[i + 1] == 0x96, text[i + 2] == 0x81 {
                out.append(0x20)
                i += 3
            } else {
                out.append(text[i])
                i += 1
            }
        }
    }

    /// The byte of a `<0xXX>` token text, nil for any other text.
    static func byteValue(_ text: ArraySlice<UInt8>) -> UInt8? {
        let t = Array(text)
        guard t.count == 6, t[0] == 0x3C, t[1] == 0x30, t[2] == 0x78, t[5] == 0x3E else { return nil }
        func nibble(_ c: UInt8) -> UInt8? {
            switch c {
            case 0x30...0x39: return c - 0x30
            case 0x41...0x46: return c - 0x41 + 10
            case 0x61...0x66: return c - 0x61 + 10
            default: return nil
            }
        }
        guard let hi = nibble(t[3]), let lo = nibble(t[4]) else { return nil }
        return hi << 4 | lo
    }
}

/// Reused buffers of `merge`, so one `encode` call allocates them once.
struct SPMScratch {
    var text: [UInt8] = []
    var start: [Int32] = []
    var length: [Int32] = []
    var prev: [Int32] = []
    var next: [Int32] = []
    var heap = MinHeap<SPMBigram>()
}

/// A candidate merge; "smaller" means "merge first": the higher score, then the leftmost pair.
struct SPMBigram: Comparable {
    var score: Float
    var left: Int32
    var right: Int32
    var size: Int32
    static func < (a: Self, b: Self) -> Bool { a.score != b.score ? a.score > b.score : a.left < b.left }
}

/// Token text bytes -> id, by open addressing over one byte buffer, so a lookup of a slice of the
/// text being tokenized allocates nothing. A text held by several ids maps to the last of them.
struct PieceTable: Sendable {
    private let slots: [Int32]
    private let mask: Int
    private let pieces: [UInt8]
    private let offsets: [Int]

    init(pieces: [UInt8], offsets: [Int]) {
        self.pieces = pieces
        self.offsets = offsets
        let n = offsets.count - 1
        var capacity = 16
        while capacity < 2 * n { capacity <<= 1 }
        mask = capacity - 1
        var slots = [Int32](repeating: -1, count: capacity)
        pieces.withUnsafeBufferPointer { all in
            for id in 0..<n {
                let key = UnsafeBufferPointer(rebasing: all[offsets[id]..<offsets[id + 1]])
                var slot = Self.hash(key) & (capacity - 1)
                while slots[slot] >= 0 {
                    let other = Int(slots[slot])
                    if Self.equal(key, UnsafeBufferPointer(rebasing: all[offsets[other]..<offsets[other + 1]])) { break }
                    slot = (slot + 1) & (capacity - 1)
                }
                slots[slot] = Int32(id)
            }
        }
        self.slots = slots
    }

    /// The id whose text is exactly `key`, or -1.
    func find(_ key: UnsafeBufferPointer<UInt8>) -> Int32 {
        var slot = Self.hash(key) & mask
        return pieces.withUnsafeBufferPointer { all in
            while true {
                let id = slots[slot]
                if id < 0 { return -1 }
                if Self.equal(key, UnsafeBufferPointer(rebasing: all[offsets[Int(id)]..<offsets[Int(id) + 1]])) { return id }
                slot = (slot + 1) & mask
            }
        }
    }

    /// FNV-1a, 64 bits.
    private static func hash(_ key: UnsafeBufferPointer<UInt8>) -> Int {
        var h: UInt64 = 0xcbf2_9ce4_8422_2325
        for b in key { h = (h ^ UInt64(b)) &* 0x100_0000_01b3 }
        return Int(truncatingIfNeeded: h ^ (h >> 29))
    }

    private static func equal(_ a: UnsafeBufferPointer<UInt8>, _ b: UnsafeBufferPointer<UInt8>) -> Bool {
        guard a.count == b.count else { return false }
        for i in 0..<a.count where a[i] != b[i] { return false }
        return true
    }
}
