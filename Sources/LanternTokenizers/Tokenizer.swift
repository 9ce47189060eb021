// The tokenizer interface the generation loop, the facade and the CLI program against.

/// Turns text into token ids and back.
///
/// Invariants every implementation keeps:
/// - `encode` never fails: any `String` is valid UTF-8 and byte-level models cover every byte.
/// - `decode` never traps: ids outside `0..<vocabularySize` are skipped (they contribute no text).
/// - `decode(ids)` equals the concatenation of `tokenBytes` of the rendered ids, decoded as UTF-8
///   with U+FFFD for ill-formed sequences; `StreamingDetokenizer` relies on this. One exception,
///   llama.cpp's: a SentencePiece tokenizer with `addsSpacePrefix` drops one leading space of the
///   first token in `decode` (the space its encoder added), while `tokenBytes` and so streaming
///   keep it (llama.cpp's `token_to_piece`, which its own streaming output uses).
public protocol Tokenizer: Sendable {
    var vocabularySize: Int { get }
    var bosTokenID: Int? { get }
    var eosTokenID: Int? { get }
    /// ids that end generation: eos, eot, eom and any control token llama.cpp treats as end-of-generation
    /// (e.g. "<|im_end|>", "<|endoftext|>", "<|eot_id|>", "<end_of_turn>").
    var endOfGenerationIDs: Set<Int> { get }
    /// Whether the model expects a BOS token in front of a prompt (GGUF `tokenizer.ggml.add_bos_token`).
    var addsBOS: Bool { get }
    /// - Parameters:
    ///   - parseSpecial: match control tokens (e.g. `<|im_start|>`) written in the text, as llama.cpp's
    ///     `tokenize(..., parse_special: true)`. User-defined tokens are matched either way.
    ///   - addBOS: put `bosTokenID` first (ignored when the model has none).
    func encode(_ text: String, parseSpecial: Bool, addBOS: Bool) -> [Int]
    /// - Parameter skipSpecial: leave out control tokens instead of rendering their text.
    func decode(_ ids: [Int], skipSpecial: Bool) -> String
    /// The raw bytes a token stands for (control and user-defined tokens: their text's UTF-8);
    /// empty for an id outside the vocabulary. A token may hold part of a UTF-8 character.
    func tokenBytes(_ id: Int) -> [UInt8]
    /// The vocabulary string (byte-level models: in the GPT-2 byte-to-unicode alphabet), nil if out of range.
    func tokenText(_ id: Int) -> String?
    /// Whether decoding with `skipSpecial: true` leaves this token out.
    func isSpecial(_ id: Int) -> Bool
}

extension Tokenizer {
    /// Plain text (no special-token parsing) with the model's own BOS policy.
    public func encode(_ text: String) -> [Int] {
        encode(text, parseSpecial: false, addBOS: addsBOS)
    }

    public func decode(_ ids: [Int]) -> String { decode(ids, skipSpecial: false) }

    /// Bytes that should be UTF-8 but may not be (a file, a socket, a pipe): ill-formed sequences
    /// become U+FFFD first, one per maximal ill-formed subpart, exactly as Python's
    /// `bytes.decode('utf-8', errors='replace')` does, so the ids match what a Python tokenizer gets.
    public func encode(utf8 bytes: some Collection<UInt8>, parseSpecial: Bool, addBOS: Bool) -> [Int] {
        encode(String(repairingUTF8: bytes), parseSpecial: parseSpecial, addBOS: addBOS)
    }

    /// Default for tokenizers without control tokens.
    public func isSpecial(_ id: Int) -> Bool { false }
}

/// GGUF / llama.cpp token types (`tokenizer.ggml.token_type`).
public enum TokenType: Int, Sendable {
    case undefined = 0, normal = 1, unknown = 2, control = 3, userDefined = 4, unused = 5, byte = 6

    /// Tokens whose vocabulary string is literal text, not GPT-2 byte-alphabet characters.
    var isLiteralText: Bool { self == .control || self == .userDefined || self == .unknown }
    /// Tokens llama.cpp leaves out when detokenizing without `special`.
    var isSkippedWhenNotSpecial: Bool { self == .control || self == .unknown }
}

/// Why a tokenizer could not be built. Every case names the offending key or entry.
public enum TokenizerError: Error, CustomStringConvertible, Equatable {
    case missingKey(String)
    case wrongType(key: String, expected: String, found: String)
    case unsupportedModel(String)
    /// A `tokenizer.ggml.pre` value this library has no splitter for (llama.cpp refuses those too).
    case unsupportedPreTokenizer(String)
    case badMerge(index: Int, entry: String)
    case tokenIDOutOfRange(key: String, id: Int, vocabularySize: Int)
    case countMismatch(key: String, count: Int, expected: Int)
    case emptyVocabulary
    case invalidTokenizerJSON(String)
    /// A tokenizer.json component (`normalizer`, `pre_tokenizer`, `model`, `post_processor`, `decoder`)
    /// whose `type` this library does not implement, e.g. `("normalizer", "Foo")`.
    case unsupportedComponent(String, String)
    /// A tokenizer file larger than any real one (`HFTokenizer.maxFileBytes`): most likely the wrong
    /// file (a model's weights), and reading it whole would take its size in memory.
    case fileTooLarge(path: String, bytes: Int, limit: Int)

    public var description: String {
        switch self {
        case .missingKey(let k): return "tokenizer metadata key '\(k)' is missing"
        case .wrongType(let k, let e, let f): return "tokenizer metadata key '\(k)' has type \(f), expected \(e)"
        case .unsupportedModel(let m):
            return "tokenizer model '\(m)' is not supported (GGUF tokenizer.ggml.model: 'gpt2' byte-level BPE or 'llama' SentencePiece)"
        case .unsupportedPreTokenizer(let p):
            return "pre-tokenizer '\(p)' is not supported; known: \(PreTokenizer.knownNames.sorted().joined(separator: ", "))"
        case .badMerge(let i, let e): return "merge #\(i) '\(e)' is not two tokens separated by a space"
        case .tokenIDOutOfRange(let k, let id, let n): return "'\(k)' = \(id) is outside the vocabulary (size \(n))"
        case .countMismatch(let k, let c, let e): return "'\(k)' has \(c) entries, expected \(e)"
        case .emptyVocabulary: return "the tokenizer vocabulary is empty"
        case .invalidTokenizerJSON(let m): return "tokenizer.json: \(m)"
        case .unsupportedComponent(let kind, let type): return "tokenizer.json: \(kind) type '\(type)' is not supported"
        case .fileTooLarge(let path, let bytes, let limit):
            return "\(path) has \(bytes) bytes, more than the \(limit) any tokenizer file needs; is it the right file?"
        }
    }
}

extension String {
    /// `bytes` decoded as UTF-8 with U+FFFD for each maximal ill-formed subpart (the Unicode
    /// "substitution of maximal subparts" practice, which Python's `errors='replace'` follows too).
    public init(repairingUTF8 bytes: some Collection<UInt8>) {
        self = String(decoding: bytes, as: UTF8.self)
    }
}
