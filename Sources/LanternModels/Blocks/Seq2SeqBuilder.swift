import Foundation
import LanternFormats
import LanternTensor

// The post-LayerNorm encoder-decoder that BART (Lewis et al. 2019) and Marian (Junczys-Dowmunt et al.
// 2018) share in transformers: the same config keys, block layout and tensor names. The architecture
// files (Bart.swift, Marian.swift) add only what differs: the position embeddings, the embedding
// LayerNorm, the embedding scale's default.

// MARK: - Configuration

/// The hyper-parameters BART-family configs share (`BartConfig`, `MarianConfig`, ...).
public struct PostNormSeq2SeqConfiguration: Sendable, Decodable, Equatable {
    public var hiddenSize: Int
    public var encoderLayers: Int, decoderLayers: Int
    public var encoderHeads: Int, decoderHeads: Int
    public var encoderFeedForward: Int, decoderFeedForward: Int
    public var vocabularySize: Int
    public var maxPositions: Int
    public var activation: Activation
    /// Absent in many configs; each family has its own default.
    public var scaleEmbedding: Bool?
    public var tieWordEmbeddings: Bool
    /// PyTorch's LayerNorm default; these configs do not record it.
    public var layerNormEps: Float = 1e-5

    enum CodingKeys: String, CodingKey {
        case hiddenSize = "d_model", encoderLayers = "encoder_layers", decoderLayers = "decoder_layers"
        case encoderHeads = "encoder_attention_heads", decoderHeads = "decoder_attention_heads"
        case encoderFeedForward = "encoder_ffn_dim", decoderFeedForward = "decoder_ffn_dim"
        case vocabularySize = "vocab_size", maxPositions = "max_position_embeddings"
        case activation = "activation_function", scaleEmbedding = "scale_embedding"
        case tieWordEmbeddings = "tie_word_embeddings"
    }

    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        hiddenSize = try c.value(Int.self, .hiddenSize, or: 1024)
        encoderLayers = try c.value(Int.self, .encoderLayers, or: 12)
        decoderLayers = try c.value(Int.self, .decoderLayers, or: 12)
        encoderHeads = try c.value(Int.self, .encoderHeads, or: 16)
        decoderHeads = try c.value(Int.self, .decoderHeads, or: 16)
        encoderFeedForward = try c.value(Int.self, .encoderFeedForward, or: 4096)
        decoderFeedForward = try c.value(Int.self, .decoderFeedForward, or: 4096)
        vocabularySize = try c.decode(Int.self, forKey: .vocabularySize)
        maxPositions = try c.value(Int.self, .maxPositions, or: 1024)
        let name = try c.value(String.self, .activation, or: "gelu")
        guard let activation = Activation(huggingFace: name) else {
            throw ModelError.invalidConfiguration("activation_function '\(name)' is not supported")
        }
        self.activation = activation
        scaleEmbedding = try c.decodeIfPresent(Bool.self, forKey: .scaleEmbedding)
        tieWordEmbeddings = try c.value(Bool.self, .tieWordEmbeddings, or: true)
        try validate()
    }

    /// sqrt(d_model) when `scale_embedding` (every released opus-mt model), else 1 (both families' default).
    public var embeddingScale: Float { scaleEmbedding ?? false ? Float(hiddenSize).squareRoot() : 1 }

    func validate() throws(ModelError) {
        let sizes = [("d_model", hiddenSize, 1 << 16), ("encoder_layers", encoderLayers, 1 << 10),
                     ("decoder_layers", decoderLayers, 1 << 10), ("encoder_attention_heads", encoderHeads, 1 << 10),
                     ("decoder_attention_heads", decoderHeads, 1 << 10), ("encoder_ffn_dim", encoderFeedForward, 1 << 18),
                     ("decoder_ffn_dim", decoderFeedForward, 1 << 18), ("vocab_size", vocabularySize, 1 << 22),
                     ("max_position_embeddings", maxPositions, 1 << 20)]
        for (name, v, limit) in sizes where v <= 0 || v > limit {
            throw .invalidConfiguration("\(name) must be in 1...\(limit), found \(v)")
        }
        for heads in [encoderHeads, decoderHeads] where hiddenSize % heads != 0 {
            throw .invalidConfiguration("d_model \(hiddenSize) is not a multiple of \(heads) attention heads")
        }
    }
}

// MARK: - Model

/// Builds a BART-family model from its checkpoint (`model.shared`, `model.{encoder,decoder}.layers.N`).
enum PostNormSeq2Seq {
    /// What the families do differently.
    struct Variant {
        var architecture: String
        /// The stack's absolute positions ("model.encoder" / "model.decoder" is the prefix).
        var positions: (TensorLoader, String) throws -> Embeddings.Positions
        /// BART's `layernorm_embedding` after the embeddings.
        var embeddingNorm: Bool
    }

    static func build(_ c: PostNormSeq2SeqConfiguration, folder: ModelFolder, variant: Variant,
                      compute: ComputeOptions) throws -> EncoderDecoderModel {
        let load = TensorLoader(folder.weights)
        let d = c.hiddenSize
        let shared = try load.matrix("model.shared.weight", rows: c.vocabularySize, cols: d)   // [vocab, d]
        func norm(_ name: String) throws -> Norm {
            try load.layerNorm(name + ".weight", bias: name + ".bias", dim: d, eps: c.layerNormEps)
        }
        func linear(_ name: String, out: Int, in n: Int) throws -> Linear {
            try load.linear(name + ".weight", out: out, in: n, bias: name + ".bias")
        }
        func attention(_ p: String, heads: Int, mask: AttentionMask) throws -> Attention {
            Attention(q: try linear(p + ".q_proj", out: d, in: d), k: try linear(p + ".k_proj", out: d, in: d),
                      v: try linear(p + ".v_proj", out: d, in: d), o: try linear(p + ".out_proj", out: d, in: d),
                      heads: heads, kvHeads: heads, headDim: d / heads, mask: mask)
        }
        func stack(_ prefix: String, layers: Int, heads: Int, ffn: Int, decoder: Bool) throws -> TransformerStack {
            let blocks = try (0..<layers).map { i in
                let p = "\(prefix).layers.\(i)"
                let crossNorm: Norm? = decoder ? try norm(p + ".encoder_attn_layer_norm") : nil
                let cross: Attention? = decoder ? try attention(p + ".encoder_attn", heads: heads, mask: .bidirectional) : nil
                return TransformerBlock(
                    placement: .post, attentionNorm: try norm(p + ".self_attn_layer_norm"),
                    attention: try attention(p + ".self_attn", heads: heads, mask: decoder ? .causal : .bidirectional),
                    crossNorm: crossNorm, crossAttention: cross, feedForwardNorm: try norm(p + ".final_layer_norm"),
                    feedForward: FeedForward(.plain(up: try linear(p + ".fc1", out: ffn, in: d),
                                                    down: try linear(p + ".fc2", out: d, in: ffn)), activation: c.activation))
            }
            load.ignore(prefix + ".embed_tokens.weight")   // a copy of model.shared when present
            let embeddings = Embeddings(tokens: shared, scale: c.embeddingScale,
                                        positions: try variant.positions(load, prefix),
                                        norm: variant.embeddingNorm ? try norm(prefix + ".layernorm_embedding") : nil)
            return TransformerStack(embeddings: embeddings, blocks: blocks, finalNorm: nil)
        }
        let encoder = try stack("model.encoder", layers: c.encoderLayers, heads: c.encoderHeads,
                                ffn: c.encoderFeedForward, decoder: false)
        let decoder = try stack("model.decoder", layers: c.decoderLayers, heads: c.decoderHeads,
                                ffn: c.decoderFeedForward, decoder: true)
        let projection: Linear
        if c.tieWordEmbeddings {
            projection = Linear(shared)
            load.ignore("lm_head.weight")
        } else {
            projection = try load.linear("lm_head.weight", out: c.vocabularySize, in: d)
        }
        // A registered buffer (zeros unless fine-tuned); older checkpoints may lack it.
        let bias = load.has("final_logits_bias") ? try load.floats("final_logits_bias", shape: [1, c.vocabularySize]) : nil
        try load.checkAllUsed()
        let limit = min(encoder.embeddings.maxPositions ?? c.maxPositions, decoder.embeddings.maxPositions ?? c.maxPositions)
        return try EncoderDecoderModel(
            architecture: variant.architecture, encoder: encoder, decoder: decoder,
            head: LMHead(projection: projection, bias: bias), specialTokens: try Seq2SeqSpecialTokens.read(folder),
            maxContextLength: limit, maxSourceLength: limit, compute: compute, store: folder.weights)
    }
}
