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

    /// Reads `t5.*` keys of a GGUF file. GGUF does not record what llama.cpp fixes: the relative
    /// distance limit (128) and the feed-forward (gated GELU-tanh when `ffn_gate` tensors exist, else
    /// ReLU). A tied head (no `output.weight`, or one equal to the token table) scales the decoder
    /// output by d_model^-0.5 as transformers' T5 does.
    public init(gguf file: GGUFFile) throws {
        let h = GGUFHyperparameters(file, architecture: "t5")
        hiddenSize = try h.int("embedding_length")
        heads = try h.int("attention.head_count")
        headDim = try h.int("attention.key_length", default: hiddenSize / max(heads, 1))
        guard try h.int("attention.value_length", default: headDim) == headDim else {
            throw ModelError.invalidConfiguration("t5.attention.value_length differs from key_length")
        }
        feedForward = try h.int("feed_forward_length")
        encoderLayers = try h.int("block_count")
        decoderLayers = try h.int("decoder_block_count", default: encoderLayers)
        buckets = try h.int("attention.relative_buckets_count", default: 32)
        maxDistance = 128
        layerNormEps = Float(try h.double("attention.layer_norm_rms_epsilon", default: 1e-6))
        vocabularySize = try h.vocabularySize()
        gated = file.contains("enc.blk.0.ffn_gate.weight")
        activation = gated ? .geluTanh : .relu
        if file.contains("output.weight") {
            let output = try file.tensor("output.weight"), table = try file.tensor("token_embd.weight")
            tieWordEmbeddings = output.dtype == table.dtype && output.byteCount == table.byteCount
                && memcmp(output.data, table.data, output.byteCount) == 0
        } else {
            tieWordEmbeddings = true
        }
        scaleDecoderOutputs = tieWordEmbeddings
        maxPositions = try h.int("context_length", default: 512)
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
        let c = try decodeConfiguration(T5Configuration.self, from: folder)
        return try build(c, store: folder.weights, names: .huggingFace, architecture: folder.modelType,
                         specialTokens: try Seq2SeqSpecialTokens.read(folder), compute: compute)
    }

    /// From a GGUF file `general.architecture` "t5" (llama.cpp's `enc.` / `dec.` names). Special
    /// tokens come from `t5.decoder_start_token_id` and the tokenizer's eos / padding ids.
    public static func load(gguf file: GGUFFile, compute: ComputeOptions) throws -> EncoderDecoderModel {
        let c = try T5Configuration(gguf: file)
        func id(_ key: String) throws -> Int? { file.metadata[key] == nil ? nil : try file.int(key) }
        let pad = try id("tokenizer.ggml.padding_token_id")
        let start = try id("t5.decoder_start_token_id") ?? pad ?? 0
        let special = Seq2SeqSpecialTokens(decoderStart: start, eos: try id("tokenizer.ggml.eos_token_id").map { [$0] } ?? [], pad: pad)
        return try build(c, store: file, names: .gguf, architecture: "t5", specialTokens: special, compute: compute)
    }

    static func build(_ c: T5Configuration, store: any WeightStore, names: T5Names, architecture: String,
                      specialTokens: Seq2SeqSpecialTokens, compute: ComputeOptions) throws -> EncoderDecoderModel {
        let load = TensorLoader(store)
        let d = c.hiddenSize, inner = c.heads * c.headDim
        let shared = try load.matrix(names.shared, rows: c.vocabularySize, cols: d)   // [vocab, d]
        func norm(_ name: String) throws -> Norm { try load.rmsNorm(name, dim: d, eps: c.layerNormEps) }
        func linear(_ name: String, out: Int, in n: Int) throws -> Linear { try load.linear(name, out: out, in: n) }
        func attention(_ p: T5Names.Part, position: PositionScheme, mask: AttentionMask) throws -> Attention {
            Attention(q: try linear(p("q"), out: inner, in: d), k: try linear(p("k"), out: inner, in: d),
                      v: try linear(p("v"), out: inner, in: d), o: try linear(p("o"), out: d, in: inner),
                      heads: c.heads, kvHeads: c.heads, headDim: c.headDim, scale: 1, position: position, mask: mask)
        }
        func feedForward(_ p: T5Names.Part) throws -> FeedForward {
            let kind: FeedForward.Kind = c.gated
                ? .gated(gate: try linear(p("gate"), out: c.feedForward, in: d), up: try linear(p("gatedUp"), out: c.feedForward, in: d),
                         down: try linear(p("down"), out: d, in: c.feedForward))
                : .plain(up: try linear(p("up"), out: c.feedForward, in: d), down: try linear(p("down"), out: d, in: c.feedForward))
            return FeedForward(kind, activation: c.activation)
        }
        func stack(_ s: T5Names.Stack, layers: Int) throws -> TransformerStack {
            let decoder = s == .decoder
            // [buckets, heads], read once and shared by every layer of the stack.
            let weight = try load.floats(names.relativeBias(s), shape: [c.buckets, c.heads])
            let bias = RelativePositionBias(weight: weight, heads: c.heads, buckets: c.buckets, maxDistance: c.maxDistance,
                                            bidirectional: !decoder, span: c.maxPositions)
            let blocks = try (0..<layers).map { i in
                TransformerBlock(
                    placement: .pre, attentionNorm: try norm(names.selfNorm(s, i)),
                    attention: try attention(names.selfAttention(s, i), position: .relative(bias), mask: decoder ? .causal : .bidirectional),
                    crossNorm: decoder ? try norm(names.crossNorm(i)) : nil,
                    crossAttention: decoder ? try attention(names.crossAttention(i), position: .none, mask: .bidirectional) : nil,
                    feedForwardNorm: try norm(names.feedForwardNorm(s, i)), feedForward: try feedForward(names.feedForward(s, i)))
            }
            names.copiesOfShared(s).forEach(load.ignore)   // copies of the shared table when present
            return TransformerStack(embeddings: Embeddings(tokens: shared), blocks: blocks, finalNorm: try norm(names.finalNorm(s)))
        }
        let encoder = try stack(.encoder, layers: c.encoderLayers)
        let decoder = try stack(.decoder, layers: c.decoderLayers)
        // A separate lm_head wins whenever the file has one (transformers 5 writes tie_word_embeddings
        // true even for untied v1.1 checkpoints).
        let projection = load.has(names.output) ? try load.linear(names.output, out: c.vocabularySize, in: d) : Linear(shared)
        try load.checkAllUsed()
        return try EncoderDecoderModel(
            architecture: architecture, encoder: encoder, decoder: decoder,
            head: LMHead(projection: projection, inputScale: c.scaleDecoderOutputs ? 1 / Float(d).squareRoot() : 1),
            specialTokens: specialTokens, maxContextLength: c.maxPositions,
            maxSourceLength: c.maxPositions, compute: compute, store: store)
    }
}

// MARK: - Checkpoint names

/// Tensor names of the two layouts. A `Part` maps a projection's role (q, k, v, o; gate, gatedUp,
/// up, down) to its full tensor name.
struct T5Names: Sendable {
    enum Stack: Sendable { case encoder, decoder }
    typealias Part = @Sendable (String) -> String
    let shared: String, output: String
    let relativeBias: @Sendable (Stack) -> String, finalNorm: @Sendable (Stack) -> String
    let copiesOfShared: @Sendable (Stack) -> [String]
    let selfNorm: @Sendable (Stack, Int) -> String, selfAttention: @Sendable (Stack, Int) -> Part
    let crossNorm: @Sendable (Int) -> String, crossAttention: @Sendable (Int) -> Part
    let feedForwardNorm: @Sendable (Stack, Int) -> String, feedForward: @Sendable (Stack, Int) -> Part

    static let huggingFace: T5Names = {
        @Sendable func stack(_ s: Stack) -> String { s == .encoder ? "encoder" : "decoder" }
        @Sendable func layer(_ s: Stack, _ i: Int, _ k: Int) -> String { "\(stack(s)).block.\(i).layer.\(k)" }
        let ff = ["gate": "wi_0", "gatedUp": "wi_1", "up": "wi", "down": "wo"]
        return T5Names(
            shared: "shared.weight", output: "lm_head.weight",
            relativeBias: { "\(stack($0)).block.0.layer.0.SelfAttention.relative_attention_bias.weight" },
            finalNorm: { "\(stack($0)).final_layer_norm.weight" }, copiesOfShared: { ["\(stack($0)).embed_tokens.weight"] },
            selfNorm: { "\(layer($0, $1, 0)).layer_norm.weight" },
            selfAttention: { s, i in { "\(layer(s, i, 0)).SelfAttention.\($0).weight" } },
            crossNorm: { "\(layer(.decoder, $0, 1)).layer_norm.weight" },
            crossAttention: { i in { "\(layer(.decoder, i, 1)).EncDecAttention.\($0).weight" } },
            feedForwardNorm: { "\(layer($0, $1, $0 == .decoder ? 2 : 1)).layer_norm.weight" },
            feedForward: { s, i in { "\(layer(s, i, s == .decoder ? 2 : 1)).DenseReluDense.\(ff[$0] ?? $0).weight" } })
    }()

    /// llama.cpp's layout: `enc.blk.N.*`, `dec.blk.N.*`, cross-attention as `dec.blk.N.cross_attn_*`;
    /// both wi (v1.0) and wi_1 (gated) are `ffn_up`.
    static let gguf: T5Names = {
        @Sendable func stack(_ s: Stack) -> String { s == .encoder ? "enc" : "dec" }
        let attn = ["q": "q", "k": "k", "v": "v", "o": "o"]
        let ff = ["gate": "ffn_gate", "gatedUp": "ffn_up", "up": "ffn_up", "down": "ffn_down"]
        return T5Names(
            shared: "token_embd.weight", output: "output.weight",
            relativeBias: { "\(stack($0)).blk.0.attn_rel_b.weight" }, finalNorm: { "\(stack($0)).output_norm.weight" },
            copiesOfShared: { _ in [] },
            selfNorm: { "\(stack($0)).blk.\($1).attn_norm.weight" },
            selfAttention: { s, i in { "\(stack(s)).blk.\(i).attn_\(attn[$0] ?? $0).weight" } },
            crossNorm: { "dec.blk.\($0).cross_attn_norm.weight" },
            crossAttention: { i in { "dec.blk.\(i).cross_attn_\(attn[$0] ?? $0).weight" } },
            feedForwardNorm: { "\(stack($0)).blk.\($1).ffn_norm.weight" },
            feedForward: { s, i in { "\(stack(s)).blk.\(i).\(ff[$0] ?? $0).weight" } })
    }()
}
