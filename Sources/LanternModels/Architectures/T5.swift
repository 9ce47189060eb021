import Foundation
import LanternFormats
import LanternTensor

// T5 (Raffel et al. 2020): a pre-RMSNorm ("T5LayerNorm") encoder-decoder without biases, attention
// scores unscaled (the 1/sqrt(d_kv) is folded into the weights), a learned bias per relative-distance
// bucket and head owned by layer 0 of each stack (bidirectional buckets in the encoder, causal in the
// decoder; cross-attention has none), a ReLU (v1.0) or gated-GELU (v1.1, flan-T5) feed-forward, and a
// head either tied to the shared embedding (hidden scaled by d_model^-0.5) or separate (lm_head).

// MARK: - Configuration

/// `T5Config`.
public struct T5Configuration: Sendable, Decodable, Equatable {
    public var hiddenSize: Int
    /// Per-head width; heads * d_kv may differ from d_model.
    public var headDim: Int
    public var feedForward: Int
    public var encoderLayers: Int, decoderLayers: Int
    public var heads: Int
    public var buckets: Int
    public var maxDistance: Int
    public var layerNormEps: Float
    public var gated: Bool
    public var activation: Activation
    public var vocabularySize: Int
    public var tieWordEmbeddings: Bool
    /// Scale the decoder output by d_model^-0.5 before the head (transformers 5 records it; older
    /// configs imply it from `tie_word_embeddings`).
    public var scaleDecoderOutputs: Bool
    /// Longest sequence the relative-bias tables cover (T5 itself has no absolute limit).
    public var maxPositions: Int

    enum CodingKeys: String, CodingKey {
        case hiddenSize = "d_model", headDim = "d_kv", feedForward = "d_ff", encoderLayers = "num_layers"
        case decoderLayers = "num_decoder_layers", heads = "num_heads", buckets = "relative_attention_num_buckets"
        case maxDistance = "relative_attention_max_distance", layerNormEps = "layer_norm_epsilon"
        case feedForwardProjection = "feed_forward_proj", vocabularySize = "vocab_size"
        case tieWordEmbeddings = "tie_word_embeddings", scaleDecoderOutputs = "scale_decoder_outputs"
        case maxPositions = "n_positions"
    }

    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        hiddenSize = try c.value(Int.self, .hiddenSize, or: 512)
        headDim = try c.value(Int.self, .headDim, or: 64)
        feedForward = try c.value(Int.self, .feedForward, or: 2048)
        encoderLayers = try c.value(Int.self, .encoderLayers, or: 6)
        decoderLayers = try c.value(Int.self, .decoderLayers, or: encoderLayers)
        heads = try c.value(Int.self, .heads, or: 8)
        buckets = try c.value(Int.self, .buckets, or: 32)
        maxDistance = try c.value(Int.self, .maxDistance, or: 128)
        layerNormEps = try c.value(Float.self, .layerNormEps, or: 1e-6)
        vocabularySize = try c.decode(Int.self, forKey: .vocabularySize)
        tieWordEmbeddings = try c.value(Bool.self, .tieWordEmbeddings, or: true)
        scaleDecoderOutputs = try c.value(Bool.self, .scaleDecoderOutputs, or: tieWordEmbeddings)
        maxPositions = try c.value(Int.self, .maxPositions, or: 512)
        // "relu", "gated-gelu", "gated-silu", ...: transformers reads "gated-gelu" as gelu_new.
        let projection = try c.value(String.self, .feedForwardProjection, or: "relu")
        let parts = projection.split(separator: "-").map(String.init)
        guard (parts.count == 1 || (parts.count == 2 && parts[0] == "gated")),
              let act = Activation(huggingFace: projection == "gated-gelu" ? "gelu_new" : parts[parts.count - 1]) else {
            throw ModelError.invalidConfiguration("feed_forward_proj '\(projection)' is not supported (relu, gated-gelu, gated-silu, ...)")
        }
        gated = parts.count == 2
        activation = act
        try validate()
    }

    func validate() throws(ModelError) {
        let sizes = [("d_model", hiddenSize, 1 << 16), ("d_kv", headDim, 1 << 12), ("d_ff", feedForward, 1 << 18),
                     ("num_layers", encoderLayers, 1 << 10), ("num_decoder_layers", decoderLayers, 1 << 10),
                     ("num_heads", heads, 1 << 10), ("vocab_size", vocabularySize, 1 << 22),
                     ("relative_attention_num_buckets", buckets, 1 << 12),
                     ("relative_attention_max_distance", maxDistance, 1 << 20), ("n_positions", maxPositions, 1 << 16)]
        for (name, v, limit) in sizes where v <= 0 || v > limit {
            throw .invalidConfiguration("\(name) must be in 1...\(limit), found \(v)")
        }
        // Bidirectional buckets halve the range and take half of that exactly: at least 4, and beyond
        // the exact range the logarithmic buckets need max_distance above it.
        guard buckets >= 4, buckets % 2 == 0, maxDistance > buckets / 2 else {
            throw .invalidConfiguration("relative_attention_num_buckets \(buckets) must be even and >= 4, and relative_attention_max_distance \(maxDistance) above half of it")
        }
        guard layerNormEps > 0 else { throw .invalidConfiguration("layer_norm_epsilon must be positive") }
    }
}

// MARK: - Model

public enum T5 {
    /// `t5` (v1.0 / v1.1 / flan) and `mt5` folders.
    public static func load(folder: ModelFolder, compute: ComputeOptions) throws -> EncoderDecoderModel {
        guard ["t5", "mt5"].contains(folder.modelType) else { throw ModelError.unsupportedArchitecture(folder.modelType) }
        let c = try JSONDecoder().decode(T5Configuration.self, from: folder.configData)
        let load = TensorLoader(folder.weights)
        let d = c.hiddenSize, inner = c.heads * c.headDim
        let shared = try load.matrix("shared.weight", rows: c.vocabularySize, cols: d)   // [vocab, d]
        func norm(_ name: String) throws -> Norm { try load.rmsNorm(name + ".layer_norm.weight", dim: d, eps: c.layerNormEps) }
        func linear(_ name: String, out: Int, in n: Int) throws -> Linear { try load.linear(name + ".weight", out: out, in: n) }
        func attention(_ p: String, position: PositionScheme, mask: AttentionMask) throws -> Attention {
            Attention(q: try linear(p + ".q", out: inner, in: d), k: try linear(p + ".k", out: inner, in: d),
                      v: try linear(p + ".v", out: inner, in: d), o: try linear(p + ".o", out: d, in: inner),
                      heads: c.heads, kvHeads: c.heads, headDim: c.headDim, scale: 1, position: position, mask: mask)
        }
        func feedForward(_ p: String) throws -> FeedForward {
            let kind: FeedForward.Kind = c.gated
                ? .gated(gate: try linear(p + ".wi_0", out: c.feedForward, in: d), up: try linear(p + ".wi_1", out: c.feedForward, in: d),
                         down: try linear(p + ".wo", out: d, in: c.feedForward))
                : .plain(up: try linear(p + ".wi", out: c.feedForward, in: d), down: try linear(p + ".wo", out: d, in: c.feedForward))
            return FeedForward(kind, activation: c.activation)
        }
        func stack(_ prefix: String, layers: Int, decoder: Bool) throws -> TransformerStack {
            // [buckets, heads], read once and shared by every layer of the stack.
            let weight = try load.floats(prefix + ".block.0.layer.0.SelfAttention.relative_attention_bias.weight",
                                         shape: [c.buckets, c.heads])
            let bias = RelativePositionBias(weight: weight, heads: c.heads, buckets: c.buckets, maxDistance: c.maxDistance,
                                            bidirectional: !decoder, span: c.maxPositions)
            let blocks = try (0..<layers).map { i in
                let p = "\(prefix).block.\(i).layer"
                let ff = decoder ? "\(p).2" : "\(p).1"
                return TransformerBlock(
                    placement: .pre, attentionNorm: try norm(p + ".0"),
                    attention: try attention(p + ".0.SelfAttention", position: .relative(bias), mask: decoder ? .causal : .bidirectional),
                    crossNorm: decoder ? try norm(p + ".1") : nil,
                    crossAttention: decoder ? try attention(p + ".1.EncDecAttention", position: .none, mask: .bidirectional) : nil,
                    feedForwardNorm: try norm(ff), feedForward: try feedForward(ff + ".DenseReluDense"))
            }
            load.ignore(prefix + ".embed_tokens.weight")   // a copy of shared.weight when present
            let finalNorm = try load.rmsNorm(prefix + ".final_layer_norm.weight", dim: d, eps: c.layerNormEps)
            return TransformerStack(embeddings: Embeddings(tokens: shared), blocks: blocks, finalNorm: finalNorm)
        }
        let encoder = try stack("encoder", layers: c.encoderLayers, decoder: false)
        let decoder = try stack("decoder", layers: c.decoderLayers, decoder: true)
        // A separate lm_head wins whenever the file has one (transformers 5 writes tie_word_embeddings
        // true even for untied v1.1 checkpoints).
        let projection = load.has("lm_head.weight") ? try linear("lm_head", out: c.vocabularySize, in: d) : Linear(shared)
        try load.checkAllUsed()
        return try EncoderDecoderModel(
            architecture: folder.modelType, encoder: encoder, decoder: decoder,
            head: LMHead(projection: projection, inputScale: c.scaleDecoderOutputs ? 1 / Float(d).squareRoot() : 1),
            specialTokens: try Seq2SeqSpecialTokens.read(folder), maxContextLength: c.maxPositions,
            maxSourceLength: c.maxPositions, compute: compute, store: folder.weights)
    }
}
