// The tokenizer.json Unigram model (SentencePiece unigram, T5): the Viterbi best segmentation.

struct UnigramModel: Sendable {
    let tokens: [String?]
    let scores: [Double]
    let ids: [String: Int]
    let trie: ByteTrie
    let unkID: Int32?
    let byteFallback: Bool
    /// `min_score - 10`, the score `tokenizers` gives a character no piece covers.
    let unkScore: Double

    /// - Parameter pieces: (piece, score) in id order; the id of a piece is its index.
    init(pieces: [(String, Double)], unkID: Int?, byteFallback: Bool) throws(TokenizerError) {
        guard !pieces.isEmpty else { throw .emptyVocabulary }
        if let unkID, !(0..<pieces.count).contains(unkID) {
            throw .tokenIDOutOfRange(key: "model.unk_id", id: unkID, vocabularySize: pieces.count)
        }
        tokens = pieces.map(\.0)
        scores = pieces.map(\.1)
        var ids: [String: Int] = [:]
        var trie = ByteTrie()
        for (id, (piece, _)) in pieces.enumerated() {
            ids[piece] = id
            trie.insert(piece.utf8, value: Int32(id))
        }
        self.ids = ids
        self.trie = trie
        self.unkID = unkID.map { Int32($0) }
        self.byteFallback = byteFallback
        unkScore = (scores.min() ?? 0) - 10
    }

    /// `Unigram::encode_optimized` then `tokenize`: best path over UTF-8 positions, each node's
    /// candidates from the trie (so work per position is bounded by the longest piece), unknown
    /// runs fused, then pieces missing from the vocabulary as byte-fallback tokens or unknown.
    func tokenize(_ word: String, into out: inout [ModelToken]) {
        let bytes = Array(word.utf8)
        let n = bytes.count
        guard n > 0 else { return }
        var bestScore = [Double](repeating: 0, count: n + 1)
        var startsAt = [Int](repeating: -1, count: n + 1)
        var bestID = [Int32](repeating: -1, count: n + 1)
        var pos = 0
        while pos < n {
            let here = bestScore[pos]
            let charLength = Self.utf8Length(bytes[pos])
            var hasSingle = false
            var node = 0
            var end = pos
            while end < n, let c = trie.child(node, bytes[end]) {
                node = c
                end += 1
                let id = trie.values[node]
                guard id >= 0 else { continue }
                let candidate = scores[Int(id)] + here
                if startsAt[end] < 0 || candidate > bestScore[end] {
                    bestScore[end] = candidate
                    startsAt[end] = pos
                    bestID[end] = id
                }
                if end - pos == charLength { hasSingle = true }
            }
            let charEnd = min(n, pos + charLength)
            if !hasSingle {
                let candidate = unkScore + here
                if startsAt[charEnd] < 0 || candidate > bestScore[charEnd] {
                    bestScore[charEnd] = candidate
                    startsAt[charEnd] = pos
                    bestID[charEnd] = unkID ?? -1
                }
            }
            pos = charEnd
        }
        // Back from the end; consecutive unknown pieces fuse into one.
        var pieces: [Range<Int>] = []
        var end = n
        var unkRunStart = -1, unkRunEnd = -1
        while end > 0 {
            let start = startsAt[end]
            guard start >= 0 else { return }            // cannot happen: every char boundary is reached
            if let unkID, bestID[end] == unkID {
                if unkRunEnd < 0 { unkRunEnd = end }
                unkRunStart = start
            } else {
                if unkRunEnd >= 0 { pieces.append(unkRunStart..<unkRunEnd); unkRunEnd = -1 }
                pieces.append(start..<end)
            }
            end = start
        }
        if unkRunEnd >= 0 { pieces.append(unkRunStart..<unkRunEnd) }
        for r in pieces.reversed() {
            let text = String(decoding: bytes[r], as: UTF8.self)
            if let id = ids[text] {
                out.append(ModelToken(id: Int32(id)))
                continue
            }
            if byteFallback {
                let byteIDs = bytes[r].map { ids[BPEModel.byteToken($0)] }
                if !byteIDs.contains(nil) {
                    for id in byteIDs { if let id { out.append(ModelToken(id: Int32(id))) } }
                    continue
                }
            }
            if let unkID { out.append(ModelToken(id: unkID, surface: text)) }
        }
    }

    static func utf8Length(_ lead: UInt8) -> Int {
        switch lead {
        case 0..<0x80: return 1
        case 0xC0..<0xE0: return 2
        case 0xE0..<0xF0: return 3
        default: return 4
        }
    }
}
