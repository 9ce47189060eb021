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
        try validate()
    }

    /// Reads `bloom.*` keys of a GGUF file. `context_length` is what the converter wrote: seq_length,
    /// or (a converter quirk) the hidden size when the config has none.
    public init(gguf file: GGUFFile) throws {
        let h = GGUFHyperparameters(file, architecture: "bloom")
        hiddenSize = try h.int("embedding_length")
        layers = try h.int("block_count")
        heads = try h.int("attention.head_count")
        vocabularySize = try h.vocabularySize()
        layerNormEps = Float(try h.double("attention.layer_norm_epsilon", default: 1e-5))
        residualAfterNorm = false
        maxContextLength = try h.int("context_length", default: 2048)
        guard try h.int("attention.head_count_kv", default: heads) == heads,
              try h.int("feed_forward_length", default: ConfigurationLimits.saturatingProduct(4, hiddenSize))
                == ConfigurationLimits.saturatingProduct(4, hiddenSize) else {
            throw ModelError.invalidConfiguration("bloom needs head_count_kv == head_count and feed_forward_length == 4 * embedding_length")
        }
        try validate()
    }

    func validate() throws {
        try ConfigurationLimits.check([("hidden_size", hiddenSize, 1 << 16), ("n_layer", layers, 1 << 10), ("n_head", heads, 1 << 10),
                                      ("vocab_size", vocabularySize, 1 << 22), ("seq_length", maxContextLength, 1 << 20)])
        guard hiddenSize % heads == 0 else { throw ModelError.invalidConfiguration("hidden_size \(hiddenSize) is not a multiple of n_head \(heads)") }
        guard !residualAfterNorm else { throw ModelError.invalidConfiguration("apply_residual_connection_post_layernorm is not supported") }
    }
}

// MARK: - Model

public enum Bloom {
    /// From a Hugging Face folder (fused query_key_value laid out per head).
    public static func load(config c: BloomConfiguration, store: any WeightStore, compute: ComputeOptions) throws -> DecoderModel {
        let p = store.contains("transformer.word_embeddings.weight") ? "transformer." : ""
        return try build(c, store: store, names: .huggingFace(prefix: p), compute: compute)
    }

    /// From a GGUF file `general.architecture` "bloom" (llama.cpp's converter reorders the fused
    /// projection to blocked [q | k | v] rows, as GPT-2 stores it).
    public static func load(gguf file: GGUFFile, compute: ComputeOptions) throws -> DecoderModel {
        try build(try BloomConfiguration(gguf: file), store: file, names: .gguf, compute: compute)
    }

    static func build(_ c: BloomConfiguration, store: any WeightStore, names: BloomNames, compute: ComputeOptions) throws -> DecoderModel {
        let load = TensorLoader(store)
        let d = c.hiddenSize, hd = d / c.heads
        let slopes = alibiSlopes(heads: c.heads)
        func ln(_ name: String) throws -> Norm { try load.layerNorm(name + ".weight", bias: name + ".bias", dim: d, eps: c.layerNormEps) }
        func linear(_ name: String, out: Int, in n: Int) throws -> Linear {
            try load.linear(name + ".weight", out: out, in: n, bias: name + ".bias")
        }
        let words = try load.matrix(names.tokens, rows: c.vocabularySize, cols: d)   // [vocab, d]
        let blocks = try (0..<c.layers).map { i in
            let qkv: [Linear]
            if names.perHeadQKV {
                qkv = try load.splitPerHead(names.qkv(i) + ".weight", bias: names.qkv(i) + ".bias", heads: c.heads, headDim: hd, in: d)
            } else {
                let fused = try linear(names.qkv(i), out: 3 * d, in: d)
                qkv = load.split(fused.weight, bias: fused.bias, parts: [d, d, d]).map { $0.retaining(fused) }
            }
            return TransformerBlock(
                placement: .pre,
                attentionNorm: try ln(names.attentionNorm(i)),
                attention: Attention(q: qkv[0], k: qkv[1], v: qkv[2], o: try linear(names.attentionOutput(i), out: d, in: d),
                                     heads: c.heads, kvHeads: c.heads, headDim: hd, position: .alibi(slopes: slopes)),
                feedForwardNorm: try ln(names.feedForwardNorm(i)),
                feedForward: FeedForward(.plain(up: try linear(names.up(i), out: 4 * d, in: d),
                                                down: try linear(names.down(i), out: d, in: 4 * d)), activation: .geluTanh))
        }
        let embeddings = Embeddings(tokens: words, norm: try ln(names.embeddingNorm))
        let finalNorm = try ln(names.finalNorm)
        load.ignore(names.output)   // tied
        try load.checkAllUsed()
        let stack = TransformerStack(embeddings: embeddings, blocks: blocks, finalNorm: finalNorm)
        return DecoderModel(architecture: "bloom", stack: stack, head: LMHead(projection: Linear(words)),
                            maxContextLength: c.maxContextLength, compute: compute, store: store)
    }
}

// MARK: - Checkpoint names

/// Tensor names of the two layouts; layer names are prefixes of `.weight` / `.bias`.
struct BloomNames: Sendable {
    typealias Name = @Sendable (Int) -> String
    let tokens: String, embeddingNorm: String, finalNorm: String, output: String
    let attentionNorm: Name, qkv: Name, attentionOutput: Name, feedForwardNorm: Name, up: Name, down: Name
    /// Hugging Face's fused projection is [heads][3][headDim]; the GGUF one [3][heads * headDim].
    let perHeadQKV: Bool

    static func huggingFace(prefix p: String) -> BloomNames {
        BloomNames(tokens: "\(p)word_embeddings.weight", embeddingNorm: "\(p)word_embeddings_layernorm", finalNorm: "\(p)ln_f",
                   output: "lm_head.weight", attentionNorm: { "\(p)h.\($0).input_layernorm" },
                   qkv: { "\(p)h.\($0).self_attention.query_key_value" }, attentionOutput: { "\(p)h.\($0).self_attention.dense" },
                   feedForwardNorm: { "\(p)h.\($0).post_attention_layernorm" }, up: { "\(p)h.\($0).mlp.dense_h_to_4h" },
                   down: { "\(p)h.\($0).mlp.dense_4h_to_h" }, perHeadQKV: true)
    }

    static let gguf = BloomNames(
        tokens: "token_embd.weight", embeddingNorm: "token_embd_norm", finalNorm: "output_norm", output: "output.weight",
        attentionNorm: { "blk.\($0).attn_norm" }, qkv: { "blk.\($0).attn_qkv" }, attentionOutput: { "blk.\($0).attn_output" },
        feedForwardNorm: { "blk.\($0).ffn_norm" }, up: { "blk.\($0).ffn_up" }, down: { "blk.\($0).ffn_down" }, perHeadQKV: false)
}
