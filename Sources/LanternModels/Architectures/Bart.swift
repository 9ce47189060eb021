import Foundation
import LanternFormats
import LanternTensor

// BART (Lewis et al. 2019): a denoising encoder-decoder with post-LayerNorm blocks, learned absolute
// positions read at row position + 2, a LayerNorm after the embeddings, a GELU feed-forward, shared
// token embeddings tied to the head, and `final_logits_bias`. Blocks and names are the BART family's
// (Blocks/Seq2SeqBuilder.swift); this file adds the positions and the embedding norm.

// MARK: - Configuration

/// `BartConfig`: the family's keys plus BART's embedding scale default (off).
public struct BartConfiguration: Sendable, Decodable, Equatable {
    public var shared: PostNormSeq2SeqConfiguration
    /// BART's learned position table starts two rows in (a fairseq padding convention).
    public static let positionOffset = 2

    public init(from decoder: any Decoder) throws {
        shared = try PostNormSeq2SeqConfiguration(from: decoder)
    }

}

// MARK: - Model

public enum Bart {
    public static func load(folder: ModelFolder, compute: ComputeOptions) throws -> EncoderDecoderModel {
        guard folder.modelType == "bart" else { throw ModelError.unsupportedArchitecture(folder.modelType) }
        let config = try decodeConfiguration(BartConfiguration.self, from: folder)
        let c = config.shared
        let variant = PostNormSeq2Seq.Variant(
            architecture: "bart",
            positions: { load, prefix in
                // [max_position_embeddings + 2, d_model]
                .learned(try load.matrix(prefix + ".embed_positions.weight", rows: c.maxPositions + BartConfiguration.positionOffset,
                                         cols: c.hiddenSize), offset: BartConfiguration.positionOffset)
            },
            embeddingNorm: true)
        return try PostNormSeq2Seq.build(c, folder: folder, variant: variant, compute: compute)
    }
}
