import Foundation
import LanternFormats
import LanternTensor

// GPT-2 (Radford et al. 2019): learned absolute positions, pre-LayerNorm blocks, fused q|k|v stored as a
// Conv1D ([in, out]), GELU (tanh) MLP, final LayerNorm, head tied to the token embedding.

// MARK: - Configuration

public struct GPT2Configuration: Sendable, Decodable, Equatable {
    public var hiddenSize: Int
    public var layers: Int
    public var heads: Int
    public var innerSize: Int?
    public var vocabularySize: Int
    public var maxPositions: Int
    public var layerNormEps: Float
    public var activation: String
    public var scaleAttentionWeights: Bool
    public var scaleByInverseLayerIndex: Bool

    enum CodingKeys: String, CodingKey {
        case hiddenSize = "n_embd", layers = "n_layer", heads = "n_head", innerSize = "n_inner"
        case vocabularySize = "vocab_size", maxPositions = "n_positions", layerNormEps = "layer_norm_epsilon"
        case activation = "activation_function", scaleAttentionWeights = "scale_attn_weights"
        case scaleByInverseLayerIndex = "scale_attn_by_inverse_layer_idx"
    }

    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        hiddenSize = try c.decode(Int.self, forKey: .hiddenSize)
        layers = try c.decode(Int.self, forKey: .layers)
        heads = try c.decode(Int.self, forKey: .heads)
        innerSize = try c.decodeIfPresent(Int.self, forKey: .innerSize)
        vocabularySize = try c.decode(Int.self, forKey: .vocabularySize)
        maxPositions = try c.value(Int.self, .maxPositions, or: 1024)
        layerNormEps = try c.value(Float.self, .layerNormEps, or: 1e-5)
        activation = try c.value(String.self, .activation, or: "gelu_new")
        scaleAttentionWeights = try c.value(Bool.self, .scaleAttentionWeights, or: true)
        scaleByInverseLayerIndex = try c.value(Bool.self, .scaleByInverseLayerIndex, or: false)
        try ConfigurationLimits.check([("n_embd", hiddenSize, 1 << 16), ("n_layer", layers, 1 << 10), ("n_head", heads, 1 << 10),
                                      ("vocab_size", vocabularySize, 1 << 22), ("n_positions", maxPositions, 1 << 20),
                                      ("n_inner", innerSize ?? 4 * hiddenSize, 1 << 18)])
        guard hiddenSize % heads == 0 else { throw ModelError.invalidConfiguration("n_embd \(hiddenSize) is not a multiple of n_head \(heads)") }
        guard Activation(huggingFace: activation) != nil else {
            throw ModelError.invalidConfiguration("activation_function '\(activation)' is not supported")
        }
        guard !scaleByInverseLayerIndex else { throw ModelError.invalidConfiguration("scale_attn_by_inverse_layer_idx is not supported") }
    }
}

// MARK: - Model

public enum GPT2 {
    public static func load(config c: GPT2Configuration, store: any WeightStore, compute: ComputeOptions) throws -> DecoderModel {
        let load = TensorLoader(store)
        let p = store.contains("transformer.wte.weight") ? "transformer." : ""
        let d = c.hiddenSize, hd = d / c.heads, inner = c.innerSize ?? 4 * d
        let act = Activation(huggingFace: c.activation) ?? .geluTanh
        let wte = try load.matrix("\(p)wte.weight", rows: c.vocabularySize, cols: d)    // [vocab, d]
        let wpe = try load.matrix("\(p)wpe.weight", rows: c.maxPositions, cols: d)      // [positions, d]
        let blocks = try (0..<c.layers).map { i in
            let b = "\(p)h.\(i)."
            let qkv = try load.linearTransposed(b + "attn.c_attn.weight", out: 3 * d, in: d, bias: b + "attn.c_attn.bias")
            let parts = load.split(qkv.weight, bias: qkv.bias, parts: [d, d, d])   // rows [q | k | v]
            return TransformerBlock(
                placement: .pre,
                attentionNorm: try load.layerNorm(b + "ln_1.weight", bias: b + "ln_1.bias", dim: d, eps: c.layerNormEps),
                attention: Attention(q: parts[0].retaining(qkv), k: parts[1].retaining(qkv), v: parts[2].retaining(qkv),
                                     o: try load.linearTransposed(b + "attn.c_proj.weight", out: d, in: d, bias: b + "attn.c_proj.bias"),
                                     heads: c.heads, kvHeads: c.heads, headDim: hd,
                                     scale: c.scaleAttentionWeights ? nil : 1),
                feedForwardNorm: try load.layerNorm(b + "ln_2.weight", bias: b + "ln_2.bias", dim: d, eps: c.layerNormEps),
                feedForward: FeedForward(.plain(
                    up: try load.linearTransposed(b + "mlp.c_fc.weight", out: inner, in: d, bias: b + "mlp.c_fc.bias"),
                    down: try load.linearTransposed(b + "mlp.c_proj.weight", out: d, in: inner, bias: b + "mlp.c_proj.bias")),
                    activation: act))
        }
        let finalNorm = try load.layerNorm("\(p)ln_f.weight", bias: "\(p)ln_f.bias", dim: d, eps: c.layerNormEps)
        load.ignore("lm_head.weight")   // tied: a copy of wte when present
        try load.checkAllUsed(ignoring: { $0.hasSuffix(".attn.bias") || $0.hasSuffix(".attn.masked_bias") })
        let stack = TransformerStack(embeddings: Embeddings(tokens: wte, positions: .learned(wpe, offset: 0)),
                                     blocks: blocks, finalNorm: finalNorm)
        return DecoderModel(architecture: "gpt2", stack: stack, head: LMHead(projection: Linear(wte)),
                            maxContextLength: c.maxPositions, compute: compute, store: store)
    }
}
