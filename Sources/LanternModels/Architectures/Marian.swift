import Foundation
import LanternFormats
import LanternTensor

// Marian NMT (Junczys-Dowmunt et al. 2018) as transformers ports it: BART's post-LayerNorm blocks with
// fixed sinusoidal positions (not stored in the checkpoint; sin in the first d/2 features, cos in the
// rest), token embeddings scaled by sqrt(d_model) when `scale_embedding`, a SiLU ("swish") feed-forward,
// no embedding LayerNorm, shared embeddings tied to the head and `final_logits_bias`.

// MARK: - Configuration

/// `MarianConfig`: the BART family's keys plus Marian's embedding sharing.
public struct MarianConfiguration: Sendable, Decodable, Equatable {
    public var shared: PostNormSeq2SeqConfiguration
    public var shareEncoderDecoderEmbeddings: Bool
    public var decoderVocabularySize: Int

    enum CodingKeys: String, CodingKey {
        case shareEncoderDecoderEmbeddings = "share_encoder_decoder_embeddings"
        case decoderVocabularySize = "decoder_vocab_size"
    }

    public init(from decoder: any Decoder) throws {
        shared = try PostNormSeq2SeqConfiguration(from: decoder)
        let c = try decoder.container(keyedBy: CodingKeys.self)
        shareEncoderDecoderEmbeddings = try c.value(Bool.self, .shareEncoderDecoderEmbeddings, or: true)
        decoderVocabularySize = try c.value(Int.self, .decoderVocabularySize, or: shared.vocabularySize)
        // Separate source and target vocabularies (a few opus-mt pairs) need their own embeddings; not yet.
        guard shareEncoderDecoderEmbeddings, decoderVocabularySize == shared.vocabularySize else {
            throw ModelError.invalidConfiguration("Marian with separate encoder and decoder embeddings is not supported")
        }
        guard shared.hiddenSize % 2 == 0 else {
            throw ModelError.invalidConfiguration("sinusoidal positions need an even d_model, found \(shared.hiddenSize)")
        }
    }

}

// MARK: - Model

public enum Marian {
    public static func load(folder: ModelFolder, compute: ComputeOptions) throws -> EncoderDecoderModel {
        guard folder.modelType == "marian" else { throw ModelError.unsupportedArchitecture(folder.modelType) }
        let config = try decodeConfiguration(MarianConfiguration.self, from: folder)
        let c = config.shared
        // [max_position_embeddings, d_model], shared by both stacks.
        let table = sinusoidalTable(positions: c.maxPositions, dimension: c.hiddenSize)
        let variant = PostNormSeq2Seq.Variant(
            architecture: "marian",
            positions: { load, prefix in
                load.ignore(prefix + ".embed_positions.weight")   // older exports store the static table
                return .table(table, maxPositions: c.maxPositions)
            },
            embeddingNorm: false)
        return try PostNormSeq2Seq.build(c, folder: folder, variant: variant, compute: compute)
    }
}
