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
        try validate()
    }

    /// Reads `gpt2.*` keys of a GGUF file. llama.cpp's GPT-2 is always GELU (tanh) with scaled
    /// attention; the vocabulary size is the token table's.
    public init(gguf file: GGUFFile) throws {
        let h = GGUFHyperparameters(file, architecture: "gpt2")
        hiddenSize = try h.int("embedding_length")
        layers = try h.int("block_count")
        heads = try h.int("attention.head_count")
        innerSize = try h.int("feed_forward_length", default: ConfigurationLimits.saturatingProduct(4, hiddenSize))
        vocabularySize = try h.vocabularySize()
        maxPositions = try h.int("context_length")
        layerNormEps = Float(try h.double("attention.layer_norm_epsilon", default: 1e-5))
        activation = "gelu_new"
        scaleAttentionWeights = true
        scaleByInverseLayerIndex = false
        try validate()
    }

    func validate() throws {
        try ConfigurationLimits.check([("n_embd", hiddenSize, 1 << 16), ("n_layer", layers, 1 << 10), ("n_head", heads, 1 << 10),
                                      ("vocab_size", vocabularySize, 1 << 22), ("n_positions", maxPositions, 1 << 20),
                                      ("n_inner", innerSize ?? ConfigurationLimits.saturatingProduct(4, hiddenSize), 1 << 18)])
        guard hiddenSize % heads == 0 else { throw ModelError.invalidConfiguration("n_embd \(hiddenSize) is not a multiple of n_head \(heads)") }
        guard Activation(huggingFace: activation) != nil else {
            throw ModelError.invalidConfiguration("activation_function '\(activation)' is not supported")
        }
        guard !scaleByInverseLayerIndex else { throw ModelError.invalidConfiguration("scale_attn_by_inverse_layer_idx is not supported") }
    }
}

// MARK: - Model

public enum GPT2 {
    /// From a Hugging Face folder (Conv1D weights stored [in, out]).
    public static func load(config c: GPT2Configuration, store: any WeightStore, compute: ComputeOptions) throws -> DecoderModel {
        let p = store.contains("transformer.wte.weight") ? "transformer." : ""
        return try build(c, store: store, names: .huggingFace(prefix: p), compute: compute)
    }

    /// From a GGUF file `general.architecture` "gpt2" (llama.cpp's converter stores every weight [out, in]).
    public static func load(gguf file: GGUFFile, compute: ComputeOptions) throws -> DecoderModel {
        try build(try GPT2Configuration(gguf: file), store: file, names: .gguf, compute: compute)
    }

    static func build(_ c: GPT2Configuration, store: any WeightStore, names: GPT2Names, compute: ComputeOptions) throws -> DecoderModel {
        let load = TensorLoader(store)
        let d = c.hiddenSize, hd = d / c.heads, inner = c.innerSize ?? 4 * d
        let act = Activation(huggingFace: c.activation) ?? .geluTanh
        func linear(_ name: String, out: Int, in n: Int) throws -> Linear {
            names.transposed ? try load.linearTransposed(name + ".weight", out: out, in: n, bias: name + ".bias")
                             : try load.linear(name + ".weight", out: out, in: n, bias: name + ".bias")
        }
        func norm(_ name: String) throws -> Norm { try load.layerNorm(name + ".weight", bias: name + ".bias", dim: d, eps: c.layerNormEps) }
        let wte = try load.matrix(names.tokens, rows: c.vocabularySize, cols: d)       // [vocab, d]
        let wpe = try load.matrix(names.positions, rows: c.maxPositions, cols: d)      // [positions, d]
        let blocks = try (0..<c.layers).map { i in
            let qkv = try linear(names.qkv(i), out: 3 * d, in: d)
            let parts = load.split(qkv.weight, bias: qkv.bias, parts: [d, d, d])   // rows [q | k | v]
            return TransformerBlock(
                placement: .pre,
                attentionNorm: try norm(names.attentionNorm(i)),
                attention: Attention(q: parts[0].retaining(qkv), k: parts[1].retaining(qkv), v: parts[2].retaining(qkv),
                                     o: try linear(names.attentionOutput(i), out: d, in: d),
                                     heads: c.heads, kvHeads: c.heads, headDim: hd,
                                     scale: c.scaleAttentionWeights ? nil : 1),
                feedForwardNorm: try norm(names.feedForwardNorm(i)),
                feedForward: FeedForward(.plain(up: try linear(names.up(i), out: inner, in: d),
                                                down: try linear(names.down(i), out: d, in: inner)), activation: act))
        }
        let finalNorm = try norm(names.finalNorm)
        load.ignore(names.output)   // tied: a copy of the token table when present
        try load.checkAllUsed(ignoring: names.ignorable)
        let stack = TransformerStack(embeddings: Embeddings(tokens: wte, positions: .learned(wpe, offset: 0)),
                                     blocks: blocks, finalNorm: finalNorm)
        return DecoderModel(architecture: "gpt2", stack: stack, head: LMHead(projection: Linear(wte)),
                            maxContextLength: c.maxPositions, compute: compute, store: store)
    }
}

// MARK: - Checkpoint names

/// Tensor names of the two layouts; layer names are prefixes of `.weight` / `.bias`.
struct GPT2Names: Sendable {
    typealias Name = @Sendable (Int) -> String
    let tokens: String, positions: String, finalNorm: String, output: String
    let attentionNorm: Name, qkv: Name, attentionOutput: Name, feedForwardNorm: Name, up: Name, down: Name
    /// Hugging Face's Conv1D keeps weights [in, out]; llama.cpp's converter transposes them to [out, in].
    let transposed: Bool
    let ignorable: @Sendable (String) -> Bool

    static func huggingFace(prefix p: String) -> GPT2Names {
        GPT2Names(tokens: "\(p)wte.weight", positions: "\(p)wpe.weight", finalNorm: "\(p)ln_f", output: "lm_head.weight",
                  attentionNorm: { "\(p)h.\($0).ln_1" }, qkv: { "\(p)h.\($0).attn.c_attn" },
                  attentionOutput: { "\(p)h.\($0).attn.c_proj" }, feedForwardNorm: { "\(p)h.\($0).ln_2" },
                  up: { "\(p)h.\($0).mlp.c_fc" }, down: { "\(p)h.\($0).mlp.c_proj" }, transposed: true,
                  // the causal-mask buffers older checkpoints saved
                  ignorable: { $0.hasSuffix(".attn.bias") || $0.hasSuffix(".attn.masked_bias") })
    }

    static let gguf = GPT2Names(
        tokens: "token_embd.weight", positions: "position_embd.weight", finalNorm: "output_norm", output: "output.weight",
        attentionNorm: { "blk.\($0).attn_norm" }, qkv: { "blk.\($0).attn_qkv" }, attentionOutput: { "blk.\($0).attn_output" },
        feedForwardNorm: { "blk.\($0).ffn_norm" }, up: { "blk.\($0).ffn_up" }, down: { "blk.\($0).ffn_down" },
        transposed: false, ignorable: { _ in false })
}
