import Testing
import CKernels
@testable import LanternTensor

@Test func blockLayoutSizes() {
    #expect(DType.q8_0.blockBytes == 2 + 32)
    #expect(DType.q4_0.blockBytes == 2 + 16)
    #expect(DType.q4_1.blockBytes == 2 + 2 + 16)
    #expect(DType.f32.blockBytes == 4 && DType.f16.blockBytes == 2 && DType.bf16.blockBytes == 2)
    #expect(DType.q4_1.byteCount(576) == 18 * 20)
    #expect(DType.q8_0.byteCount(49152 * 576) == 49152 * 18 * 34)
    #expect(DType.q4_0.byteCount(33) == nil)
    #expect(DType.f16.byteCount(3) == 6)
}

/// K-quant and 5-bit layouts, as ggml-common.h's block structs: Q4_K = d, dmin, 12 scale bytes, 128 nibble
/// bytes; Q5_K adds 32 qh bytes; Q6_K = 128 ql + 64 qh + 16 scales + d; Q3_K = 32 hmask + 64 qs + 12 scales
/// + d; Q2_K = 16 scales + 64 qs + d + dmin; Q5_0 = d + 4 qh + 16 qs; Q5_1 adds the min.
@Test func kQuantBlockLayoutSizes() {
    #expect(DType.q4_k.blockBytes == 2 + 2 + 12 + 128 && DType.q4_k.blockBytes == 144)
    #expect(DType.q5_k.blockBytes == 2 + 2 + 12 + 32 + 128 && DType.q5_k.blockBytes == 176)
    #expect(DType.q6_k.blockBytes == 128 + 64 + 16 + 2 && DType.q6_k.blockBytes == 210)
    #expect(DType.q3_k.blockBytes == 32 + 64 + 12 + 2 && DType.q3_k.blockBytes == 110)
    #expect(DType.q2_k.blockBytes == 16 + 64 + 2 + 2 && DType.q2_k.blockBytes == 84)
    #expect(DType.q5_0.blockBytes == 2 + 4 + 16 && DType.q5_0.blockBytes == 22)
    #expect(DType.q5_1.blockBytes == 2 + 2 + 4 + 16 && DType.q5_1.blockBytes == 24)
    for t in [DType.q2_k, .q3_k, .q4_k, .q5_k, .q6_k] {
        #expect(t.blockSize == 256 && t.isKQuant && t.isQuantized)
        #expect(t.byteCount(4864) == 19 * t.blockBytes)
        #expect(t.byteCount(4864 + 32) == nil, "K-quant rows are whole super-blocks")
    }
    for t in [DType.q5_0, .q5_1] { #expect(t.blockSize == 32 && !t.isKQuant && t.byteCount(96) == 3 * t.blockBytes) }
}

@Test func halfConversionEdgeCases() {
    #expect(halfToFloat(0x0001) == Float(sign: .plus, exponent: -24, significand: 1))   // smallest subnormal
    #expect(halfToFloat(0x03FF) == Float(1023) * Float(sign: .plus, exponent: -24, significand: 1))
    #expect(halfToFloat(0x0400) == Float(sign: .plus, exponent: -14, significand: 1))   // smallest normal
    #expect(halfToFloat(0x8000).bitPattern == (-Float(0)).bitPattern)
    #expect(halfToFloat(0x7BFF) == 65504)
    #expect(halfToFloat(0x7C00) == .infinity)
    #expect(halfToFloat(0xFC00) == -.infinity)
    #expect(halfToFloat(0x7E00).isNaN)
    #expect(floatToHalf(.nan) & 0x7C00 == 0x7C00 && floatToHalf(.nan) & 0x3FF != 0)
    #expect(floatToHalf(1) == 0x3C00)
    #expect(floatToHalf(1 + 0x1p-11) == 0x3C00)               // halfway, rounds to even (down)
    #expect(floatToHalf(1 + 3 * 0x1p-11) == 0x3C02)           // halfway, rounds to even (up)
    #expect(floatToHalf(1 + 0x1p-11 + 0x1p-20) == 0x3C01)     // above halfway
    #expect(floatToHalf(65504) == 0x7BFF)
    #expect(floatToHalf(65520) == 0x7C00)                     // rounds past the largest half
    #expect(floatToHalf(1e9) == 0x7C00 && floatToHalf(-1e9) == 0xFC00)
    #expect(floatToHalf(0x1p-24) == 0x0001)
    #expect(floatToHalf(0x1p-25) == 0x0000)                   // halfway to the smallest subnormal: even
    #expect(floatToHalf(0x1p-25 * 1.5) == 0x0001)
    #expect(floatToHalf(-0.0) == 0x8000)
    // Every non-NaN half round-trips through float.
    var failures = 0
    for bits in 0...UInt16.max where !halfToFloat(bits).isNaN && floatToHalf(halfToFloat(bits)) != bits { failures += 1 }
    #expect(failures == 0)
}

/// The C f16 / bf16 conversions (F16C and scalar) agree bit for bit with the Swift reference on all 65536 values.
@Test(arguments: [DType.f16, .bf16])
func halfDequantizeMatchesReferenceOnAllValues(_ dtype: DType) {
    let all = (0...UInt16.max).map { $0 }
    var expected = [Float](repeating: 0, count: all.count)
    all.withUnsafeBytes { Reference.dequantize(dtype, $0.baseAddress!, count: all.count, into: &expected) }
    for level in supportedLevels {
        var got = [Float](repeating: 1, count: all.count)
        all.withUnsafeBytes { lt_dequantize_at(Int32(level), dtype.kernelCode, $0.baseAddress!, Int64(all.count), &got) }
        let mismatches = zip(got, expected).filter { !($0.0.isNaN && $0.1.isNaN) && $0.0.bitPattern != $0.1.bitPattern }
        #expect(mismatches.isEmpty, "level \(level): \(mismatches.prefix(3))")
    }
}

/// Q8_0 conversion at load: 34 bytes per 32 values, and every value back within half a step of its
/// block's scale (plus the f16 rounding of the scale), zero blocks exact.
@Test func quantizeQ8_0RoundTrips() {
    var rng = SeededRandom(seed: 41)
    let rows = 3, cols = 96
    var x = randomFloats(rows * cols, rng: &rng, scale: 2)
    for j in 32..<64 { x[j] = 0 }   // an all-zero block
    let q = x.withUnsafeBufferPointer { p in
        WeightMatrix(dtype: .f32, rows: rows, cols: cols, data: UnsafeRawPointer(p.baseAddress!)).quantizedQ8_0()
    }
    #expect(q.dtype == .q8_0 && q.rowBytes == 3 * 34)
    var back = [Float](repeating: 1, count: cols)
    for r in 0..<rows {
        q.dequantizeRow(r, into: &back)
        for b in 0..<3 {
            let block = x[(r * cols + b * 32)..<(r * cols + b * 32 + 32)]
            let d = (block.map(abs).max() ?? 0) / 127
            for j in 0..<32 {
                #expect(abs(back[b * 32 + j] - block[block.startIndex + j]) <= d / 2 + d * 127 * 1e-3 + 1e-30)
            }
        }
    }
    q.dequantizeRow(0, into: &back)
    #expect(back[32..<64].allSatisfy { $0 == 0 })
}
