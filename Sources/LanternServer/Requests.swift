import Foundation
import Lantern
import LanternGeneration

// Request bodies as the OpenAI API defines them (plus llama.cpp's top_k, min_p, repeat_penalty).
// Unknown fields are ignored, as OpenAI's own clients send newer ones; known fields with the wrong
// type are a 400 naming the field.

/// A string or a list of strings (`stop`).
struct StringList: Decodable, Sendable {
    var values: [String]
    init(from decoder: any Decoder) throws {
        let c = try decoder.singleValueContainer()
        if let s = try? c.decode(String.self) { values = [s] } else { values = try c.decode([String].self) }
    }
}

/// `prompt`: a string, a list of strings, a list of token ids, or a list of such lists.
enum PromptInput: Decodable, Sendable {
    case texts([String])
    case tokens([[Int]])

    init(from decoder: any Decoder) throws {
        let c = try decoder.singleValueContainer()
        if let s = try? c.decode(String.self) { self = .texts([s]); return }
        if let a = try? c.decode([String].self) { self = .texts(a); return }
        if let t = try? c.decode([Int].self) { self = .tokens([t]); return }
        if let t = try? c.decode([[Int]].self) { self = .tokens(t); return }
        throw DecodingError.typeMismatch(String.self, .init(codingPath: decoder.codingPath,
            debugDescription: "expected a string, a list of strings, a list of token ids or a list of lists of token ids"))
    }
}

/// A message's `content`: a string, an array of parts (only `text` parts are understood), or null.
struct MessageContent: Decodable, Sendable {
    var text: String

    struct Part: Decodable {
        var type: String
        var text: String?
    }

    init(from decoder: any Decoder) throws {
        let c = try decoder.singleValueContainer()
        if c.decodeNil() { text = ""; return }
        if let s = try? c.decode(String.self) { text = s; return }
        let parts = try c.decode([Part].self)
        text = ""
        for part in parts {
            guard part.type == "text", let t = part.text else {
                throw DecodingError.dataCorrupted(.init(codingPath: decoder.codingPath,
                    debugDescription: "only text content parts are supported, found type \"\(part.type)\""))
            }
            text += t
        }
    }
}

struct Message: Decodable, Sendable {
    var role: String
    var content: MessageContent?
}

struct StreamOptions: Decodable, Sendable {
    var includeUsage: Bool?
    enum CodingKeys: String, CodingKey { case includeUsage = "include_usage" }
}

/// The fields chat and text completions share.
struct CommonFields: Decodable, Sendable {
    var model: String?
    var maxTokens: Int?
    var maxCompletionTokens: Int?
    var temperature: Double?
    var topP: Double?
    var topK: Int?
    var minP: Double?
    var repeatPenalty: Double?
    var presencePenalty: Double?
    var frequencyPenalty: Double?
    var seed: Int64?
    var stop: StringList?
    var logitBias: [String: Double]?
    var stream: Bool?
    var streamOptions: StreamOptions?
    var n: Int?
    var user: String?

    enum CodingKeys: String, CodingKey {
        case model, temperature, seed, stop, stream, n, user
        case maxTokens = "max_tokens", maxCompletionTokens = "max_completion_tokens"
        case topP = "top_p", topK = "top_k", minP = "min_p", repeatPenalty = "repeat_penalty"
        case presencePenalty = "presence_penalty", frequencyPenalty = "frequency_penalty"
        case logitBias = "logit_bias", streamOptions = "stream_options"
    }
}

struct ChatFields: Decodable, Sendable {
    var messages: [Message]
    var logprobs: Bool?
    var topLogprobs: Int?
    enum CodingKeys: String, CodingKey { case messages, logprobs, topLogprobs = "top_logprobs" }
}

struct CompletionFields: Decodable, Sendable {
    var prompt: PromptInput
    var logprobs: Int?
    var echo: Bool?
    enum CodingKeys: String, CodingKey { case prompt, logprobs, echo }
}

struct EmbeddingFields: Decodable, Sendable {
    var model: String?
    var input: PromptInput
    var encodingFormat: String?
    enum CodingKeys: String, CodingKey { case model, input, encodingFormat = "encoding_format" }
}

struct TokenizeFields: Decodable, Sendable {
    var content: String
    var addSpecial: Bool?
    enum CodingKeys: String, CodingKey { case content, addSpecial = "add_special" }
}

struct DetokenizeFields: Decodable, Sendable {
    var tokens: [Int]
}

/// Decodes a request body, turning every failure into a 400 that names the field.
func decodeBody<T: Decodable>(_ type: T.Type, from data: Data) throws(APIError) -> T {
    let decoder = JSONDecoder()
    // JSON5 reads the NaN and Infinity literals some clients write (Python's json.dumps does), so
    // they reach the range checks and get a 400 naming the field rather than "not JSON".
    decoder.allowsJSON5 = true
    // JSON is UTF-8 (RFC 8259), and Foundation's JSON5 reader traps (a fatal error, not a throw) on
    // invalid UTF-8 in an unquoted key: found by the request fuzz target, so bodies are checked first.
    guard String(validating: data, as: UTF8.self) != nil else {
        throw .invalid("the body is not valid JSON: it is not valid UTF-8")
    }
    do {
        return try decoder.decode(T.self, from: data)
    } catch let error as DecodingError {
        func path(_ p: [any CodingKey]) -> String? {
            guard !p.isEmpty else { return nil }
            return p.map { $0.intValue.map { "[\($0)]" } ?? $0.stringValue }.joined(separator: ".").replacingOccurrences(of: ".[", with: "[")
        }
        switch error {
        case let .keyNotFound(key, context):
            let where_ = path(context.codingPath + [key]) ?? key.stringValue
            throw .invalid("missing required field '\(where_)'", param: where_)
        case let .typeMismatch(_, context), let .valueNotFound(_, context):
            let p = path(context.codingPath)
            throw .invalid("'\(p ?? "body")' has the wrong type: \(context.debugDescription)", param: p)
        case let .dataCorrupted(context):
            if let p = path(context.codingPath) {
                throw .invalid("'\(p)' is invalid: \(context.debugDescription)", param: p)
            }
            throw .invalid("the body is not valid JSON: \(context.underlyingError.map { "\($0)" } ?? context.debugDescription)")
        @unknown default:
            throw .invalid("the body could not be read: \(error)")
        }
    } catch {
        throw .invalid("the body is not valid JSON: \(error)")
    }
}

/// What `lantern serve` uses when a request leaves a setting out (llama-server's -n, --temp, --seed).
public struct RequestDefaults: Sendable {
    /// -1: until the context is full.
    public var maxTokens: Int
    public var temperature: Float
    /// nil: a fresh random seed per request.
    public var seed: UInt64?

    public init(maxTokens: Int = -1, temperature: Float = 0.8, seed: UInt64? = nil) {
        self.maxTokens = maxTokens
        self.temperature = temperature
        self.seed = seed
    }
}

extension CommonFields {
    /// Validates the OpenAI ranges and builds the generation parameters for a prompt of
    /// `promptTokens` tokens in a context of `contextLength`.
    func parameters(defaults: RequestDefaults, vocabularySize: Int) throws(APIError) -> GenerateParameters {
        if let n, n != 1 {
            throw .invalid("n = \(n) is not supported: this server returns exactly one choice per prompt (n must be 1)", param: "n")
        }
        let requested = maxCompletionTokens ?? maxTokens
        if let requested, requested < 0 {
            throw .invalid("max_tokens must be >= 0, found \(requested)", param: maxCompletionTokens != nil ? "max_completion_tokens" : "max_tokens")
        }
        var s = SamplingParameters(temperature: defaults.temperature, seed: defaults.seed)
        func finite(_ v: Double?, _ name: String, _ ok: (Double) -> Bool, _ expected: String) throws(APIError) -> Float? {
            guard let v else { return nil }
            guard v.isFinite, ok(v) else { throw .invalid("\(name) = \(v) is out of range: expected \(expected)", param: name) }
            return Float(v)
        }
        if let t = try finite(temperature, "temperature", { $0 >= 0 }, "a number >= 0 (0 = greedy)") { s.temperature = t }
        if let p = try finite(topP, "top_p", { $0 > 0 && $0 <= 1 }, "a number in (0, 1]") { s.topP = p }
        if let p = try finite(minP, "min_p", { $0 >= 0 && $0 <= 1 }, "a number in [0, 1]") { s.minP = p }
        if let p = try finite(repeatPenalty, "repeat_penalty", { $0 > 0 }, "a number > 0 (1 = off)") { s.repeatPenalty = p }
        if let p = try finite(presencePenalty, "presence_penalty", { $0 >= -2 && $0 <= 2 }, "a number in [-2, 2]") { s.presencePenalty = p }
        if let p = try finite(frequencyPenalty, "frequency_penalty", { $0 >= -2 && $0 <= 2 }, "a number in [-2, 2]") { s.frequencyPenalty = p }
        if let topK {
            guard topK >= 0 else { throw .invalid("top_k = \(topK) is out of range: expected an integer >= 0 (0 = off)", param: "top_k") }
            s.topK = topK
        }
        if let seed { s.seed = UInt64(bitPattern: seed) }
        if let logitBias {
            var bias: [Int: Float] = [:]
            for (key, value) in logitBias {
                guard let id = Int(key), id >= 0, id < vocabularySize else {
                    throw .invalid("logit_bias key \"\(key)\" is not a token id in 0..<\(vocabularySize)", param: "logit_bias")
                }
                guard value.isFinite, value >= -100, value <= 100 else {
                    throw .invalid("logit_bias[\(key)] = \(value) is out of range: expected a number in [-100, 100]", param: "logit_bias")
                }
                // -100 is OpenAI's "ban": make it exact.
                bias[id] = value <= -100 ? -.infinity : Float(value)
            }
            s.logitBias = bias
        }
        do { try s.validate() } catch { throw .invalid(error.description) }
        let stops = stop?.values ?? []
        guard stops.count <= 16 else { throw .invalid("at most 16 stop strings, found \(stops.count)", param: "stop") }
        let maxTokens = requested ?? (defaults.maxTokens >= 0 ? defaults.maxTokens : Int.max)
        return GenerateParameters(maxTokens: maxTokens, sampling: s, stop: stops)
    }
}
