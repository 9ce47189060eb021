import Foundation
import Testing
import LanternFormats
@testable import LanternModels

/// The position-encoding primitives against `Fixtures/positional` (transformers' own functions).
@Suite struct PositionalFixtureTests {
    let fx: FixtureCase
    init() throws { fx = try FixtureCase("positional") }

    @Test func sinusoidalTablesInBothLayouts() throws {
        try fx.close(sinusoidalTable(positions: 32, dimension: 64, layout: .interleaved), "sinusoidal_pe")
        try fx.close(sinusoidalTable(positions: 32, dimension: 64, layout: .split), "marian_sinusoidal_pe")
    }

    @Test func ropeFrequenciesTablesAndRotation() throws {
        let rope = RotaryEmbedding(dimensions: 16, base: 10000, pairing: .halves)
        try fx.close(rope.inverseFrequencies, "rope_inv_freq")
        let positions = try fx.expected.ints("rope_position_ids")   // 3..10
        var cos = [Float](repeating: 0, count: 8 * 8), sin = cos
        rope.tables(positions: positions, count: 8, cos: &cos, sin: &sin)
        // The reference repeats the 8 frequencies twice (cat(freqs, freqs)).
        func twice(_ table: [Float]) -> [Float] {
            var out: [Float] = []
            for t in 0..<8 { let row = Array(table[(t * 8)..<(t * 8 + 8)]); out += row; out += row }
            return out
        }
        try fx.close(twice(cos), "rope_cos")
        try fx.close(twice(sin), "rope_sin")
        for (input, output, heads) in [("rope_q", "rope_q_embed", 4), ("rope_k", "rope_k_embed", 2)] {
            let x = try fx.expected.floats(input)   // [heads, seq, 16]
            var rows = [Float](repeating: 0, count: x.count)   // [seq, heads, 16] as the model lays it out
            for h in 0..<heads { for t in 0..<8 { for i in 0..<16 { rows[(t * heads + h) * 16 + i] = x[(h * 8 + t) * 16 + i] } } }
            rope.apply(&rows, tokens: 8, heads: heads, headDim: 16, cos: cos, sin: sin)
            var back = rows
            for h in 0..<heads { for t in 0..<8 { for i in 0..<16 { back[(h * 8 + t) * 16 + i] = rows[(t * heads + h) * 16 + i] } } }
            try fx.close(back, output)
        }
    }

    @Test func alibiSlopesAndBiases() throws {
        for heads in [4, 8, 12] {
            let slopes = alibiSlopes(heads: heads)
            try fx.close(slopes, "alibi_slopes_\(heads)")
            // The kernel adds slope * key position: the bias tensor [heads, 1, 8].
            try fx.close((0..<heads).flatMap { h in (0..<8).map { slopes[h] * Float($0) } }, "alibi_bias_\(heads)")
        }
        // Padded rows: key positions (cumsum(mask) - 1) * mask. Lantern packs sequences without padding,
        // so a left-padded row's real keys sit at positions 0, 1, ... as the reference's do.
        let mask = try fx.expected.ints("alibi_padded_mask"), slopes = alibiSlopes(heads: 4)
        var bias: [Float] = []
        for r in 0..<2 {
            var seen = 0
            let pos = (0..<8).map { j -> Int in seen += mask[r * 8 + j]; return (seen - 1) * mask[r * 8 + j] }
            for h in 0..<4 { bias += pos.map { slopes[h] * Float($0) } }
        }
        try fx.close(bias, "alibi_bias_padded_4")
    }

    /// T5's bucketing on the distances that exercise every branch (exact, logarithmic, saturated; both
    /// directions), against the formula transformers implements, evaluated here in float32 step by step.
    @Test func t5RelativeBuckets() {
        #expect(RelativePositionBias.bucket(relative: 0, bidirectional: true, buckets: 32, maxDistance: 128) == 0)
        #expect(RelativePositionBias.bucket(relative: 3, bidirectional: true, buckets: 32, maxDistance: 128) == 19)
        #expect(RelativePositionBias.bucket(relative: -3, bidirectional: true, buckets: 32, maxDistance: 128) == 3)
        #expect(RelativePositionBias.bucket(relative: -1000, bidirectional: true, buckets: 32, maxDistance: 128) == 15)
        #expect(RelativePositionBias.bucket(relative: 1000, bidirectional: true, buckets: 32, maxDistance: 128) == 31)
        #expect(RelativePositionBias.bucket(relative: 5, bidirectional: false, buckets: 32, maxDistance: 128) == 0)
        #expect(RelativePositionBias.bucket(relative: -20, bidirectional: false, buckets: 32, maxDistance: 128) == 16 + Int(log(20.0 / 16) / log(128.0 / 16) * 16))
    }
}
