import Foundation
import LanternFormats
import LanternTensor

// Gemma 3 (Gemma Team 2025), text decoder: pre-RMSNorm blocks whose attention and feed-forward outputs
// are RMS-normed again before the residual sum ("sandwich" norms), per-head RMSNorm of queries and keys
// before RoPE, GeGLU (tanh GELU gate), token embeddings scaled by sqrt(hidden), and local layers with a
// sliding window and their own RoPE base (5 of every 6 layers) between global ones.
//
// llama.cpp's converter stores every Gemma norm weight with Gemma's "+1" already added, so they are plain
// RMSNorm weights here (llama.cpp's graph uses them as such).

// MARK: - Configuration

/// Gemma 3 hyper-parameters from a GGUF file's `gemma3.*` metadata.
public struct Gemma3Configuration: Sendable, Equatable {
    public var hiddenSize: Int
    public var intermediateSize: Int
    public var layers: Int
    public var heads: Int
    public var kvHeads: Int
    public var headDim: Int
    public var vocabularySize: Int
    public var rmsNormEps: Float
    /// RoPE base of the global layers (`rope.freq_base`) and of the sliding-window layers (`rope.freq_base_swa`).
    public var ropeBase: Double, localRopeBase: Double
    /// Linear RoPE scaling of the global layers (positions divided by it); local layers are never scaled.
    public var ropeScale: Double
    /// Keys a local layer's query sees (itself included); nil: no layer is local.
    public var slidingWindow: Int?
    /// Per layer: true for a sliding-window (local) layer.
    public var isLocal: [Bool]
    /// Multiplies q.k: query_pre_attn_scalar^-1/2.
    public var attentionScale: Float
    public var maxContextLength: Int

    /// Reads `gemma3.*` keys as llama.cpp does (src/models/gemma3.cpp): the window pattern is
    /// `attention.sliding_window_pattern` (a per-layer bool array, or a period n: layer i is local unless
    /// i % n == n - 1), 6 by default; softcapping of attention or final logits (Gemma 2) is refused.
    public init(gguf file: GGUFFile) throws {
        let h = GGUFHyperparameters(file, architecture: "gemma3")
        let shape = try h.decoderShape()
        hiddenSize = shape.hiddenSize
        intermediateSize = shape.intermediateSize
        layers = shape.layers
        heads = shape.heads
        kvHeads = shape.kvHeads
        headDim = shape.headDim
        let valueDim = try h.int("attention.value_length", default: headDim)
        guard valueDim == headDim else {
            throw ModelError.invalidConfiguration("gemma3 value length \(valueDim) differs from key length \(headDim)")
        }
        vocabularySize = shape.vocabularySize
        rmsNormEps = Float(try h.double("attention.layer_norm_rms_epsilon", default: 1e-6))
        ropeBase = try h.double("rope.freq_base", default: 1_000_000)
        localRopeBase = try h.double("rope.freq_base_swa", default: 10_000)
        let dimensions = try h.int("rope.dimension_count", default: headDim)
        guard dimensions == headDim else {
            throw ModelError.invalidConfiguration("gemma3 RoPE over \(dimensions) of \(headDim) features is not supported")
        }
        let scalingType = try h.string("rope.scaling.type") ?? "linear"
        guard scalingType == "linear" || scalingType == "none" else {
            throw ModelError.invalidConfiguration("RoPE scaling type '\(scalingType)' is not supported")
        }
        let factor = try h.double("rope.scaling.factor", default: try h.double("rope.scale_linear", default: 0))
        ropeScale = scalingType == "none" || factor == 0 ? 1 : factor
        for key in ["final_logit_softcapping", "attn_logit_softcapping"] {
            if try h.double(key, default: 0) != 0 {
                throw ModelError.invalidConfiguration("gemma3.\(key) is not supported")
            }
        }
        let window = try h.int("attention.sliding_window", default: 0)
        slidingWindow = window > 0 ? window : nil
        if slidingWindow == nil {
            isLocal = Array(repeating: false, count: max(layers, 0))
        } else if let flags = file.metadata[h.key("attention.sliding_window_pattern")]?.array {
            isLocal = try flags.map { v throws(ModelError) in
                guard let b = v.bool else { throw .invalidConfiguration("gemma3.attention.sliding_window_pattern holds \(v.typeName)") }
                return b
            }
        } else {
            let period = try h.int("attention.sliding_window_pattern", default: 6)
            isLocal = (0..<max(layers, 0)).map { period == 0 || $0 % period < period - 1 }
        }
        // Gemma 3 27B's query_pre_attn_scalar is hidden / heads (168), not head_dim; llama.cpp keys it on
        // the layer count too, since the GGUF does not store the scalar.
        let queryScalar = layers == 62 ? hiddenSize / max(heads, 1) : headDim
        attentionScale = 1 / Float(queryScalar).squareRoot()
        maxContextLength = try h.int("context_length", default: 32768)
        try validate()
    }

    func validate() throws(ModelError) {
        try DecoderShape.validate(hiddenSize: hiddenSize, intermediateSize: intermediateSize, layers: layers, heads: heads,
                                  kvHeads: kvHeads, headDim: headDim, vocabularySize: vocabularySize,
                                  maxContextLength: maxContextLength, extra: [("sliding window", slidingWindow ?? 1, 1 << 24)])
        guard headDim % 2 == 0 else { throw .invalidConfiguration("head_dim \(headDim) must be even for RoPE") }
        guard isLocal.count == layers else {
            throw .invalidConfiguration("sliding-window pattern covers \(isLocal.count) of \(layers) layers")
        }
        guard rmsNormEps > 0, ropeBase > 0, localRopeBase > 0, ropeScale > 0 else {
            throw .invalidConfiguration("rms_norm_eps, RoPE bases and the RoPE scale must be positive")
        }
    }
}

// MARK: - Model

public enum Gemma3 {
    /// From a GGUF file (llama.cpp names).
    public static func load(gguf file: GGUFFile, compute: ComputeOptions) throws -> DecoderModel {
        try load(config: Gemma3Configuration(gguf: file), store: file, compute: compute)
    }

    /// The weights of a GGUF store under a given configuration (tests shorten the window with it).
    public static func load(config c: Gemma3Configuration, store: any WeightStore, compute: ComputeOptions) throws -> DecoderModel {
        try c.validate()
        let load = TensorLoader(store)
        let d = c.hiddenSize, qDim = c.heads * c.headDim, kvDim = c.kvHeads * c.headDim
        let embedding = try load.matrix("token_embd.weight", rows: c.vocabularySize, cols: d)
        func norm(_ name: String, _ dim: Int = d) throws -> Norm { try load.rmsNorm(name, dim: dim, eps: c.rmsNormEps) }
        let blocks = try (0..<c.layers).map { i in
            let p = "blk.\(i)."
            return TransformerBlock(
                placement: .pre,
                attentionNorm: try norm(p + "attn_norm.weight"),
                attention: Attention(
                    q: try load.linear(p + "attn_q.weight", out: qDim, in: d),
                    k: try load.linear(p + "attn_k.weight", out: kvDim, in: d),
                    v: try load.linear(p + "attn_v.weight", out: kvDim, in: d),
                    o: try load.linear(p + "attn_output.weight", out: d, in: qDim),
                    heads: c.heads, kvHeads: c.kvHeads, headDim: c.headDim, scale: c.attentionScale,
                    position: .rope(table: c.isLocal[i] ? 1 : 0),
                    queryNorm: try norm(p + "attn_q_norm.weight", c.headDim),
                    keyNorm: try norm(p + "attn_k_norm.weight", c.headDim),
                    window: c.isLocal[i] ? c.slidingWindow : nil),
                feedForwardNorm: try norm(p + "ffn_norm.weight"),
                feedForward: FeedForward(.gated(
                    gate: try load.linear(p + "ffn_gate.weight", out: c.intermediateSize, in: d),
                    up: try load.linear(p + "ffn_up.weight", out: c.intermediateSize, in: d),
                    down: try load.linear(p + "ffn_down.weight", out: d, in: c.intermediateSize)), activation: .geluTanh),
                attentionOutputNorm: try norm(p + "post_attention_norm.weight"),
                feedForwardOutputNorm: try norm(p + "post_ffw_norm.weight"))
        }
        let finalNorm = try norm("output_norm.weight")
        let output = load.has("output.weight") ? try load.linear("output.weight", out: c.vocabularySize, in: d) : Linear(embedding)
        try load.checkAllUsed()
        let global = RotaryEmbedding(dimensions: c.headDim, base: c.ropeBase, pairing: .halves,
                                     frequencyFactors: c.ropeScale == 1 ? nil : Array(repeating: Float(c.ropeScale), count: c.headDim / 2))
        let local = RotaryEmbedding(dimensions: c.headDim, base: c.localRopeBase, pairing: .halves)
        let stack = TransformerStack(embeddings: Embeddings(tokens: embedding, scale: Float(d).squareRoot()), blocks: blocks,
                                     finalNorm: finalNorm, ropes: [global, local])
        return DecoderModel(architecture: "gemma3", stack: stack, head: LMHead(projection: output),
                            maxContextLength: c.maxContextLength, compute: compute, store: store)
    }
}
