// Byte-level BPE (GPT-2, SmolLM2, LLaMA 3, Qwen2 ...) as llama.cpp runs it from GGUF metadata.

import LanternFormats

/// A byte-level BPE tokenizer: special-token partition -> pre-tokenizer -> per-word BPE over bytes.
///
/// Invariants after `init`:
/// - every merge in `merges` joins two vocabulary ids into a vocabulary id, ranked by its line in
///   the merges list (lower merges first);
/// - `byteTokenID[b]` is the id of the one-byte token for byte `b`, or -1 when the vocabulary lacks
///   it (such a byte then yields no token, as in llama.cpp);
/// - the value is immutable, so it is `Sendable` and safe to share between threads.
public final class ByteLevelBPETokenizer: Tokenizer {
    public let vocabularySize: Int
    public let bosTokenID: Int?
    public let eosTokenID: Int?
    public let endOfGenerationIDs: Set<Int>
    public let addsBOS: Bool
    public let preTokenizer: PreTokenizer

    /// Vocabulary strings, in the GPT-2 byte alphabet for normal tokens and literal for special ones.
    private let tokens: [String]
    private let types: [TokenType]
    /// `tokenBytes(id)` is `byteStorage[byteOffsets[id] ..< byteOffsets[id + 1]]`.
    private let byteStorage: [UInt8]
    private let byteOffsets: [Int]
    private let byteTokenID: [Int32]
    /// `(left << 32 | right)` -> `(rank << 32 | merged id)`.
    private let merges: [UInt64: UInt64]
    /// Raw bytes of normal tokens -> id; only for pre-tokenizers with llama.cpp's `ignore_merges`.
    private let wholeWordID: [[UInt8]: Int32]
    /// Control, user-defined and unknown tokens matched in text.
    private let specials: SpecialTokenMatcher

    /// Texts of control tokens that end generation whatever the eos key says, for vocabularies that
    /// do not come from GGUF (tokenizer.json); `init(gguf:)` uses llama.cpp's rules instead
    /// (`LlamaCppTokenRules`).
    static let endOfGenerationTexts: Set<String> = [
        "<|eot_id|>", "<|im_end|>", "<|end|>", "<|return|>", "<|call|>", "<end_of_turn>", "<|endoftext|>",
        "<|eom_id|>", "<EOT>", "_<EOT>", "<|end_of_text|>", "<end_of_utterance>",
    ]

    /// Builds the tokenizer from GGUF metadata (`tokenizer.ggml.*` keys), as llama.cpp does for
    /// `tokenizer.ggml.model == "gpt2"`, including its text-based special-token rules
    /// (`LlamaCppTokenRules`: e.g. Qwen's ordinary `</s>` becomes a control token that ends generation).
    /// A missing `tokenizer.ggml.pre` means llama.cpp's "default".
    public convenience init(gguf metadata: [String: GGUFValue]) throws(TokenizerError) {
        let meta = MetadataReader(metadata)
        let model = try meta.string("tokenizer.ggml.model")
        guard model == "gpt2" else { throw .unsupportedModel(model) }
        let preName = try meta.optionalString("tokenizer.ggml.pre") ?? "default"
        let pre = try PreTokenizer(name: preName)
        let vocabulary = try meta.strings("tokenizer.ggml.tokens")
        let rawTypes = try meta.optionalInts("tokenizer.ggml.token_type") ?? []
        guard rawTypes.isEmpty || rawTypes.count == vocabulary.count else {
            throw .countMismatch(key: "tokenizer.ggml.token_type", count: rawTypes.count, expected: vocabulary.count)
        }
        let ids = try GGUFSpecialTokenIDs(meta, vocabularySize: vocabulary.count)
        var types = rawTypes.isEmpty ? [TokenType](repeating: .normal, count: vocabulary.count)
            : rawTypes.map { TokenType(rawValue: $0) ?? .normal }
        let eog = LlamaCppTokenRules.apply(texts: vocabulary, types: &types, ids: ids)
        try self.init(
            vocabulary: vocabulary,
            merges: try meta.strings("tokenizer.ggml.merges"),
            tokenTypes: types.map(\.rawValue),
            preTokenizer: preName,
            bosID: ids.bos,
            eosID: ids.eos,
            addBOS: try meta.optionalBool("tokenizer.ggml.add_bos_token") ?? pre.addsBOSByDefault,
            endOfGenerationIDs: eog)
    }

    /// - Parameters:
    ///   - vocabulary: token strings by id (normal tokens in the GPT-2 byte alphabet).
    ///   - merges: "left right" pairs, highest priority first (split at the first space after the
    ///     first character, so a left part cannot contain a space; byte-level vocabularies have none).
    ///   - tokenTypes: `TokenType` raw values by id; empty means all normal. Unknown values count as normal.
    ///   - preTokenizer: a `tokenizer.ggml.pre` name (see `PreTokenizer.init(name:)`).
    ///   - extraEndOfGenerationIDs: eot / eom ids besides eos.
    ///   - endOfGenerationIDs: the complete end-of-generation set; nil means eos, the extra ids and
    ///     the control tokens whose text is in `endOfGenerationTexts`.
    public init(vocabulary: [String], merges mergeList: [String], tokenTypes: [Int], preTokenizer: String,
                bosID: Int?, eosID: Int?, addBOS: Bool, extraEndOfGenerationIDs: [Int] = [],
                endOfGenerationIDs: Set<Int>? = nil) throws(TokenizerError) {
        let n = vocabulary.count
        guard n > 0 else { throw .emptyVocabulary }
        guard n < Int(Int32.max) else { throw .countMismatch(key: "tokenizer.ggml.tokens", count: n, expected: Int(Int32.max)) }
        guard tokenTypes.isEmpty || tokenTypes.count == n else {
            throw .countMismatch(key: "tokenizer.ggml.token_type", count: tokenTypes.count, expected: n)
        }
        for (key, id) in [("bos_token_id", bosID), ("eos_token_id", eosID)] {
            if let id, !(0..<n).contains(id) { throw .tokenIDOutOfRange(key: "tokenizer.ggml." + key, id: id, vocabularySize: n) }
        }
        for id in extraEndOfGenerationIDs + (endOfGenerationIDs ?? []) where !(0..<n).contains(id) {
            throw .tokenIDOutOfRange(key: "tokenizer.ggml.eot_token_id / eom_token_id", id: id, vocabularySize: n)
        }
        let pre = try PreTokenizer(name: preTokenizer)

        vocabularySize = n
        tokens = vocabulary
        types = tokenTypes.isEmpty ? Array(repeating: .normal, count: n)
            : tokenTypes.map { TokenType(rawValue: $0) ?? .normal }
        bosTokenID = bosID
        eosTokenID = eosID
        addsBOS = addBOS && bosID != nil
        self.preTokenizer = pre

        // llama.cpp keeps the last id for a duplicated string; so do we.
        var idForText: [String: Int32] = [:]
        idForText.reserveCapacity(n)
        for (id, text) in vocabulary.enumerated() { idForText[text] = Int32(id) }

        var storage: [UInt8] = []
        var offsets: [Int] = [0]
        offsets.reserveCapacity(n + 1)
        for id in 0..<n {
            let text = vocabulary[id]
            storage.append(contentsOf: types[id].isLiteralText ? Array(text.utf8) : ByteLevel.decode(text))
            offsets.append(storage.count)
        }
        byteStorage = storage
        byteOffsets = offsets

        byteTokenID = (0..<256).map { b in idForText[String(ByteLevel.scalarForByte[b])] ?? -1 }

        // A merge whose parts or result are not in the vocabulary can never fire on ids; it is dropped.
        var table: [UInt64: UInt64] = [:]
        table.reserveCapacity(mergeList.count)
        for (rank, entry) in mergeList.enumerated() {
            // Split at the first space after the first character, as llama.cpp does.
            let scalars = entry.unicodeScalars
            guard !scalars.isEmpty,
                  let space = scalars[scalars.index(after: scalars.startIndex)...].firstIndex(of: " ") else {
                throw .badMerge(index: rank, entry: entry)
            }
            let left = String(scalars[..<space])
            let right = String(scalars[scalars.index(after: space)...])
            guard !right.isEmpty else { throw .badMerge(index: rank, entry: entry) }
            guard let l = idForText[left], let r = idForText[right], let m = idForText[left + right] else { continue }
            let key = UInt64(UInt32(l)) << 32 | UInt64(UInt32(r))
            if table[key] == nil { table[key] = UInt64(UInt32(rank)) << 32 | UInt64(UInt32(m)) }
        }
        merges = table

        var whole: [[UInt8]: Int32] = [:]
        if pre.ignoresMerges {
            for id in 0..<n where types[id] == .normal {
                whole[Array(storage[offsets[id]..<offsets[id + 1]])] = Int32(id)
            }
        }
        wholeWordID = whole

        var special: [(id: Int, bytes: [UInt8], alwaysMatched: Bool)] = []
        for id in 0..<n where types[id].isLiteralText {
            special.append((id, Array(vocabulary[id].utf8), types[id] == .userDefined))
        }
        specials = SpecialTokenMatcher(special)

        if let endOfGenerationIDs {
            self.endOfGenerationIDs = endOfGenerationIDs
        } else {
            var eog = Set(extraEndOfGenerationIDs)
            if let eosID { eog.insert(eosID) }
            for text in Self.endOfGenerationTexts {
                if let id = idForText[text] { eog.insert(Int(id)) }
            }
            self.endOfGenerationIDs = eog
        }
    }

    // MARK: - Tokenizer

    public func tokenText(_ id: Int) -> String? { (0..<vocabularySize).contains(id) ? tokens[id] : nil }

    public func tokenBytes(_ id: Int) -> [UInt8] {
        guard (0..<vocabularySize).contains(id) else { return [] }
        return Array(byteStorage[byteOffsets[id]..<byteOffsets[id + 1]])
    }

    public func isSpecial(_ id: Int) -> Bool {
        (0..<vocabularySize).contains(id) && types[id].isSkippedWhenNotSpecial
    }

    /// The token type of `id` (nil outside the vocabulary).
    public func tokenType(_ id: Int) -> TokenType? { (0..<vocabularySize).contains(id) ? types[id] : nil }

    /// Ids outside the vocabulary are skipped; ill-formed UTF-8 (e.g. a lone half of a character)
    /// becomes U+FFFD.
    public func decode(_ ids: [Int], skipSpecial: Bool) -> String {
        var bytes: [UInt8] = []
        bytes.reserveCapacity(ids.count * 4)
        for id in ids where (0..<vocabularySize).contains(id) {
            if skipSpecial && types[id].isSkippedWhenNotSpecial { continue }
            bytes.append(contentsOf: byteStorage[byteOffsets[id]..<byteOffsets[id + 1]])
        }
        return String(decoding: bytes, as: UTF8.self)
    }

    public func encode(_ text: String, parseSpecial: Bool, addBOS: Bool) -> [Int] {
        var out: [Int] = []
        if addBOS, let bos = bosTokenID { out.append(bos) }
        let bytes = Array(text.utf8)
        out.reserveCapacity(out.count + bytes.count / 3)
        // Per-call cache: long texts repeat words a lot; keeping it local keeps the type immutable.
        var cache: [ArraySlice<UInt8>: [Int32]] = [:]
        var scratch = BPEScratch()
        for fragment in partition(bytes, parseSpecial: parseSpecial) {
            switch fragment {
            case .special(let id):
                out.append(id)
            case .text(let range):
                let scalars = ScalarText(utf8: bytes[range])
                guard scalars.byteOffsets.last == range.count else { continue }  // cannot happen for a String
                for piece in preTokenizer.split(scalars) {
                    let word = bytes[(range.lowerBound + scalars.byteOffsets[piece.lowerBound])
                                     ..< (range.lowerBound + scalars.byteOffsets[piece.upperBound])]
                    if let ids = cache[word] {
                        for id in ids { out.append(Int(id)) }
                        continue
                    }
                    let ids = bpe(word, scratch: &scratch)
                    for id in ids { out.append(Int(id)) }
                    cache[word] = ids
                }
            }
        }
        return out
    }

    // MARK: - Special tokens

    /// llama.cpp's `tokenizer_st_partition` (see `SpecialTokenMatcher`).
    func partition(_ bytes: [UInt8], parseSpecial: Bool) -> [Fragment] {
        specials.partition(bytes, parseSpecial: parseSpecial)
    }

    // MARK: - BPE

    /// Merges one pre-token's bytes: start from one symbol per byte and repeatedly apply the
    /// lowest-ranked merge among adjacent pairs (leftmost first on ties), as llama.cpp and HF do.
    /// Symbols form a doubly linked list over the byte positions; a priority queue holds candidate
    /// pairs and stale entries (a side already merged) are recognised and dropped when popped.
    func bpe(_ word: ArraySlice<UInt8>, scratch s: inout BPEScratch) -> [Int32] {
        if word.count == 1 {
            let id = byteTokenID[Int(word[word.startIndex])]
            return id >= 0 ? [id] : []
        }
        if !wholeWordID.isEmpty, let id = wholeWordID[Array(word)] { return [id] }

        let n = word.count
        s.ids.removeAll(keepingCapacity: true)
        s.prev.removeAll(keepingCapacity: true)
        s.next.removeAll(keepingCapacity: true)
        s.heap.removeAll(keepingCapacity: true)
        for (i, b) in word.enumerated() {
            s.ids.append(byteTokenID[Int(b)])
            s.prev.append(Int32(i - 1))
            s.next.append(i + 1 < n ? Int32(i + 1) : -1)
        }
        for i in 0..<(n - 1) { pushCandidate(Int32(i), Int32(i + 1), &s) }

        while let c = s.heap.popMin() {
            let l = Int(c.left), r = Int(c.right)
            // Stale if either side has changed since the pair was queued (ids only grow, so equal
            // ids at the same positions mean the same symbols).
            guard s.next[l] == c.right, s.ids[l] == c.leftID, s.ids[r] == c.rightID else { continue }
            s.ids[l] = c.merged
            s.ids[r] = -2                          // dead
            let after = s.next[r]
            s.next[l] = after
            if after >= 0 { s.prev[Int(after)] = Int32(l) }
            if s.prev[l] >= 0 { pushCandidate(s.prev[l], Int32(l), &s) }
            if after >= 0 { pushCandidate(Int32(l), after, &s) }
        }

        var result: [Int32] = []
        var i: Int32 = 0                            // symbol 0 is never merged away
        while i >= 0 {
            if s.ids[Int(i)] >= 0 { result.append(s.ids[Int(i)]) }
            i = s.next[Int(i)]
        }
        return result
    }

    private func pushCandidate(_ l: Int32, _ r: Int32, _ s: inout BPEScratch) {
        let a = s.ids[Int(l)], b = s.ids[Int(r)]
        guard a >= 0, b >= 0, let m = merges[UInt64(UInt32(a)) << 32 | UInt64(UInt32(b))] else { return }
        s.heap.push(MergeCandidate(rank: Int32(truncatingIfNeeded: m >> 32), left: l, right: r,
                                   leftID: a, rightID: b, merged: Int32(truncatingIfNeeded: m & 0xFFFF_FFFF)))
    }
}

/// Reused buffers of `bpe`, so one `encode` call allocates them once.
struct BPEScratch {
    var ids: [Int32] = []
    var prev: [Int32] = []
    var next: [Int32] = []
    var heap = MinHeap<MergeCandidate>()
}

struct MergeCandidate: Comparable {
    var rank: Int32, left: Int32, right: Int32, leftID: Int32, rightID: Int32, merged: Int32
    static func < (a: Self, b: Self) -> Bool { a.rank != b.rank ? a.rank < b.rank : a.left < b.left }
}

/// A plain binary min-heap.
struct MinHeap<Element: Comparable> {
    private var items: [Element] = []

    mutating func removeAll(keepingCapacity: Bool) { items.removeAll(keepingCapacity: keepingCapacity) }

    mutating func push(_ e: Element) {
        items.append(e)
        var i = items.count - 1
        while i > 0 {
            let parent = (i - 1) / 2
            guard items[i] < items[parent] else { break }
            items.swapAt(i, parent)
            i = parent
        }
    }

    mutating func popMin() -> Element? {
        guard let last = items.popLast() else { return nil }
        guard !items.isEmpty else { return last }
        let top = items[0]
        items[0] = last
        var i = 0
        while true {
            let l = 2 * i + 1, r = l + 1
            var m = i
            if l < items.count, items[l] < items[m] { m = l }
            if r < items.count, items[r] < items[m] { m = r }
            if m == i { break }
            items.swapAt(i, m)
            i = m
        }
        return top
    }
}

/// Typed access to GGUF metadata with the key in every error.
struct MetadataReader {
    let metadata: [String: GGUFValue]
    init(_ metadata: [String: GGUFValue]) { self.metadata = metadata }

    func optionalString(_ key: String) throws(TokenizerError) -> String? {
        guard let v = metadata[key] else { return nil }
        guard let s = v.string else { throw .wrongType(key: key, expected: "str", found: v.typeName) }
        return s
    }

    func string(_ key: String) throws(TokenizerError) -> String {
        guard let s = try optionalString(key) else { throw .missingKey(key) }
        return s
    }

    func optionalInt(_ key: String) throws(TokenizerError) -> Int? {
        guard let v = metadata[key] else { return nil }
        guard let i = v.int else { throw .wrongType(key: key, expected: "integer", found: v.typeName) }
        return i
    }

    func optionalBool(_ key: String) throws(TokenizerError) -> Bool? {
        guard let v = metadata[key] else { return nil }
        guard let b = v.bool else { throw .wrongType(key: key, expected: "bool", found: v.typeName) }
        return b
    }

    func strings(_ key: String) throws(TokenizerError) -> [String] {
        guard let v = metadata[key] else { throw .missingKey(key) }
        guard let a = v.array else { throw .wrongType(key: key, expected: "arr[str]", found: v.typeName) }
        var out: [String] = []
        out.reserveCapacity(a.count)
        for e in a {
            guard let s = e.string else { throw .wrongType(key: key, expected: "arr[str]", found: v.typeName) }
            out.append(s)
        }
        return out
    }

    func optionalInts(_ key: String) throws(TokenizerError) -> [Int]? {
        guard let v = metadata[key] else { return nil }
        guard let a = v.array else { throw .wrongType(key: key, expected: "arr[int]", found: v.typeName) }
        var out: [Int] = []
        out.reserveCapacity(a.count)
        for e in a {
            guard let i = e.int else { throw .wrongType(key: key, expected: "arr[int]", found: v.typeName) }
            out.append(i)
        }
        return out
    }
}
