// Decoding tokenizer.json into the pipeline's components. Every `type` is a closed set: an unknown
// one is `TokenizerError.unsupportedComponent(kind, type)`, never a guess.

import Foundation

struct JSONKey: CodingKey {
    var stringValue: String
    var intValue: Int? { nil }
    init(_ s: String) { stringValue = s }
    init?(stringValue: String) { self.stringValue = stringValue }
    init?(intValue: Int) { nil }
}

extension KeyedDecodingContainer where K == JSONKey {
    /// The value at `key`, nil when absent or null.
    func value<T: Decodable>(_ key: String, _ type: T.Type = T.self) throws -> T? {
        try decodeIfPresent(T.self, forKey: JSONKey(key))
    }

    func required<T: Decodable>(_ key: String, _ type: T.Type = T.self, in component: String) throws -> T {
        guard let v = try value(key, T.self) else {
            throw TokenizerError.invalidTokenizerJSON("\(component): '\(key)' is missing")
        }
        return v
    }

    func type(_ kind: String) throws -> String {
        guard let t = try value("type", String.self) else {
            throw TokenizerError.invalidTokenizerJSON("\(kind) has no 'type'")
        }
        return t
    }

    func scalar(_ key: String, default fallback: Unicode.Scalar, in component: String) throws -> Unicode.Scalar {
        guard let s = try value(key, String.self) else { return fallback }
        guard let first = s.unicodeScalars.first, s.unicodeScalars.count == 1 else {
            throw TokenizerError.invalidTokenizerJSON("\(component): '\(key)' must be one character, got \(s.debugDescription)")
        }
        return first
    }
}

/// `{"String": "..."}` or `{"Regex": "..."}`.
struct PatternSpec: Decodable {
    let pattern: TextPattern

    init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: JSONKey.self)
        if let s = try c.value("String", String.self) {
            pattern = .literal(Array(s.unicodeScalars))
        } else if let r = try c.value("Regex", String.self) {
            pattern = try TextPattern.compile(regex: r)
        } else {
            throw TokenizerError.invalidTokenizerJSON("a pattern must be {\"String\": ...} or {\"Regex\": ...}")
        }
    }
}

func behavior(_ c: KeyedDecodingContainer<JSONKey>, default fallback: SplitBehavior, in component: String) throws -> SplitBehavior {
    guard let name = try c.value("behavior", String.self) else { return fallback }
    guard let b = SplitBehavior(name: name) else {
        throw TokenizerError.invalidTokenizerJSON("\(component): unknown split behavior '\(name)'")
    }
    return b
}

/// Metaspace's `prepend_scheme`, or the older `add_prefix_space` flag.
func prependScheme(_ c: KeyedDecodingContainer<JSONKey>) throws -> PrependScheme {
    if let name = try c.value("prepend_scheme", String.self) {
        guard let s = PrependScheme(name: name) else {
            throw TokenizerError.invalidTokenizerJSON("Metaspace: unknown prepend_scheme '\(name)'")
        }
        return s
    }
    if let add = try c.value("add_prefix_space", Bool.self) { return add ? .always : .never }
    return .always
}

extension Normalizer: Decodable {
    init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: JSONKey.self)
        let type = try c.type("normalizer")
        switch type {
        case "NFC": self = .nfc
        case "NFD": self = .nfd
        case "NFKC": self = .nfkc
        case "NFKD": self = .nfkd
        case "Lowercase": self = .lowercase
        case "StripAccents": self = .stripAccents
        case "Nmt": self = .nmt
        case "ByteLevel": self = .byteLevel
        case "BertNormalizer":
            let lowercase = try c.value("lowercase", Bool.self) ?? true
            self = .bert(cleanText: try c.value("clean_text") ?? true,
                         chineseChars: try c.value("handle_chinese_chars") ?? true,
                         stripAccents: try c.value("strip_accents") ?? lowercase,   // null: follow lowercase
                         lowercase: lowercase)
        case "Replace":
            self = .replace(try c.required("pattern", PatternSpec.self, in: type).pattern,
                            try c.required("content", String.self, in: type))
        case "Prepend": self = .prepend(try c.required("prepend", String.self, in: type))
        case "Strip": self = .strip(left: try c.value("strip_left") ?? true, right: try c.value("strip_right") ?? true)
        case "Precompiled":
            // No map (or an empty one) is the identity.
            if let map = try c.value("precompiled_charsmap", String.self), !map.isEmpty {
                self = .precompiled(try PrecompiledCharsMap(base64: map))
            } else {
                self = .sequence([])
            }
        case "Sequence": self = .sequence(try c.required("normalizers", [Normalizer].self, in: type))
        default: throw TokenizerError.unsupportedComponent("normalizer", type)
        }
    }
}

extension HFPreTokenizer: Decodable {
    init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: JSONKey.self)
        let type = try c.type("pre_tokenizer")
        switch type {
        case "ByteLevel":
            self = .byteLevel(addPrefixSpace: try c.value("add_prefix_space") ?? true, useRegex: try c.value("use_regex") ?? true)
        case "BertPreTokenizer": self = .bert
        case "Whitespace": self = .whitespace
        case "WhitespaceSplit": self = .whitespaceSplit
        case "Metaspace":
            self = .metaspace(replacement: try c.scalar("replacement", default: "\u{2581}", in: type),
                              prepend: try prependScheme(c), split: try c.value("split") ?? true)
        case "Split":
            self = .split(try c.required("pattern", PatternSpec.self, in: type).pattern,
                          try behavior(c, default: .isolated, in: type), invert: try c.value("invert") ?? false)
        case "Digits": self = .digits(individual: try c.value("individual_digits") ?? false)
        case "Punctuation": self = .punctuation(try behavior(c, default: .isolated, in: type))
        case "CharDelimiterSplit": self = .charDelimiter(try c.scalar("delimiter", default: " ", in: type))
        case "Sequence": self = .sequence(try c.required("pretokenizers", [HFPreTokenizer].self, in: type))
        default: throw TokenizerError.unsupportedComponent("pre_tokenizer", type)
        }
    }
}

extension TokenDecoder: Decodable {
    init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: JSONKey.self)
        let type = try c.type("decoder")
        switch type {
        case "ByteLevel": self = .byteLevel
        case "WordPiece": self = .wordPiece(prefix: try c.value("prefix") ?? "##", cleanup: try c.value("cleanup") ?? true)
        case "Metaspace":
            self = .metaspace(replacement: try c.scalar("replacement", default: "\u{2581}", in: type),
                              prependsSpace: try prependScheme(c) != .never)
        case "ByteFallback": self = .byteFallback
        case "Fuse": self = .fuse
        case "Strip":
            self = .strip(content: try c.scalar("content", default: " ", in: type),
                          start: max(0, try c.value("start") ?? 0), stop: max(0, try c.value("stop") ?? 0))
        case "Replace":
            self = .replace(try c.required("pattern", PatternSpec.self, in: type).pattern,
                            try c.required("content", String.self, in: type))
        case "BPEDecoder": self = .bpe(suffix: try c.value("suffix") ?? "</w>")
        case "Sequence": self = .sequence(try c.required("decoders", [TokenDecoder].self, in: type))
        default: throw TokenizerError.unsupportedComponent("decoder", type)
        }
    }
}

extension PostProcessor: Decodable {
    /// `["[SEP]", 102]`.
    struct TokenPair: Decodable {
        let token: String
        let id: Int
        init(from decoder: any Decoder) throws {
            var c = try decoder.unkeyedContainer()
            token = try c.decode(String.self)
            id = try c.decode(Int.self)
        }
    }

    struct SpecialTokenSpec: Decodable {
        let id: String
        let ids: [Int]
        let tokens: [String]
    }

    /// `{"SpecialToken": {"id": "[CLS]", "type_id": 0}}` or `{"Sequence": {"id": "A", "type_id": 0}}`.
    struct PieceSpec: Decodable {
        struct Inner: Decodable { let id: String }
        let special: String?
        let sequence: String?
        enum CodingKeys: String, CodingKey { case special = "SpecialToken", sequence = "Sequence" }
        init(from decoder: any Decoder) throws {
            let c = try decoder.container(keyedBy: CodingKeys.self)
            special = try c.decodeIfPresent(Inner.self, forKey: .special)?.id
            sequence = try c.decodeIfPresent(Inner.self, forKey: .sequence)?.id
        }
    }

    init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: JSONKey.self)
        let type = try c.type("post_processor")
        switch type {
        case "TemplateProcessing":
            let specials = try c.value("special_tokens", [String: SpecialTokenSpec].self) ?? [:]
            func pieces(_ key: String) throws -> [Piece] {
                try (c.value(key, [PieceSpec].self) ?? []).map { spec throws -> Piece in
                    if let name = spec.special {
                        guard let s = specials[name] else {
                            throw TokenizerError.invalidTokenizerJSON("TemplateProcessing: special token '\(name)' is not in special_tokens")
                        }
                        guard s.ids.count == s.tokens.count else {
                            throw TokenizerError.countMismatch(key: "special_tokens['\(name)'].tokens", count: s.tokens.count, expected: s.ids.count)
                        }
                        return .special(Encoding(ids: s.ids, tokens: s.tokens))
                    }
                    switch spec.sequence {
                    case "A": return .sequenceA
                    case "B": return .sequenceB
                    default: throw TokenizerError.invalidTokenizerJSON("TemplateProcessing: a piece must be SpecialToken or Sequence A/B")
                    }
                }
            }
            self = .template(single: try pieces("single"), pair: try pieces("pair"))
        case "BertProcessing", "RobertaProcessing":
            let sep = try c.required("sep", TokenPair.self, in: type), cls = try c.required("cls", TokenPair.self, in: type)
            self = .bert(cls: Encoding(ids: [cls.id], tokens: [cls.token]), sep: Encoding(ids: [sep.id], tokens: [sep.token]),
                         roberta: type == "RobertaProcessing")
        case "ByteLevel": self = .byteLevel
        case "Sequence": self = .sequence(try c.required("processors", [PostProcessor].self, in: type))
        default: throw TokenizerError.unsupportedComponent("post_processor", type)
        }
    }

    /// Every id this processor can add.
    var allIDs: [Int] {
        switch self {
        case .template(let single, let pair):
            return (single + pair).flatMap { piece -> [Int] in
                if case .special(let e) = piece { return e.ids }
                return []
            }
        case .bert(let cls, let sep, _): return cls.ids + sep.ids
        case .byteLevel: return []
        case .sequence(let list): return list.flatMap(\.allIDs)
        }
    }
}

/// The raw model section; built into a `TokenModel` once the id bound is known.
struct ModelSpec: Decodable {
    /// A BPE merge: "left right" in older files, ["left", "right"] in newer ones.
    struct Merge: Decodable {
        let left: String, right: String, text: String
        init(from decoder: any Decoder) throws {
            let c = try decoder.singleValueContainer()
            if let s = try? c.decode(String.self) {
                text = s
                let parts = s.split(separator: " ", omittingEmptySubsequences: false)
                if parts.count == 2 { left = String(parts[0]); right = String(parts[1]) } else { left = ""; right = "" }
            } else {
                let pair = try c.decode([String].self)
                text = pair.joined(separator: " ")
                if pair.count == 2 { left = pair[0]; right = pair[1] } else { left = ""; right = "" }
            }
        }
    }

    /// `["piece", score]`.
    struct ScoredPiece: Decodable {
        let piece: String, score: Double
        init(from decoder: any Decoder) throws {
            var c = try decoder.unkeyedContainer()
            piece = try c.decode(String.self)
            score = try c.decode(Double.self)
        }
    }

    enum Kind: String { case bpe = "BPE", wordPiece = "WordPiece", unigram = "Unigram" }

    let kind: Kind
    var vocab: [String: Int] = [:]
    var pieces: [ScoredPiece] = []
    var merges: [Merge] = []
    var unkToken: String?
    var unkID: Int?
    var continuingSubwordPrefix: String?
    var endOfWordSuffix: String?
    var byteFallback = false
    var fuseUnk = false
    var ignoreMerges = false
    var maxInputCharsPerWord = 100

    init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: JSONKey.self)
        if let type = try c.value("type", String.self) {
            guard let k = Kind(rawValue: type) else { throw TokenizerError.unsupportedComponent("model", type) }
            kind = k
        } else if c.contains(JSONKey("merges")) {
            kind = .bpe                     // files older than the `type` key
        } else if (try? c.value("vocab", [ScoredPiece].self)) != nil {
            kind = .unigram
        } else if c.contains(JSONKey("max_input_chars_per_word")) {
            kind = .wordPiece
        } else {
            throw TokenizerError.invalidTokenizerJSON("model has no 'type' and is not recognisable")
        }
        switch kind {
        case .bpe:
            vocab = try c.required("vocab", in: "model BPE")
            merges = try c.value("merges") ?? []
            unkToken = try c.value("unk_token")
            continuingSubwordPrefix = try c.value("continuing_subword_prefix")
            endOfWordSuffix = try c.value("end_of_word_suffix")
            byteFallback = try c.value("byte_fallback") ?? false
            fuseUnk = try c.value("fuse_unk") ?? false
            ignoreMerges = try c.value("ignore_merges") ?? false
        case .wordPiece:
            vocab = try c.required("vocab", in: "model WordPiece")
            unkToken = try c.value("unk_token") ?? "[UNK]"
            continuingSubwordPrefix = try c.value("continuing_subword_prefix") ?? "##"
            maxInputCharsPerWord = try c.value("max_input_chars_per_word") ?? 100
        case .unigram:
            pieces = try c.required("vocab", in: "model Unigram")
            unkID = try c.value("unk_id")
            byteFallback = try c.value("byte_fallback") ?? false
        }
    }

    /// Number of entries, the bound every id (model and added) is checked against before anything is
    /// sized by an id (so a hostile id like Int.max is an error, not an allocation).
    var entryCount: Int { kind == .unigram ? pieces.count : vocab.count }

    func checkIDs(bound: Int) throws(TokenizerError) {
        for (text, id) in vocab where !(0..<bound).contains(id) {
            throw .tokenIDOutOfRange(key: "model.vocab['\(text)']", id: id, vocabularySize: bound)
        }
    }

    func build(count: Int) throws(TokenizerError) -> TokenModel {
        switch kind {
        case .bpe:
            var pairs: [(String, String)] = []
            pairs.reserveCapacity(merges.count)
            for (i, m) in merges.enumerated() {
                guard !m.left.isEmpty, !m.right.isEmpty else { throw .badMerge(index: i, entry: m.text) }
                pairs.append((m.left, m.right))
            }
            return .bpe(try BPEModel(vocab: vocab, merges: pairs, count: count, unkToken: unkToken,
                                     continuingSubwordPrefix: continuingSubwordPrefix, endOfWordSuffix: endOfWordSuffix,
                                     byteFallback: byteFallback, fuseUnk: fuseUnk, ignoreMerges: ignoreMerges))
        case .wordPiece:
            return .wordPiece(WordPieceModel(vocab: vocab, count: count, unkToken: unkToken ?? "[UNK]",
                                             prefix: continuingSubwordPrefix ?? "##",
                                             maxInputCharsPerWord: maxInputCharsPerWord))
        case .unigram:
            return .unigram(try UnigramModel(pieces: pieces.map { ($0.piece, $0.score) }, unkID: unkID, byteFallback: byteFallback))
        }
    }
}

struct AddedTokenSpec: Decodable {
    var id: Int
    let content: String
    let singleWord: Bool
    let lstrip: Bool
    let rstrip: Bool
    let normalized: Bool
    let special: Bool

    init(id: Int, content: String, special: Bool, singleWord: Bool = false, lstrip: Bool = false,
         rstrip: Bool = false, normalized: Bool? = nil) {
        self.id = id
        self.content = content
        self.special = special
        self.singleWord = singleWord
        self.lstrip = lstrip
        self.rstrip = rstrip
        self.normalized = normalized ?? !special
    }

    init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: JSONKey.self)
        id = try c.required("id", in: "added_tokens entry")
        content = try c.required("content", in: "added_tokens entry")
        singleWord = try c.value("single_word") ?? false
        lstrip = try c.value("lstrip") ?? false
        rstrip = try c.value("rstrip") ?? false
        special = try c.value("special") ?? false
        normalized = try c.value("normalized") ?? !special
    }
}

struct HFTokenizerFile: Decodable {
    let addedTokens: [AddedTokenSpec]
    let normalizer: Normalizer?
    let preTokenizer: HFPreTokenizer?
    let model: ModelSpec
    let postProcessor: PostProcessor?
    let decoder: TokenDecoder?

    init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: JSONKey.self)
        addedTokens = try c.value("added_tokens") ?? []
        normalizer = try c.value("normalizer")
        preTokenizer = try c.value("pre_tokenizer")
        model = try c.required("model", in: "tokenizer.json")
        postProcessor = try c.value("post_processor")
        self.decoder = try c.value("decoder")
    }

    static func parse(_ data: Data) throws(TokenizerError) -> HFTokenizerFile {
        do {
            return try JSONDecoder().decode(HFTokenizerFile.self, from: data)
        } catch let error as TokenizerError {
            throw error
        } catch {
            throw .invalidTokenizerJSON("\(error)")
        }
    }
}
