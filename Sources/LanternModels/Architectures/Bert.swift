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
    public static func load(config c: BertConfiguration, store: any WeightStore, compute: ComputeOptions) throws -> EncoderModel {
        let load = TensorLoader(store)
        let p = store.contains("bert.embeddings.word_embeddings.weight") ? "bert." : ""
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
        let e = "\(p)embeddings."
        let words = try load.matrix(e + "word_embeddings.weight", rows: c.vocabularySize, cols: d)
        let embeddings = Embeddings(
            tokens: words, positions: .learned(try load.matrix(e + "position_embeddings.weight", rows: c.maxPositions, cols: d), offset: 0),
            tokenTypes: try load.matrix(e + "token_type_embeddings.weight", rows: c.typeVocabularySize, cols: d),
            norm: try ln(e + "LayerNorm"))
        let blocks = try (0..<c.layers).map { i in
            let b = "\(p)encoder.layer.\(i)."
            return TransformerBlock(
                placement: .post,
                attentionNorm: try ln(b + "attention.output.LayerNorm"),
                attention: Attention(q: try blockDense(b + "attention.self.query", d, d), k: try blockDense(b + "attention.self.key", d, d),
                                     v: try blockDense(b + "attention.self.value", d, d), o: try blockDense(b + "attention.output.dense", d, d),
                                     heads: c.heads, kvHeads: c.heads, headDim: hd, mask: .bidirectional),
                feedForwardNorm: try ln(b + "output.LayerNorm"),
                feedForward: FeedForward(.plain(up: try blockDense(b + "intermediate.dense", c.intermediateSize, d),
                                                down: try blockDense(b + "output.dense", d, c.intermediateSize)), activation: act))
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
        // The pooler and next-sentence head serve classification, not embeddings or fill-mask.
        try load.checkAllUsed(ignoring: { $0.hasPrefix("\(p)pooler.") || $0.hasPrefix("cls.seq_relationship.") || $0.hasSuffix("position_ids") })
        let stack = TransformerStack(embeddings: embeddings, blocks: blocks, finalNorm: nil)
        return EncoderModel(architecture: "bert", stack: stack, head: head, maxContextLength: c.maxPositions,
                            compute: compute, store: store)
    }
}
