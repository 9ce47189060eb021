// A Hugging Face `tokenizers`-compatible pipeline loaded from tokenizer.json:
// added tokens -> normalizer -> pre-tokenizer -> model (BPE, WordPiece, Unigram) -> post-processor,
// and decoding through the decoder chain.

import Foundation

/// Added tokens matched in text before the model sees it (`tokenizers`' `AddedVocabulary`).
///
/// Matching is leftmost-longest over all the set's tokens, as the library's Aho-Corasick automaton
/// does; a match of a special token is consumed but left as text when special tokens are not
/// parsed, and a `single_word` match inside a word is consumed and left as text likewise.
struct AddedTokenMatcher: Sendable {
    struct Token: Sendable {
        let id: Int32
        let special: Bool
        let singleWord: Bool
        let lstrip: Bool
        let rstrip: Bool
    }

    enum Segment {
        case text(Range<Int>)
        /// A matched token and the text it covers (with the whitespace lstrip / rstrip took).
        case token(Int32, Range<Int>)
    }

    private let tokens: [Token]
    private let trie: ByteTrie

    /// - Parameter entries: (pattern text, token); later duplicates of a pattern replace earlier ones.
    init(_ entries: [(String, Token)]) {
        var trie = ByteTrie()
        var tokens: [Token] = []
        for (pattern, token) in entries where !pattern.isEmpty {
            trie.insert(pattern.utf8, value: Int32(tokens.count))
            tokens.append(token)
        }
        self.tokens = tokens
        self.trie = trie
    }

    var isEmpty: Bool { tokens.isEmpty }

    /// Segments of `bytes` (valid UTF-8) in order: text ranges between matched tokens.
    func split(_ bytes: [UInt8], parseSpecial: Bool) -> [Segment] {
        guard !tokens.isEmpty else { return [.text(0..<bytes.count)] }
        var out: [Segment] = []
        var textStart = 0
        var pos = 0
        while pos < bytes.count {
            var node = 0, end = pos, matchEnd = -1, match: Int32 = -1
            while end < bytes.count, let c = trie.child(node, bytes[end]) {
                node = c
                end += 1
                if trie.values[node] >= 0 { matchEnd = end; match = trie.values[node] }
            }
            guard match >= 0 else { pos += 1; continue }
            let token = tokens[Int(match)]
            var start = pos, stop = matchEnd
            pos = matchEnd
            if token.special && !parseSpecial { continue }
            if token.singleWord {
                let before = start > 0 ? Self.lastScalar(bytes, before: start) : nil
                let after = stop < bytes.count ? Self.firstScalar(bytes, at: stop) : nil
                if before.map(HFChar.isWord) == true || after.map(HFChar.isWord) == true { continue }
            }
            if token.lstrip {
                while start > textStart, let s = Self.lastScalar(bytes, before: start), HFChar.isWhitespace(s) {
                    start -= UTF8.width(s)
                }
            }
            if token.rstrip {
                while stop < bytes.count, let s = Self.firstScalar(bytes, at: stop), HFChar.isWhitespace(s) {
                    stop += UTF8.width(s)
                }
                pos = stop
            }
            if textStart < start { out.append(.text(textStart..<start)) }
            out.append(.token(token.id, start..<stop))
            textStart = stop
        }
        if textStart < bytes.count { out.append(.text(textStart..<bytes.count)) }
        return out
    }

    static func firstScalar(_ bytes: [UInt8], at i: Int) -> Unicode.Scalar? {
        var it = bytes[i...].makeIterator()
        var d = UTF8()
        if case .scalarValue(let s) = d.decode(&it) { return s }
        return nil
    }

    static func lastScalar(_ bytes: [UInt8], before i: Int) -> Unicode.Scalar? {
        var j = i - 1
        while j > 0, bytes[j] & 0xC0 == 0x80 { j -= 1 }
        return j >= 0 ? firstScalar(bytes, at: j) : nil
    }
}

/// A tokenizer built from a Hugging Face tokenizer.json, giving the ids, tokens and decoded text
/// the `tokenizers` library gives (offsets, truncation and padding are not implemented).
///
/// `Tokenizer` mapping: `encode(_:parseSpecial:addBOS:)` with `addBOS: true` applies the
/// post-processor (the library's `add_special_tokens=True`: BOS for LLaMA, `[CLS] ... [SEP]` for
/// BERT, `... </s>` for T5); `addsBOS` says whether the post-processor adds anything, so the
/// protocol's `encode(text)` does what `tokenizer.encode(text)` does in Python. `parseSpecial`
/// decides whether special added tokens written in the text are matched; other added tokens are
/// always matched. `decode` runs the decoder chain; `skipSpecial` drops special added tokens.
///
/// `tokenBytes(id)` renders one token as it would appear in the middle of a text (byte-fallback
/// and byte-level tokens: their raw bytes), so streaming detokenization matches `decode` except
/// for first-token rules (a stripped leading space, WordPiece's cleanup across tokens).
public final class HFTokenizer: Tokenizer {
    public let vocabularySize: Int
    public let bosTokenID: Int?
    public let eosTokenID: Int?
    public let endOfGenerationIDs: Set<Int>
    public let addsBOS: Bool

    let normalizer: Normalizer?
    let preTokenizer: HFPreTokenizer?
    let model: TokenModel
    let postProcessor: PostProcessor?
    let decoder: TokenDecoder?
    /// Added tokens whose content is matched in the original text / in the normalized text.
    let rawAddedTokens: AddedTokenMatcher
    let normalizedAddedTokens: AddedTokenMatcher
    /// Token string by id: an added token's content, else the model's vocabulary string.
    let tokenStrings: [String?]
    /// The model's own strings (what `tokenizers` reports for tokens the model produced).
    let modelTokens: [String?]
    let special: [Bool]
    private let idForToken: [String: Int]

    /// - Parameters:
    ///   - bosID, eosID: override the guesses (BOS: the post-processor's first special token or
    ///     an added `<s>`-like token; EOS: an added `</s>`-like token).
    public convenience init(tokenizerJSON data: Data, bosID: Int? = nil, eosID: Int? = nil) throws(TokenizerError) {
        let file = try HFTokenizerFile.parse(data)
        let modelSize = file.model.entryCount
        try file.model.checkIDs(bound: modelSize + file.addedTokens.count)
        try self.init(model: file.model.build(count: modelSize + file.addedTokens.count), modelSize: modelSize,
                      addedTokens: file.addedTokens, normalizer: file.normalizer, preTokenizer: file.preTokenizer,
                      postProcessor: file.postProcessor, decoder: file.decoder, bosID: bosID, eosID: eosID)
    }

    /// - Parameter modelSize: the model's number of entries (`Model::get_vocab_size`), where new
    ///   added tokens start.
    init(model: TokenModel, modelSize: Int, addedTokens: [AddedTokenSpec], normalizer: Normalizer?,
         preTokenizer: HFPreTokenizer?, postProcessor: PostProcessor?, decoder: TokenDecoder?,
         bosID: Int?, eosID: Int?) throws(TokenizerError) {
        let added = Self.assignIDs(addedTokens, model: model, modelSize: modelSize)
        let count = max(model.tokens.lastIndex { $0 != nil }.map { $0 + 1 } ?? 0, (added.map(\.id).max() ?? -1) + 1)
        guard count > 0 else { throw .emptyVocabulary }
        for id in postProcessor?.allIDs ?? [] where !(0..<count).contains(id) {
            throw .tokenIDOutOfRange(key: "post_processor special token", id: id, vocabularySize: count)
        }
        for (key, id) in [("bos", bosID), ("eos", eosID)] {
            if let id, !(0..<count).contains(id) { throw .tokenIDOutOfRange(key: key, id: id, vocabularySize: count) }
        }
        var modelTokens = Array(model.tokens.prefix(count))
        if modelTokens.count < count { modelTokens += [String?](repeating: nil, count: count - modelTokens.count) }
        var strings = modelTokens
        var idForToken: [String: Int] = [:]
        for (id, s) in modelTokens.enumerated() { if let s { idForToken[s] = id } }
        var specialContents = Set<String>()
        var raw: [(String, AddedTokenMatcher.Token)] = []
        var normalized: [(String, AddedTokenMatcher.Token)] = []
        for t in added {
            strings[t.id] = t.content
            idForToken[t.content] = t.id
            if t.special { specialContents.insert(t.content) }
            let token = AddedTokenMatcher.Token(id: Int32(t.id), special: t.special, singleWord: t.singleWord,
                                                lstrip: t.lstrip, rstrip: t.rstrip)
            if t.normalized {
                normalized.append((normalizer?.normalize(t.content) ?? t.content, token))
            } else {
                raw.append((t.content, token))
            }
        }

        vocabularySize = count
        self.normalizer = normalizer
        self.preTokenizer = preTokenizer
        self.model = model
        self.postProcessor = postProcessor
        self.decoder = decoder
        rawAddedTokens = AddedTokenMatcher(raw)
        normalizedAddedTokens = AddedTokenMatcher(normalized)
        tokenStrings = strings
        self.modelTokens = modelTokens
        special = strings.map { $0.map(specialContents.contains) ?? false }
        self.idForToken = idForToken
        addsBOS = postProcessor?.addsTokens ?? false

        func addedID(_ texts: [String]) -> Int? {
            added.first { texts.contains($0.content) }?.id
        }
        bosTokenID = bosID ?? postProcessor?.leadingSpecialID
            ?? addedID(["<s>", "<bos>", "<|begin_of_text|>", "<|startoftext|>"])
        let eos = eosID ?? addedID(["</s>", "<eos>", "<|endoftext|>", "<|end_of_text|>"])
        eosTokenID = eos
        var eog = Set<Int>()
        if let eos { eog.insert(eos) }
        for t in added where ByteLevelBPETokenizer.endOfGenerationTexts.contains(t.content) { eog.insert(t.id) }
        endOfGenerationIDs = eog
    }

    /// `AddedVocabulary::add_tokens` as `tokenizers` runs it on load: the `id` written in the file
    /// is not used; a token whose content is already known (an earlier added token, else the model's
    /// vocabulary) takes that id, a new one the next id after the model and earlier added tokens.
    /// Empty contents and repeats are dropped.
    static func assignIDs(_ specs: [AddedTokenSpec], model: TokenModel, modelSize: Int) -> [AddedTokenSpec] {
        var byContent: [String: Int] = [:]
        var out: [AddedTokenSpec] = []
        var maxAdded = -1
        for spec in specs where !spec.content.isEmpty {
            if byContent[spec.content] != nil { continue }
            let id: Int
            if let known = model.id(of: spec.content) {
                id = known
            } else {
                id = maxAdded >= modelSize || modelSize == 0 ? maxAdded + 1 : max(modelSize, maxAdded + 1)
            }
            maxAdded = max(maxAdded, id)
            byContent[spec.content] = id
            var t = spec
            t.id = id
            out.append(t)
        }
        return out
    }

    /// The largest tokenizer.json read (the largest real ones, with 250,000-token vocabularies, take
    /// about 35 MB).
    public static let maxFileBytes = 512 << 20

    public convenience init(contentsOf url: URL, bosID: Int? = nil, eosID: Int? = nil) throws(TokenizerError) {
        if let size = (try? FileManager.default.attributesOfItem(atPath: url.path))?[.size] as? NSNumber,
           size.intValue > Self.maxFileBytes {
            throw .fileTooLarge(path: url.path, bytes: size.intValue, limit: Self.maxFileBytes)
        }
        let data: Data
        do { data = try Data(contentsOf: url) } catch {
            throw .invalidTokenizerJSON("cannot read \(url.path): \(error.localizedDescription)")
        }
        try self.init(tokenizerJSON: data, bosID: bosID, eosID: eosID)
    }

    // MARK: - Encoding

    /// The ids and token strings of `text`, as `tokenizer.encode(text, add_special_tokens:)` in
    /// the `tokenizers` library (with `parseSpecial: false` as its `encode_special_tokens=True`).
    public func encoding(_ text: String, parseSpecial: Bool = true, addSpecialTokens: Bool = true) -> Encoding {
        let encoding = rawEncoding(text, parseSpecial: parseSpecial)
        guard addSpecialTokens, let postProcessor else { return encoding }
        return postProcessor.process(encoding)
    }

    /// A sentence pair (`tokenizer.encode(a, b)`), joined by the post-processor's pair template
    /// (without one, or with `addSpecialTokens: false`, simply concatenated).
    public func encoding(_ text: String, pair: String, parseSpecial: Bool = true, addSpecialTokens: Bool = true) -> Encoding {
        var a = rawEncoding(text, parseSpecial: parseSpecial)
        let b = rawEncoding(pair, parseSpecial: parseSpecial)
        guard addSpecialTokens, let postProcessor else { a.append(b); return a }
        return postProcessor.process(a, b)
    }

    private func rawEncoding(_ text: String, parseSpecial: Bool) -> Encoding {
        var out: [ModelToken] = []
        var cache: [String: [ModelToken]] = [:]
        let bytes = Array(text.utf8)
        for segment in rawAddedTokens.split(bytes, parseSpecial: parseSpecial) {
            switch segment {
            case .token(let id, let r):
                out.append(ModelToken(id: id, surface: String(decoding: bytes[r], as: UTF8.self)))
            case .text(let range):
                let piece = String(decoding: bytes[range], as: UTF8.self)
                let normalized = normalizer?.normalize(piece) ?? piece
                let nbytes = Array(normalized.utf8)
                for inner in normalizedAddedTokens.split(nbytes, parseSpecial: parseSpecial) {
                    switch inner {
                    case .token(let id, let r):
                        out.append(ModelToken(id: id, surface: String(decoding: nbytes[r], as: UTF8.self)))
                    case .text(let r):
                        guard !r.isEmpty else { continue }
                        let start = PreToken(text: String(decoding: nbytes[r], as: UTF8.self),
                                             atStart: range.lowerBound == 0 && r.lowerBound == 0)
                        let words = preTokenizer?.apply([start]) ?? [start]
                        for word in words where !word.text.isEmpty {
                            if let hit = cache[word.text] { out += hit; continue }
                            var ids: [ModelToken] = []
                            model.tokenize(word.text, into: &ids)
                            cache[word.text] = ids
                            out += ids
                        }
                    }
                }
            }
        }
        return Encoding(ids: out.map { Int($0.id) }, tokens: out.map { $0.surface ?? tokenString(Int($0.id)) })
    }

    private func tokenString(_ id: Int) -> String {
        guard (0..<vocabularySize).contains(id) else { return "" }
        return modelTokens[id] ?? tokenStrings[id] ?? ""
    }

    public func encode(_ text: String, parseSpecial: Bool, addBOS: Bool) -> [Int] {
        encoding(text, parseSpecial: parseSpecial, addSpecialTokens: addBOS).ids
    }

    // MARK: - Decoding

    /// Ids outside the vocabulary are skipped.
    public func decode(_ ids: [Int], skipSpecial: Bool) -> String {
        var tokens: [String] = []
        tokens.reserveCapacity(ids.count)
        for id in ids where (0..<vocabularySize).contains(id) {
            guard let t = tokenStrings[id], !(skipSpecial && special[id]) else { continue }
            tokens.append(t)
        }
        guard let decoder else { return tokens.joined(separator: " ") }
        return decoder.decodeChain(tokens).joined()
    }

    public func tokenBytes(_ id: Int) -> [UInt8] {
        guard (0..<vocabularySize).contains(id), let t = tokenStrings[id] else { return [] }
        guard let decoder else { return Array(t.utf8) }
        if decoder.hasByteFallback, let b = TokenDecoder.byteValue(t) { return [b] }
        if decoder.hasByteLevel {
            // Raw bytes, which may be part of a character (decodeChain would replace them).
            var bytes: [UInt8] = []
            for s in t.unicodeScalars {
                let v = Int(s.value)
                guard v < ByteLevel.byteForScalar.count, ByteLevel.byteForScalar[v] >= 0 else { return Array(t.utf8) }
                bytes.append(UInt8(ByteLevel.byteForScalar[v]))
            }
            return bytes
        }
        return Array(decoder.decodeChain([t], firstIndex: 1).joined().utf8)
    }

    public func tokenText(_ id: Int) -> String? {
        (0..<vocabularySize).contains(id) ? tokenStrings[id] : nil
    }

    public func isSpecial(_ id: Int) -> Bool { (0..<vocabularySize).contains(id) && special[id] }

    /// The id of a token string (added tokens first, then the model's vocabulary).
    public func tokenID(_ token: String) -> Int? { idForToken[token] }
}
