import Foundation
import LanternFormats
import LanternTensor

// BERT (Devlin et al. 2019): word + learned position + token-type embeddings with a LayerNorm,
// bidirectional post-LayerNorm blocks, exact GELU, and (BertForMaskedLM) the MLM head
// dense -> act -> LayerNorm -> decoder tied to the word embeddings + bias. Also reads BertModel
// checkpoints without a head (sentence-transformers models such as all-MiniLM-L6-v2).

// MARK: - Configuration

public struct BertConfiguration: Sendable, Decodable, Equatable {
    public var hiddenSize: Int
    public var layers: Int
    public var heads: Int
    public var intermediateSize: Int
    public var vocabularySize: Int
    public var maxPositions: Int
    public var typeVocabularySize: Int
    public var layerNormEps: Float
    public var activation: String

    enum CodingKeys: String, CodingKey {
        case hiddenSize = "hidden_size", layers = "num_hidden_layers", heads = "num_attention_heads"
        case intermediateSize = "intermediate_size", vocabularySize = "vocab_size"
        case maxPositions = "max_position_embeddings", typeVocabularySize = "type_vocab_size"
        case layerNormEps = "layer_norm_eps", activation = "hidden_act", positionType = "position_embedding_type"
    }

    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        hiddenSize = try c.decode(Int.self, forKey: .hiddenSize)
        layers = try c.decode(Int.self, forKey: .layers)
        heads = try c.decode(Int.self, forKey: .heads)
        intermediateSize = try c.decode(Int.self, forKey: .intermediateSize)
        vocabularySize = try c.decode(Int.self, forKey: .vocabularySize)
        maxPositions = try c.value(Int.self, .maxPositions, or: 512)
        typeVocabularySize = try c.value(Int.self, .typeVocabularySize, or: 2)
        layerNormEps = try c.value(Float.self, .layerNormEps, or: 1e-12)
        activation = try c.value(String.self, .activation, or: "gelu")
        if let type = try c.decodeIfPresent(String.self, forKey: .positionType), type != "absolute" {
            throw ModelError.invalidConfiguration("position_embedding_type '\(type)' is not supported")
        }
        try validate()
    }

    /// Reads `bert.*` keys of a GGUF file and the token-type count the converter stores with the
    /// tokenizer. GGUF does not record the activation: BERT's exact GELU, as transformers runs it.
    public init(gguf file: GGUFFile) throws {
        let h = GGUFHyperparameters(file, architecture: "bert")
        hiddenSize = try h.int("embedding_length")
        layers = try h.int("block_count")
        heads = try h.int("attention.head_count")
        intermediateSize = try h.int("feed_forward_length")
        vocabularySize = try h.vocabularySize()
        maxPositions = try h.int("context_length")
        typeVocabularySize = file.metadata["tokenizer.ggml.token_type_count"] == nil
            ? 2 : try file.int("tokenizer.ggml.token_type_count")
        layerNormEps = Float(try h.double("attention.layer_norm_epsilon", default: 1e-12))
        activation = "gelu"
        guard try !h.bool("attention.causal", default: false) else {
            throw ModelError.invalidConfiguration("bert.attention.causal is true; BERT attends both ways")
        }
        try validate()
    }

    func validate() throws {
        try ConfigurationLimits.check([("hidden_size", hiddenSize, 1 << 16), ("num_hidden_layers", layers, 1 << 10),
                                      ("num_attention_heads", heads, 1 << 10), ("intermediate_size", intermediateSize, 1 << 18),
                                      ("vocab_size", vocabularySize, 1 << 22), ("max_position_embeddings", maxPositions, 1 << 20),
                                      ("type_vocab_size", typeVocabularySize, 1 << 10)])
        guard hiddenSize % heads == 0 else {
            throw ModelError.invalidConfiguration("hidden_size \(hiddenSize) is not a multiple of num_attention_heads \(heads)")
        }
        guard Activation(huggingFace: activation) != nil else { throw ModelError.invalidConfiguration("hidden_act '\(activation)' is not supported") }
    }
}

// MARK: - Model

public enum Bert {
    /// From a Hugging Face folder (BertModel or BertForMaskedLM).
    public static func load(config c: BertConfiguration, store: any WeightStore, compute: ComputeOptions) throws -> EncoderModel {
        let p = store.contains("bert.embeddings.word_embeddings.weight") ? "bert." : ""
        return try build(c, store: store, names: .huggingFace(prefix: p), compute: compute)
    }

    /// From a GGUF file `general.architecture` "bert". llama.cpp's converter keeps the encoder only
    /// (it drops the pooler and the masked-LM head), so the model gives hidden states.
    public static func load(gguf file: GGUFFile, compute: ComputeOptions) throws -> EncoderModel {
        try build(try BertConfiguration(gguf: file), store: file, names: .gguf, compute: compute)
    }

    static func build(_ c: BertConfiguration, store: any WeightStore, names: BertNames, compute: ComputeOptions) throws -> EncoderModel {
        let load = TensorLoader(store)
        let d = c.hiddenSize, hd = d / c.heads
        let act = Activation(huggingFace: c.activation) ?? .gelu
        func ln(_ name: String) throws -> Norm { try load.layerNorm(name + ".weight", bias: name + ".bias", dim: d, eps: c.layerNormEps) }
        func dense(_ name: String, _ out: Int, _ inFeatures: Int) throws -> Linear {
            try load.linear(name + ".weight", out: out, in: inFeatures, bias: name + ".bias")
        }
        /// A block's dense layer, converted to Q8_0 at load when asked (float weights, rows of 32s).
        func blockDense(_ name: String, _ out: Int, _ inFeatures: Int) throws -> Linear {
            let l = try dense(name, out, inFeatures)
            guard compute.quantizeWeights == .q8_0, !l.weight.dtype.isQuantized, inFeatures % 32 == 0 else { return l }
            return Linear(l.weight.quantizedQ8_0(), bias: l.bias)
        }
        let words = try load.matrix(names.words, rows: c.vocabularySize, cols: d)
        let embeddings = Embeddings(
            tokens: words, positions: .learned(try load.matrix(names.positions, rows: c.maxPositions, cols: d), offset: 0),
            tokenTypes: try load.matrix(names.tokenTypes, rows: c.typeVocabularySize, cols: d),
            norm: try ln(names.embeddingNorm))
        let blocks = try (0..<c.layers).map { i in
            TransformerBlock(
                placement: .post,
                attentionNorm: try ln(names.attentionNorm(i)),
                attention: Attention(q: try blockDense(names.q(i), d, d), k: try blockDense(names.k(i), d, d),
                                     v: try blockDense(names.v(i), d, d), o: try blockDense(names.attentionOutput(i), d, d),
                                     heads: c.heads, kvHeads: c.heads, headDim: hd, mask: .bidirectional),
                feedForwardNorm: try ln(names.outputNorm(i)),
                feedForward: FeedForward(.plain(up: try blockDense(names.up(i), c.intermediateSize, d),
                                                down: try blockDense(names.down(i), d, c.intermediateSize)), activation: act))
        }
        var head: LMHead?
        if load.has("cls.predictions.transform.dense.weight") {
            head = LMHead(projection: Linear(words),
                          transform: .init(dense: try dense("cls.predictions.transform.dense", d, d), activation: act,
                                           norm: try ln("cls.predictions.transform.LayerNorm")),
                          bias: try load.floats("cls.predictions.bias", shape: [c.vocabularySize]))
            load.ignore("cls.predictions.decoder.weight")   // tied to the word embeddings
            load.ignore("cls.predictions.decoder.bias")     // the same values as cls.predictions.bias
        }
        try load.checkAllUsed(ignoring: names.ignorable)
        let stack = TransformerStack(embeddings: embeddings, blocks: blocks, finalNorm: nil)
        return EncoderModel(architecture: "bert", stack: stack, head: head, maxContextLength: c.maxPositions,
                            compute: compute, store: store)
    }
}

// MARK: - Checkpoint names

/// Tensor names of the two layouts; layer names are prefixes of `.weight` / `.bias`.
struct BertNames: Sendable {
    typealias Name = @Sendable (Int) -> String
    let words: String, positions: String, tokenTypes: String, embeddingNorm: String
    let q: Name, k: Name, v: Name, attentionOutput: Name, attentionNorm: Name, up: Name, down: Name, outputNorm: Name
    let ignorable: @Sendable (String) -> Bool

    static func huggingFace(prefix p: String) -> BertNames {
        let e = "\(p)embeddings."
        let b: @Sendable (Int) -> String = { "\(p)encoder.layer.\($0)." }
        return BertNames(
            words: e + "word_embeddings.weight", positions: e + "position_embeddings.weight",
            tokenTypes: e + "token_type_embeddings.weight", embeddingNorm: e + "LayerNorm",
            q: { b($0) + "attention.self.query" }, k: { b($0) + "attention.self.key" }, v: { b($0) + "attention.self.value" },
            attentionOutput: { b($0) + "attention.output.dense" }, attentionNorm: { b($0) + "attention.output.LayerNorm" },
            up: { b($0) + "intermediate.dense" }, down: { b($0) + "output.dense" }, outputNorm: { b($0) + "output.LayerNorm" },
            // The pooler and next-sentence head serve classification, not embeddings or fill-mask.
            ignorable: { $0.hasPrefix("\(p)pooler.") || $0.hasPrefix("cls.seq_relationship.") || $0.hasSuffix("position_ids") })
    }

    static let gguf = BertNames(
        words: "token_embd.weight", positions: "position_embd.weight", tokenTypes: "token_types.weight",
        embeddingNorm: "token_embd_norm",
        q: { "blk.\($0).attn_q" }, k: { "blk.\($0).attn_k" }, v: { "blk.\($0).attn_v" },
        attentionOutput: { "blk.\($0).attn_output" }, attentionNorm: { "blk.\($0).attn_output_norm" },
        up: { "blk.\($0).ffn_up" }, down: { "blk.\($0).ffn_down" }, outputNorm: { "blk.\($0).layer_output_norm" },
        ignorable: { _ in false })
}
