import Foundation
import LanternFormats
import LanternTensor

// BLOOM (BigScience 2022): ALiBi instead of position embeddings, LayerNorm after the word embeddings,
// pre-LayerNorm blocks, fused query_key_value laid out per head [heads][3][headDim], GELU (tanh) MLP,
// head tied to the word embeddings.

// MARK: - Configuration

public struct BloomConfiguration: Sendable, Decodable, Equatable {
    public var hiddenSize: Int
    public var layers: Int
    public var heads: Int
    public var vocabularySize: Int
    public var layerNormEps: Float
    public var residualAfterNorm: Bool
    /// ALiBi has no trained length limit; this bounds the cache (BLOOM was trained on 2048).
    public var maxContextLength: Int

    enum CodingKeys: String, CodingKey {
        case hiddenSize = "hidden_size", nEmbed = "n_embed", layers = "n_layer", heads = "n_head"
        case vocabularySize = "vocab_size", layerNormEps = "layer_norm_epsilon"
        case residualAfterNorm = "apply_residual_connection_post_layernorm", seqLength = "seq_length"
    }

    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        hiddenSize = try c.value(Int.self, .hiddenSize, or: c.decode(Int.self, forKey: .nEmbed))
        layers = try c.decode(Int.self, forKey: .layers)
        heads = try c.decode(Int.self, forKey: .heads)
        vocabularySize = try c.decode(Int.self, forKey: .vocabularySize)
        layerNormEps = try c.value(Float.self, .layerNormEps, or: 1e-5)
        residualAfterNorm = try c.value(Bool.self, .residualAfterNorm, or: false)
        maxContextLength = try c.value(Int.self, .seqLength, or: 2048)
        try ConfigurationLimits.check([("hidden_size", hiddenSize, 1 << 16), ("n_layer", layers, 1 << 10), ("n_head", heads, 1 << 10),
                                      ("vocab_size", vocabularySize, 1 << 22), ("seq_length", maxContextLength, 1 << 20)])
        guard hiddenSize % heads == 0 else { throw ModelError.invalidConfiguration("hidden_size \(hiddenSize) is not a multiple of n_head \(heads)") }
        guard !residualAfterNorm else { throw ModelError.invalidConfiguration("apply_residual_connection_post_layernorm is not supported") }
    }
}

// MARK: - Model

public enum Bloom {
    public static func load(config c: BloomConfiguration, store: any WeightStore, compute: ComputeOptions) throws -> DecoderModel {
        let load = TensorLoader(store)
        let p = store.contains("transformer.word_embeddings.weight") ? "transformer." : ""
        let d = c.hiddenSize, hd = d / c.heads
        let slopes = alibiSlopes(heads: c.heads)
        func ln(_ name: String) throws -> Norm { try load.layerNorm(name + ".weight", bias: name + ".bias", dim: d, eps: c.layerNormEps) }
        let words = try load.matrix("\(p)word_embeddings.weight", rows: c.vocabularySize, cols: d)   // [vocab, d]
        let blocks = try (0..<c.layers).map { i in
            let b = "\(p)h.\(i)."
            let qkv = try load.splitPerHead(b + "self_attention.query_key_value.weight", bias: b + "self_attention.query_key_value.bias",
                                            heads: c.heads, headDim: hd, in: d)
            return TransformerBlock(
                placement: .pre,
                attentionNorm: try ln(b + "input_layernorm"),
                attention: Attention(q: qkv[0], k: qkv[1], v: qkv[2],
                                     o: try load.linear(b + "self_attention.dense.weight", out: d, in: d, bias: b + "self_attention.dense.bias"),
                                     heads: c.heads, kvHeads: c.heads, headDim: hd, position: .alibi(slopes: slopes)),
                feedForwardNorm: try ln(b + "post_attention_layernorm"),
                feedForward: FeedForward(.plain(
                    up: try load.linear(b + "mlp.dense_h_to_4h.weight", out: 4 * d, in: d, bias: b + "mlp.dense_h_to_4h.bias"),
                    down: try load.linear(b + "mlp.dense_4h_to_h.weight", out: d, in: 4 * d, bias: b + "mlp.dense_4h_to_h.bias")),
                    activation: .geluTanh))
        }
        let embeddings = Embeddings(tokens: words, norm: try ln("\(p)word_embeddings_layernorm"))
        let finalNorm = try ln("\(p)ln_f")
        load.ignore("lm_head.weight")   // tied
        try load.checkAllUsed()
        let stack = TransformerStack(embeddings: embeddings, blocks: blocks, finalNorm: finalNorm)
        return DecoderModel(architecture: "bloom", stack: stack, head: LMHead(projection: Linear(words)),
                            maxContextLength: c.maxContextLength, compute: compute, store: store)
    }
}
