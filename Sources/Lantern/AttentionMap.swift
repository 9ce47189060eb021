import LanternModels
import LanternTokenizers

/// One layer's attention probabilities over a token sequence, with the tokens as row and column labels:
/// what `lantern attention` draws and prints. `weights[i][r][c]` is head `heads[i]`'s probability that
/// query row r gives key column c (softmax after masking, exactly as the model computed it; keys a row
/// does not see are 0).
public struct AttentionMap: Sendable, Equatable {
    public var layer: Int
    /// Cross-attention: rows are decoder tokens, columns encoder tokens.
    public var cross: Bool
    public var heads: [Int]
    public var rowTokens: [Int], columnTokens: [Int]
    public var rowLabels: [String], columnLabels: [String]
    public var weights: [[[Float]]]   // [heads][rows][columns]

    public init(layer: Int, cross: Bool, heads: [Int], rowTokens: [Int], columnTokens: [Int],
                rowLabels: [String], columnLabels: [String], weights: [[[Float]]]) {
        self.layer = layer; self.cross = cross; self.heads = heads
        self.rowTokens = rowTokens; self.columnTokens = columnTokens
        self.rowLabels = rowLabels; self.columnLabels = columnLabels
        self.weights = weights
    }

    /// Smallest and largest probability shown.
    public var range: (min: Float, max: Float) {
        let all = weights.joined().joined()
        return (all.min() ?? 0, all.max() ?? 0)
    }
}

/// Why an attention map cannot be made.
public enum AttentionMapError: Error, Equatable, CustomStringConvertible {
    case layerOutOfRange(Int, layers: Int)
    case headOutOfRange(Int, heads: Int)
    case noCrossAttention(String)

    public var description: String {
        switch self {
        case let .layerOutOfRange(l, n): return "layer \(l) is outside 0..<\(n)"
        case let .headOutOfRange(h, n): return "head \(h) is outside 0..<\(n)"
        case let .noCrossAttention(a): return "a \(a) model has no cross-attention (only encoder-decoders do)"
        }
    }
}

extension LoadedModel {
    /// The attention of `layer` (one head or all) over `tokens`, run as one forward pass.
    ///
    /// Decoders and encoders: self-attention over `tokens`. Encoder-decoders: `tokens` are the encoder's
    /// input; without `cross` the map is the encoder's self-attention, with `cross` the decoder's
    /// attention over the encoder tokens, decoder rows being `decoderTokens` or, when nil, the decoder
    /// start token followed by greedy tokens (up to `maxNewTokens` rows, stopping before an end token).
    public func attentionMap(tokens: [Int], layer: Int, head: Int? = nil, cross: Bool = false,
                             decoderTokens: [Int]? = nil, maxNewTokens: Int = 16) throws -> AttentionMap {
        guard !tokens.isEmpty else { throw ModelError.emptyInput }
        let n = tokens.count
        func check(_ stack: TransformerStack, cross: Bool) throws {
            guard layer >= 0, layer < stack.layers else { throw AttentionMapError.layerOutOfRange(layer, layers: stack.layers) }
            let a = cross ? stack.blocks[layer].crossAttention : stack.blocks[layer].attention
            let heads = a?.heads ?? 0
            if let head, head < 0 || head >= heads { throw AttentionMapError.headOutOfRange(head, heads: heads) }
        }
        let observer: AttentionObserver
        var rows = tokens
        switch network {
        case let .decoder(model):
            guard !cross else { throw AttentionMapError.noCrossAttention(architecture) }
            try check(model.stack, cross: false)
            observer = AttentionObserver(layer: layer, head: head, rows: n, columns: n)
            _ = try model.forward(tokens, cache: model.makeCache(capacity: n), rows: .last, observer: observer)
        case let .encoder(model):
            guard !cross else { throw AttentionMapError.noCrossAttention(architecture) }
            try check(model.stack, cross: false)
            observer = AttentionObserver(layer: layer, head: head, rows: n, columns: n)
            _ = try model.encode([tokens], observer: observer)
        case let .encoderDecoder(model):
            guard cross else {
                try check(model.encoder, cross: false)
                observer = AttentionObserver(layer: layer, head: head, rows: n, columns: n)
                try model.encode(tokens, into: model.makeCache(capacity: 1), observer: observer)
                break
            }
            try check(model.decoder, cross: true)
            rows = try decoderTokens ?? greedyDecoderInput(model, source: tokens, maxNewTokens: maxNewTokens)
            guard !rows.isEmpty else { throw ModelError.emptyInput }
            let cache = try model.makeCache(capacity: rows.count)
            try model.encode(tokens, into: cache)
            observer = AttentionObserver(layer: layer, head: head, kind: .cross, rows: rows.count, columns: n)
            _ = try model.forward(rows, cache: cache, rows: .last, observer: observer)
        }
        return AttentionMap(layer: layer, cross: cross, heads: observer.recordedHeads, rowTokens: rows, columnTokens: tokens,
                            rowLabels: rows.map(label), columnLabels: tokens.map(label), weights: observer.maps)
    }

    /// The decoder start token and the greedy tokens after it, up to the first end token (left out).
    private func greedyDecoderInput(_ model: EncoderDecoderModel, source: [Int], maxNewTokens: Int) throws -> [Int] {
        var ids = [model.decoderStartTokenID]
        let limit = max(1, min(maxNewTokens, model.maxContextLength))
        let cache = try model.makeCache(capacity: limit)
        try model.encode(source, into: cache)
        var next = [model.decoderStartTokenID]
        while ids.count < limit {
            let logits = try model.forward(next, cache: cache, rows: .last)
            let best = logits.indices.max { logits[$0] < logits[$1] } ?? 0
            if model.eosTokenIDs.contains(best) { break }
            ids.append(best)
            next = [best]
        }
        return ids
    }

    /// Query heads of each layer of the self-attention `attentionMap` draws without `cross` (an
    /// encoder-decoder's: its encoder's).
    public var selfAttentionHeads: [Int] {
        let stack: TransformerStack
        switch network {
        case let .decoder(model): stack = model.stack
        case let .encoder(model): stack = model.stack
        case let .encoderDecoder(model): stack = model.encoder
        }
        return stack.blocks.map(\.attention.heads)
    }

    /// A token's text as the tokenizer decodes it alone; its id when the model has no tokenizer.
    public func tokenLabel(_ id: Int) -> String { label(id) }

    private func label(_ id: Int) -> String {
        guard hasTokenizer else { return String(id) }
        let text = tokenizer.decode([id], skipSpecial: false)
        return text.isEmpty ? String(id) : text
    }
}
