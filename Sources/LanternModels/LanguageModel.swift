import LanternTensor

/// Which positions of a forward pass produce logits.
public enum LogitsOutput: Sendable {
    /// Only the last position (generation).
    case last
    /// Every position (scoring, `lantern forward`).
    case all
}

/// Errors a model raises for inputs a user supplied.
public enum ModelError: Error, Equatable, CustomStringConvertible {
    case contextOverflow(needed: Int, capacity: Int)
    case invalidToken(id: Int, vocabularySize: Int)
    case emptyInput
    case invalidConfiguration(String)
    case unsupportedArchitecture(String)
    case cacheMismatch

    public var description: String {
        switch self {
        case let .contextOverflow(needed, capacity):
            return "the sequence needs \(needed) positions but the context holds \(capacity); use a shorter prompt or fewer new tokens"
        case let .invalidToken(id, vocab): return "token id \(id) is outside the vocabulary (0..<\(vocab))"
        case .emptyInput: return "no input tokens"
        case let .invalidConfiguration(s): return "invalid model configuration: \(s)"
        case let .unsupportedArchitecture(a): return "unsupported model architecture '\(a)'"
        case .cacheMismatch: return "the KV cache was made for a model of another shape; make it with this model's makeCache"
        }
    }
}

/// A decoder-only language model: a function `(tokens, cache) -> logits`.
///
/// Positions are implicit: the new tokens occupy `cache.count ..< cache.count + tokens.count`, and the
/// cache grows by that many entries. Generation and sampling live outside the model.
public protocol CausalLanguageModel: AnyObject, Sendable {
    var vocabularySize: Int { get }
    var hiddenSize: Int { get }
    /// The longest context the model was trained for.
    var maxContextLength: Int { get }

    /// A fresh, empty cache able to hold `capacity` positions.
    func makeCache(capacity: Int) -> KVCache

    /// Runs `tokens` through the model after what `cache` already holds and appends them to it, writing
    /// logits [outputRows, vocabularySize] row-major into `logits` (outputRows = 1 for `.last`,
    /// tokens.count for `.all`). Allocates nothing once the cache's scratch has grown to the batch size,
    /// so a decode loop can call it per token.
    func forward(_ tokens: UnsafeBufferPointer<Int>, cache: KVCache, output: LogitsOutput,
                 into logits: UnsafeMutablePointer<Float>) throws(ModelError)

    /// The final hidden states (after the last norm) of every position, [tokens.count, hiddenSize].
    func hiddenStates(_ tokens: [Int], cache: KVCache) throws(ModelError) -> [Float]
}

extension CausalLanguageModel {
    /// `forward` returning a new array: [outputRows, vocabularySize] row-major.
    public func forward(_ tokens: [Int], cache: KVCache, output: LogitsOutput) throws(ModelError) -> [Float] {
        let rows = output == .all ? tokens.count : 1
        var result = [Float](repeating: 0, count: rows * vocabularySize)
        try tokens.withUnsafeBufferPointer { (ids) throws(ModelError) in
            try result.withUnsafeMutableBufferPointer { (out) throws(ModelError) in
                try forward(ids, cache: cache, output: output, into: out.baseAddress!)
            }
        }
        return result
    }
}
