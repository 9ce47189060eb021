/// Adds a fixed bias to chosen tokens' logits before any other processor (OpenAI's `logit_bias`,
/// llama.cpp's `logit_bias` sampler). -infinity bans a token; ids outside the vocabulary are ignored.
public struct LogitBias: LogitProcessor {
    /// Token id -> bias, sorted by id so the order of application never depends on hashing.
    public let biases: [(id: Int32, bias: Float)]

    public init(_ biases: [Int: Float]) {
        self.biases = biases.compactMap { id, bias in Int32(exactly: id).map { ($0, bias) } }.sorted { $0.id < $1.id }
    }

    public mutating func process(_ candidates: inout Candidates, history: ArraySlice<Int>) {
        for (id, bias) in biases {
            candidates.updateLogit(id: id) { $0 + bias }
        }
    }
}
