// The tokenizer.json WordPiece model (BERT): greedy longest-match-first over each word.

struct WordPieceModel: Sendable {
    let vocab: [String: Int]
    let tokens: [String?]
    let unkID: Int32?
    let prefix: String
    let maxInputCharsPerWord: Int
    /// The longest vocabulary entry in UTF-8 bytes: no longer candidate can match, so the search
    /// starts there instead of at the word's end (same result, bounded work per position).
    let longestToken: Int

    init(vocab: [String: Int], count: Int, unkToken: String, prefix: String, maxInputCharsPerWord: Int) {
        self.vocab = vocab
        tokens = tokensByID(vocab, count: count)
        unkID = vocab[unkToken].map { Int32($0) }
        self.prefix = prefix
        self.maxInputCharsPerWord = maxInputCharsPerWord
        longestToken = vocab.keys.map(\.utf8.count).max() ?? 0
    }

    /// `WordPiece::tokenize`: the whole word becomes the unknown token if it is longer than
    /// `maxInputCharsPerWord` characters or any position has no vocabulary match. (Without an
    /// unknown token in the vocabulary such a word yields nothing, where `tokenizers` would fail.)
    func tokenize(_ word: String, into out: inout [ModelToken]) {
        guard !word.isEmpty else { return }
        if word.unicodeScalars.count > maxInputCharsPerWord {
            if let unkID { out.append(ModelToken(id: unkID)) }
            return
        }
        let bytes = Array(word.utf8)
        var pieces: [ModelToken] = []
        var start = 0
        while start < bytes.count {
            var end = min(bytes.count, start + longestToken)
            while end < bytes.count, end > start, bytes[end] & 0xC0 == 0x80 { end -= 1 }
            var found: Int32?
            while start < end {
                let body = String(decoding: bytes[start..<end], as: UTF8.self)
                if let id = vocab[start > 0 ? prefix + body : body] { found = Int32(id); break }
                end -= 1
                while end > start, bytes[end] & 0xC0 == 0x80 { end -= 1 }
            }
            guard let id = found else {
                if let unkID { out.append(ModelToken(id: unkID)) }
                return
            }
            pieces.append(ModelToken(id: id))
            start = end
        }
        out.append(contentsOf: pieces)
    }
}
