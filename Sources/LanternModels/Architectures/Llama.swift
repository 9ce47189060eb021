import Foundation
import LanternFormats
import LanternTensor

// LLaMA family (Touvron et al. 2023): pre-RMSNorm blocks, rotary positions, grouped-query attention,
// SwiGLU MLP, optional tied output embedding. Covers SmolLM2, LLaMA 2/3, Mistral-style checkpoints.

// MARK: - Configuration

/// LLaMA hyper-parameters, read from a GGUF file's `llama.*` metadata or a Hugging Face config.json.
public struct LlamaConfiguration: Sendable, Decodable, Equatable {
    public var hiddenSize: Int
    public var intermediateSize: Int
    public var layers: Int
    public var heads: Int
    public var kvHeads: Int
    public var headDim: Int
    public var vocabularySize: Int
    public var rmsNormEps: Float
    public var ropeBase: Double
    /// Leading features of each head that RoPE rotates (all of them unless the checkpoint says less).
    public var ropeDimensions: Int
    public var maxContextLength: Int
    public var tieWordEmbeddings: Bool
    /// Long-context RoPE stretching from config.json's `rope_scaling` / `rope_parameters` or GGUF's
    /// `rope.scaling.*` (llama3-style factors in a GGUF come as the `rope_freqs.weight` tensor instead).
    public var ropeScaling: RopeScaling?

    enum CodingKeys: String, CodingKey {
        case hiddenSize = "hidden_size", intermediateSize = "intermediate_size", layers = "num_hidden_layers"
        case heads = "num_attention_heads", kvHeads = "num_key_value_heads", headDim = "head_dim"
        case vocabularySize = "vocab_size", rmsNormEps = "rms_norm_eps", ropeTheta = "rope_theta"
        case ropeParameters = "rope_parameters", maxContextLength = "max_position_embeddings"
        case tieWordEmbeddings = "tie_word_embeddings", ropeScaling = "rope_scaling"
    }

    /// `rope_scaling` (transformers 4) or `rope_parameters` (transformers 5, which folds the scaling in).
    struct RopeParameters: Decodable {
        var rope_theta: Double?, rope_type: String?, type: String?
        var factor: Double?, low_freq_factor: Double?, high_freq_factor: Double?, original_max_position_embeddings: Int?

        var kind: String { rope_type ?? type ?? "default" }

        func scaling() throws(ModelError) -> RopeScaling? {
            func need<T>(_ v: T?, _ key: String) throws(ModelError) -> T {
                guard let v else { throw .invalidConfiguration("RoPE scaling '\(kind)' needs '\(key)'") }
                return v
            }
            switch kind {
            case "default": return nil
            case "linear": return .linear(factor: try need(factor, "factor"))
            case "llama3":
                return .llama3(factor: try need(factor, "factor"), lowFrequencyFactor: try need(low_freq_factor, "low_freq_factor"),
                               highFrequencyFactor: try need(high_freq_factor, "high_freq_factor"),
                               originalContextLength: try need(original_max_position_embeddings, "original_max_position_embeddings"))
            default: throw .unsupportedRoPEScaling(kind)
            }
        }
    }

    public init(hiddenSize: Int, intermediateSize: Int, layers: Int, heads: Int, kvHeads: Int, headDim: Int,
                vocabularySize: Int, rmsNormEps: Float, ropeBase: Double, maxContextLength: Int,
                tieWordEmbeddings: Bool, ropeScaling: RopeScaling? = nil) throws(ModelError) {
        self.hiddenSize = hiddenSize
        self.intermediateSize = intermediateSize
        self.layers = layers
        self.heads = heads
        self.kvHeads = kvHeads
        self.headDim = headDim
        self.vocabularySize = vocabularySize
        self.rmsNormEps = rmsNormEps
        self.ropeBase = ropeBase
        self.ropeDimensions = headDim
        self.maxContextLength = maxContextLength
        self.tieWordEmbeddings = tieWordEmbeddings
        self.ropeScaling = ropeScaling
        try validate()
    }

    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        hiddenSize = try c.decode(Int.self, forKey: .hiddenSize)
        intermediateSize = try c.decode(Int.self, forKey: .intermediateSize)
        layers = try c.decode(Int.self, forKey: .layers)
        heads = try c.decode(Int.self, forKey: .heads)
        kvHeads = try c.value(Int.self, .kvHeads, or: heads)
        headDim = try c.value(Int.self, .headDim, or: (hiddenSize / max(heads, 1)))
        vocabularySize = try c.decode(Int.self, forKey: .vocabularySize)
        rmsNormEps = try c.value(Float.self, .rmsNormEps, or: 1e-6)
        let rope = try c.decodeIfPresent(RopeParameters.self, forKey: .ropeParameters)
        ropeBase = try c.value(Double.self, .ropeTheta, or: rope?.rope_theta ?? 10000)
        // linear and llama3 scaling are computed here; the others (dynamic, yarn, longrope) change
        // angles or attention in ways not implemented: refused rather than run wrong.
        let scaling = try c.decodeIfPresent(RopeParameters.self, forKey: .ropeScaling)
        ropeScaling = try [scaling, rope].compactMap { $0 }.first { $0.kind != "default" }?.scaling()
        ropeDimensions = headDim
        maxContextLength = try c.value(Int.self, .maxContextLength, or: 2048)
        tieWordEmbeddings = try c.value(Bool.self, .tieWordEmbeddings, or: false)
        try validate()
    }

    /// Reads `<arch>.*` keys of a GGUF file (arch is `general.architecture`, "llama" here).
    public init(gguf file: GGUFFile, architecture arch: String = "llama") throws {
        let h = GGUFHyperparameters(file, architecture: arch)
        let shape = try h.decoderShape()
        hiddenSize = shape.hiddenSize
        intermediateSize = shape.intermediateSize
        layers = shape.layers
        heads = shape.heads
        kvHeads = shape.kvHeads
        headDim = shape.headDim
        vocabularySize = shape.vocabularySize
        rmsNormEps = Float(try h.double("attention.layer_norm_rms_epsilon", default: 1e-5))
        ropeBase = try h.double("rope.freq_base", default: 10000)
        ropeDimensions = try h.int("rope.dimension_count", default: headDim)
        switch try h.string("rope.scaling.type") {
        case nil, "none"?: ropeScaling = nil
        case "linear"?: ropeScaling = .linear(factor: try file.double(h.key("rope.scaling.factor")))
        case let type?: throw ModelError.unsupportedRoPEScaling(type)
        }
        maxContextLength = try h.int("context_length", default: 2048)
        tieWordEmbeddings = !file.contains("output.weight")
        try validate()
    }

    func validate() throws(ModelError) {
        try DecoderShape.validate(hiddenSize: hiddenSize, intermediateSize: intermediateSize, layers: layers, heads: heads,
                                  kvHeads: kvHeads, headDim: headDim, vocabularySize: vocabularySize,
                                  maxContextLength: maxContextLength, extra: [("RoPE dimensions", ropeDimensions, 1 << 12)])
        guard ropeDimensions % 2 == 0, ropeDimensions <= headDim else {
            throw .invalidConfiguration("RoPE dimensions \(ropeDimensions) must be even and at most head_dim \(headDim)")
        }
        guard rmsNormEps > 0, ropeBase > 0 else { throw .invalidConfiguration("rms_norm_eps and rope_theta must be positive") }
        try ropeScaling?.validate()
    }
}

// MARK: - Model

/// LLaMA-family decoders on the shared core: pre-RMSNorm blocks, separate q/k/v without biases, RoPE,
/// gated SiLU feed-forward, tied or untied head.
public enum Llama {
    /// From a GGUF file (llama.cpp names; attn_q/attn_k rows permuted for adjacent-pair RoPE).
    public static func load(gguf file: GGUFFile, architecture: String = "llama", compute: ComputeOptions) throws -> DecoderModel {
        let config = try LlamaConfiguration(gguf: file, architecture: architecture)
        return try build(config, store: file, names: .gguf, pairing: .adjacent, architecture: architecture, compute: compute)
    }

    /// From a Hugging Face folder's config.json and safetensors (rotate_half RoPE).
    public static func load(config: LlamaConfiguration, store: any WeightStore, compute: ComputeOptions) throws -> DecoderModel {
        try build(config, store: store, names: .huggingFace, pairing: .halves, architecture: "llama", compute: compute)
    }

    /// - Parameter qkvBias: q, k and v carry biases (`<name>.bias` beside each weight: Qwen2).
    static func build(_ c: LlamaConfiguration, store: any WeightStore, names: LlamaNames, pairing: RotaryEmbedding.Pairing,
                      qkvBias: Bool = false, architecture: String, compute: ComputeOptions) throws -> DecoderModel {
        let load = TensorLoader(store)
        func bias(_ weight: String) -> String? { qkvBias ? String(weight.dropLast("weight".count)) + "bias" : nil }
        let embedding = try load.matrix(names.embedding, rows: c.vocabularySize, cols: c.hiddenSize)
        let qDim = c.heads * c.headDim, kvDim = c.kvHeads * c.headDim, d = c.hiddenSize
        let blocks = try (0..<c.layers).map { i in
            TransformerBlock(
                placement: .pre,
                attentionNorm: try load.rmsNorm(names.attentionNorm(i), dim: d, eps: c.rmsNormEps),
                attention: Attention(
                    q: try load.linear(names.q(i), out: qDim, in: d, bias: bias(names.q(i))),
                    k: try load.linear(names.k(i), out: kvDim, in: d, bias: bias(names.k(i))),
                    v: try load.linear(names.v(i), out: kvDim, in: d, bias: bias(names.v(i))),
                    o: try load.linear(names.o(i), out: d, in: qDim),
                    heads: c.heads, kvHeads: c.kvHeads, headDim: c.headDim, position: .rope(table: 0)),
                feedForwardNorm: try load.rmsNorm(names.mlpNorm(i), dim: d, eps: c.rmsNormEps),
                feedForward: FeedForward(.gated(
                    gate: try load.linear(names.gate(i), out: c.intermediateSize, in: d),
                    up: try load.linear(names.up(i), out: c.intermediateSize, in: d),
                    down: try load.linear(names.down(i), out: d, in: c.intermediateSize)), activation: .silu))
        }
        let finalNorm = try load.rmsNorm(names.finalNorm, dim: d, eps: c.rmsNormEps)
        let output: Linear
        if c.tieWordEmbeddings {
            output = Linear(embedding)
            load.ignore(names.output)   // some tied checkpoints store a copy anyway
        } else {
            output = try load.linear(names.output, out: c.vocabularySize, in: d)
        }
        // llama3-style long-context RoPE: per-frequency divisors stored with the weights (GGUF), or
        // computed from the configuration's scaling; both apply when a file has both.
        var factors = load.has("rope_freqs.weight")
            ? try load.floats("rope_freqs.weight", shape: [c.ropeDimensions / 2]) : nil
        if let scaling = c.ropeScaling {
            let computed = scaling.frequencyFactors(dimensions: c.ropeDimensions, base: c.ropeBase)
            factors = factors.map { zip($0, computed).map { $0 * $1 } } ?? computed
        }
        try load.checkAllUsed(ignoring: names.ignorable)
        let rope = RotaryEmbedding(dimensions: c.ropeDimensions, base: c.ropeBase, pairing: pairing, frequencyFactors: factors)
        let stack = TransformerStack(embeddings: Embeddings(tokens: embedding), blocks: blocks, finalNorm: finalNorm, ropes: [rope])
        return DecoderModel(architecture: architecture, stack: stack, head: LMHead(projection: output),
                            maxContextLength: c.maxContextLength, compute: compute, store: store)
    }
}

// MARK: - Checkpoint names

/// Tensor names of the two checkpoint layouts.
struct LlamaNames: Sendable {
    typealias Name = @Sendable (Int) -> String
    let embedding: String, finalNorm: String, output: String
    let attentionNorm: Name, q: Name, k: Name, v: Name, o: Name
    let mlpNorm: Name, gate: Name, up: Name, down: Name
    /// Tensors a file may carry that this model does not use.
    let ignorable: @Sendable (String) -> Bool

    static let gguf = LlamaNames(
        embedding: "token_embd.weight", finalNorm: "output_norm.weight", output: "output.weight",
        attentionNorm: { "blk.\($0).attn_norm.weight" }, q: { "blk.\($0).attn_q.weight" },
        k: { "blk.\($0).attn_k.weight" }, v: { "blk.\($0).attn_v.weight" }, o: { "blk.\($0).attn_output.weight" },
        mlpNorm: { "blk.\($0).ffn_norm.weight" }, gate: { "blk.\($0).ffn_gate.weight" },
        up: { "blk.\($0).ffn_up.weight" }, down: { "blk.\($0).ffn_down.weight" },
        // attn_rot_embd: precomputed RoPE tables some old converters stored; recomputed here.
        ignorable: { $0.hasSuffix(".attn_rot_embd") })

    static let huggingFace = LlamaNames(
        embedding: "model.embed_tokens.weight", finalNorm: "model.norm.weight", output: "lm_head.weight",
        attentionNorm: { "model.layers.\($0).input_layernorm.weight" }, q: { "model.layers.\($0).self_attn.q_proj.weight" },
        k: { "model.layers.\($0).self_attn.k_proj.weight" }, v: { "model.layers.\($0).self_attn.v_proj.weight" },
        o: { "model.layers.\($0).self_attn.o_proj.weight" },
        mlpNorm: { "model.layers.\($0).post_attention_layernorm.weight" }, gate: { "model.layers.\($0).mlp.gate_proj.weight" },
        up: { "model.layers.\($0).mlp.up_proj.weight" }, down: { "model.layers.\($0).mlp.down_proj.weight" },
        ignorable: { $0.hasSuffix("rotary_emb.inv_freq") })
}
