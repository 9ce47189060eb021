import Foundation

/// `generation_config.json` as `save_pretrained` writes it: the checkpoint's generation defaults.
///
/// Every field is optional because files hold only what differs from transformers' defaults (and
/// often `null`); applying defaults is the generation layer's business, not the file reader's.
/// `eos_token_id` and `forced_eos_token_id` may be one integer or a list in the file; both read as
/// a list. A value of the wrong JSON type is an error naming the file and the key (see `decode`),
/// never silently dropped: a dropped `eos_token_id` would make generation run to the length limit.
public struct GenerationConfig: Decodable, Sendable, Equatable {
    public var bosTokenId: Int?
    public var eosTokenId: [Int]?
    public var padTokenId: Int?
    public var decoderStartTokenId: Int?
    public var forcedBosTokenId: Int?
    public var forcedEosTokenId: [Int]?
    public var maxNewTokens: Int?
    public var maxLength: Int?
    public var doSample: Bool?
    public var temperature: Double?
    public var topK: Int?
    public var topP: Double?
    public var repetitionPenalty: Double?

    enum CodingKeys: String, CodingKey {
        case bosTokenId = "bos_token_id"
        case eosTokenId = "eos_token_id"
        case padTokenId = "pad_token_id"
        case decoderStartTokenId = "decoder_start_token_id"
        case forcedBosTokenId = "forced_bos_token_id"
        case forcedEosTokenId = "forced_eos_token_id"
        case maxNewTokens = "max_new_tokens"
        case maxLength = "max_length"
        case doSample = "do_sample"
        case temperature
        case topK = "top_k"
        case topP = "top_p"
        case repetitionPenalty = "repetition_penalty"
    }

    public init(bosTokenId: Int? = nil, eosTokenId: [Int]? = nil, padTokenId: Int? = nil, decoderStartTokenId: Int? = nil,
                forcedBosTokenId: Int? = nil, forcedEosTokenId: [Int]? = nil, maxNewTokens: Int? = nil, maxLength: Int? = nil,
                doSample: Bool? = nil, temperature: Double? = nil, topK: Int? = nil, topP: Double? = nil,
                repetitionPenalty: Double? = nil) {
        self.bosTokenId = bosTokenId
        self.eosTokenId = eosTokenId
        self.padTokenId = padTokenId
        self.decoderStartTokenId = decoderStartTokenId
        self.forcedBosTokenId = forcedBosTokenId
        self.forcedEosTokenId = forcedEosTokenId
        self.maxNewTokens = maxNewTokens
        self.maxLength = maxLength
        self.doSample = doSample
        self.temperature = temperature
        self.topK = topK
        self.topP = topP
        self.repetitionPenalty = repetitionPenalty
    }

    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        bosTokenId = try Self.int(c, .bosTokenId)
        eosTokenId = try Self.intOrList(c, .eosTokenId)
        padTokenId = try Self.int(c, .padTokenId)
        decoderStartTokenId = try Self.int(c, .decoderStartTokenId)
        forcedBosTokenId = try Self.int(c, .forcedBosTokenId)
        forcedEosTokenId = try Self.intOrList(c, .forcedEosTokenId)
        maxNewTokens = try Self.int(c, .maxNewTokens)
        maxLength = try Self.int(c, .maxLength)
        doSample = try c.decodeIfPresent(Bool.self, forKey: .doSample)
        temperature = try c.decodeIfPresent(Double.self, forKey: .temperature)
        topK = try Self.int(c, .topK)
        topP = try c.decodeIfPresent(Double.self, forKey: .topP)
        repetitionPenalty = try c.decodeIfPresent(Double.self, forKey: .repetitionPenalty)
    }

    /// An integer. Foundation's decoder reports a fractional number for an `Int` as corrupt JSON with
    /// no key, so that case is re-reported as a type mismatch at the key.
    private static func int(_ c: KeyedDecodingContainer<CodingKeys>, _ key: CodingKeys) throws -> Int? {
        do { return try c.decodeIfPresent(Int.self, forKey: key) } catch {
            if let d = try? c.decode(Double.self, forKey: key) {
                throw DecodingError.typeMismatch(Int.self, .init(codingPath: c.codingPath + [key], debugDescription: "expected an integer, found \(d)"))
            }
            throw error
        }
    }

    /// One integer or a list of integers (transformers accepts both for end-of-sequence ids).
    private static func intOrList(_ c: KeyedDecodingContainer<CodingKeys>, _ key: CodingKeys) throws -> [Int]? {
        guard c.contains(key), try !c.decodeNil(forKey: key) else { return nil }
        if let one = try? c.decode(Int.self, forKey: key) { return [one] }
        if let list = try? c.decode([Int].self, forKey: key) { return list }
        throw DecodingError.typeMismatch([Int].self, .init(codingPath: c.codingPath + [key], debugDescription: "expected an integer or a list of integers"))
    }

    /// Decodes the bytes of `path`; any problem is a `FormatError` naming `path` and the key.
    public static func decode(_ data: Data, path: String) throws(FormatError) -> GenerationConfig {
        do { return try JSONDecoder().decode(GenerationConfig.self, from: data) } catch { throw FormatError.decoding(error, path: path) }
    }

    /// Reads and decodes a `generation_config.json` file.
    public static func read(path: String) throws(FormatError) -> GenerationConfig {
        try decode(Data(try readSmallFile(path)), path: path)
    }
}

extension FormatError {
    /// A `JSONDecoder` failure on the file at `path`, as a typed error naming the file and the dotted key.
    public static func decoding(_ error: any Error, path: String) -> FormatError {
        guard let e = error as? DecodingError else { return .invalidJSON(path: path, reason: "\(error)") }
        func dotted(_ p: [any CodingKey]) -> String { p.map { $0.intValue.map(String.init) ?? $0.stringValue }.joined(separator: ".") }
        func describe(_ t: Any.Type) -> String {
            switch t {
            case is Int.Type: return "an integer"
            case is Double.Type, is Float.Type: return "a number"
            case is Bool.Type: return "a boolean"
            case is String.Type: return "a string"
            case is [Int].Type: return "a list of integers"
            case is [String].Type: return "a list of strings"
            default: return "\(t)"
            }
        }
        switch e {
        case let .typeMismatch(type, ctx):
            let key = dotted(ctx.codingPath)
            if key.isEmpty { return .invalidJSON(path: path, reason: "top level is not an object") }
            let detail = ctx.debugDescription.hasPrefix("expected") ? ctx.debugDescription : "expected \(describe(type))"
            return .invalidConfigValue(path: path, key: key, reason: "wrong type: \(detail)")
        case let .valueNotFound(type, ctx):
            let key = dotted(ctx.codingPath)
            if key.isEmpty { return .invalidJSON(path: path, reason: "top level is null, not an object") }
            return .invalidConfigValue(path: path, key: key, reason: "is null, expected \(describe(type))")
        case let .keyNotFound(k, ctx):
            return .invalidConfigValue(path: path, key: dotted(ctx.codingPath + [k]), reason: "missing")
        case let .dataCorrupted(ctx):
            let key = dotted(ctx.codingPath)
            if key.isEmpty {
                let underlying = (ctx.underlyingError.map { "\($0)" }) ?? ctx.debugDescription
                return .invalidJSON(path: path, reason: underlying)
            }
            return .invalidConfigValue(path: path, key: key, reason: ctx.debugDescription)
        @unknown default:
            return .invalidJSON(path: path, reason: "\(e)")
        }
    }
}
