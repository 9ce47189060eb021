// The tokenizer.json BPE model (`tokenizers::models::bpe`): characters -> merges by rank.

/// One token produced by a model: its id and, where it differs from the vocabulary string (a
/// Unigram unknown piece keeps its surface text), the token string `tokenizers` reports.
struct ModelToken: Sendable, Equatable {
    var id: Int32
    var surface: String? = nil
}

/// The models tokenizer.json can name. Each tokenizes one pre-token.
enum TokenModel: Sendable {
    case bpe(BPEModel)
    case wordPiece(WordPieceModel)
    case unigram(UnigramModel)

    func tokenize(_ word: String, into out: inout [ModelToken]) {
        switch self {
        case .bpe(let m): m.tokenize(word, into: &out)
        case .wordPiece(let m): m.tokenize(word, into: &out)
        case .unigram(let m): m.tokenize(word, into: &out)
        }
    }

    /// The model's id for a token string (`Model::token_to_id`).
    func id(of token: String) -> Int? {
        switch self {
        case .bpe(let m): return m.vocab[token]
        case .wordPiece(let m): return m.vocab[token]
        case .unigram(let m): return m.ids[token]
        }
    }

    /// Token strings by id (nil for ids the model has no string for).
    var tokens: [String?] {
        switch self {
        case .bpe(let m): return m.tokens
        case .wordPiece(let m): return m.tokens
        case .unigram(let m): return m.tokens
        }
    }
}

/// Builds `tokens[id]` from a string -> id map; ids were range-checked by the loader.
func tokensByID(_ vocab: [String: Int], count: Int) -> [String?] {
    var out = [String?](repeating: nil, count: count)
    for (text, id) in vocab where (0..<count).contains(id) { out[id] = text }
    return out
}

/// Invariants: every merge joins two vocabulary ids into a vocabulary id; `byteIDs[b]` is the id
/// of `<0xNN>` for byte `b`, or -1.
struct BPEModel: Sendable {
    let vocab: [String: Int]
    let tokens: [String?]
    /// `(left << 32 | right)` -> `(rank << 32 | merged id)`.
    let merges: [UInt64: UInt64]
    let unkID: Int32?
    let continuingSubwordPrefix: String?
    let endOfWordSuffix: String?
    let byteFallback: Bool
    let fuseUnk: Bool
    let ignoreMerges: Bool
    let byteIDs: [Int32]

    /// - Parameters:
    ///   - merges: (left, right) pairs, highest priority first.
    ///   - count: the id bound every vocabulary id was checked against.
    init(vocab: [String: Int], merges pairs: [(String, String)], count: Int, unkToken: String?,
         continuingSubwordPrefix: String?, endOfWordSuffix: String?, byteFallback: Bool, fuseUnk: Bool,
         ignoreMerges: Bool) throws(TokenizerError) {
        self.vocab = vocab
        tokens = tokensByID(vocab, count: count)
        if let unkToken {
            guard let id = vocab[unkToken] else {
                throw .invalidTokenizerJSON("model.unk_token '\(unkToken)' is not in the vocabulary")
            }
            unkID = Int32(id)
        } else {
            unkID = nil
        }
        let prefix = continuingSubwordPrefix.flatMap { $0.isEmpty ? nil : $0 }
        self.continuingSubwordPrefix = prefix
        self.endOfWordSuffix = endOfWordSuffix.flatMap { $0.isEmpty ? nil : $0 }
        self.byteFallback = byteFallback
        self.fuseUnk = fuseUnk
        self.ignoreMerges = ignoreMerges
        byteIDs = (0..<256).map { b in vocab[Self.byteToken(UInt8(b))].map { Int32($0) } ?? -1 }

        var table: [UInt64: UInt64] = [:]
        table.reserveCapacity(pairs.count)
        for (rank, (a, b)) in pairs.enumerated() {
            let rightPart = prefix.map { b.hasPrefix($0) ? String(b.dropFirst($0.count)) : b } ?? b
            guard let l = vocab[a], let r = vocab[b], let m = vocab[a + rightPart] else {
                let missing = vocab[a] == nil ? a : vocab[b] == nil ? b : a + rightPart
                throw .invalidTokenizerJSON("merge #\(rank) '\(a) \(b)': '\(missing)' is not in the vocabulary")
            }
            // A repeated pair keeps its last rank, as the `tokenizers` HashMap does.
            table[UInt64(UInt32(l)) << 32 | UInt64(UInt32(r))] = UInt64(UInt32(rank)) << 32 | UInt64(UInt32(m))
        }
        merges = table
    }

    /// `<0x0A>`: the byte-fallback token of a byte.
    static func byteToken(_ b: UInt8) -> String {
        let hex = Array("0123456789ABCDEF")
        return "<0x" + String(hex[Int(b >> 4)]) + String(hex[Int(b & 15)]) + ">"
    }

    func tokenize(_ word: String, into out: inout [ModelToken]) {
        guard !word.isEmpty else { return }
        if ignoreMerges, let id = vocab[word] {
            out.append(ModelToken(id: Int32(id)))
            return
        }
        // One symbol per character (with the subword prefix / word suffix where configured);
        // unknown characters become byte-fallback tokens or the (optionally fused) unknown token.
        var symbols: [Int32] = []
        symbols.reserveCapacity(word.unicodeScalars.count)
        var pendingUnk = false
        let scalars = word.unicodeScalars
        var index = scalars.startIndex
        var isFirst = true
        while index < scalars.endIndex {
            let next = scalars.index(after: index)
            var s = String(scalars[index])
            if let p = continuingSubwordPrefix, !isFirst { s = p + s }
            if let suffix = endOfWordSuffix, next == scalars.endIndex { s += suffix }
            isFirst = false
            index = next
            if let id = vocab[s] {
                if pendingUnk, let unk = unkID { symbols.append(unk); pendingUnk = false }
                symbols.append(Int32(id))
                continue
            }
            if byteFallback {
                let bytes = Array(s.utf8).map { byteIDs[Int($0)] }
                if !bytes.contains(-1) {
                    // The pending unknown stays pending, as in `tokenizers` (it is flushed later).
                    symbols.append(contentsOf: bytes)
                    continue
                }
            }
            guard let unk = unkID else { continue }
            if pendingUnk && !fuseUnk { symbols.append(unk) }
            pendingUnk = true
        }
        if pendingUnk, let unk = unkID { symbols.append(unk) }
        merge(&symbols)
        for id in symbols where id >= 0 { out.append(ModelToken(id: id)) }
    }

    /// Applies merges lowest rank first, leftmost first on ties (`Word::merge_all`). Symbols form
    /// a linked list over positions; stale heap entries are recognised and skipped.
    private func merge(_ ids: inout [Int32]) {
        let n = ids.count
        guard n > 1, !merges.isEmpty else { return }
        var next = (0..<n).map { Int32($0 + 1 < n ? $0 + 1 : -1) }
        var prev = (0..<n).map { Int32($0 - 1) }
        var heap = MinHeap<MergeCandidate>()
        func push(_ l: Int32, _ r: Int32) {
            let a = ids[Int(l)], b = ids[Int(r)]
            guard a >= 0, b >= 0, let m = merges[UInt64(UInt32(a)) << 32 | UInt64(UInt32(b))] else { return }
            heap.push(MergeCandidate(rank: Int32(truncatingIfNeeded: m >> 32), left: l, right: r, leftID: a,
                                     rightID: b, merged: Int32(truncatingIfNeeded: m & 0xFFFF_FFFF)))
        }
        for i in 0..<(n - 1) { push(Int32(i), Int32(i + 1)) }
        while let c = heap.popMin() {
            let l = Int(c.left), r = Int(c.right)
            guard next[l] == c.right, ids[l] == c.leftID, ids[r] == c.rightID else { continue }
            ids[l] = c.merged
            ids[r] = -2
            let after = next[r]
            next[l] = after
            if after >= 0 { prev[Int(after)] = Int32(l) }
            if prev[l] >= 0 { push(prev[l], Int32(l)) }
            if after >= 0 { push(Int32(l), after) }
        }
    }
}
