import Testing
import Foundation
import CKernels
@testable import LanternTensor

/// Types with a row-interleaved form (`lt_pack_r16`).
let packableTypes: [DType] = [.q4_0, .q4_1, .q5_0, .q5_1, .q8_0]

/// A matrix in both layouts and quantized activations for `tokens` rows, freed by `release()`.
private struct PackedCase {
    let dtype: DType, rows: Int, cols: Int, tokens: Int
    let stored: [UInt8]
    let packed: UnsafeMutableRawPointer
    let q: UnsafeMutablePointer<Int8>, q2: UnsafeMutablePointer<Int8>
    let d: UnsafeMutablePointer<Float>, d2: UnsafeMutablePointer<Float>, s: UnsafeMutablePointer<Float>

    /// mixed: outlier activations quantized as `.mixed` (two levels in some blocks, zero second level elsewhere).
    init(_ dtype: DType, rows: Int, cols: Int, tokens: Int, twoLevels: Bool, mixed: Bool = false, rng: inout SeededRandom) {
        self.dtype = dtype; self.rows = rows; self.cols = cols; self.tokens = tokens
        stored = randomMatrixBytes(dtype, rows: rows, cols: cols, rng: &rng)
        let bytes = Int(lt_pack_r16_bytes(dtype.kernelCode, Int64(cols), Int64(rows)))
        let packed = UnsafeMutableRawPointer.allocate(byteCount: bytes, alignment: 64)
        self.packed = packed
        let ok = stored.withUnsafeBytes { lt_pack_r16(dtype.kernelCode, Int64(cols), $0.baseAddress!, Int64(dtype.byteCount(cols)!), Int64(rows), packed) }
        precondition(ok == 1, "\(dtype) did not pack")
        let nb = cols / 32
        let q = UnsafeMutablePointer<Int8>.allocate(capacity: tokens * cols), q2 = UnsafeMutablePointer<Int8>.allocate(capacity: tokens * cols)
        let d = UnsafeMutablePointer<Float>.allocate(capacity: tokens * nb), d2 = UnsafeMutablePointer<Float>.allocate(capacity: tokens * nb)
        let s = UnsafeMutablePointer<Float>.allocate(capacity: tokens * nb)
        self.q = q; self.q2 = q2; self.d = d; self.d2 = d2; self.s = s
        let x = mixed ? outlierActivations(tokens: tokens, cols: cols, rng: &rng) : randomFloats(tokens * cols, rng: &rng, scale: 3)
        for t in 0..<tokens {
            x.withUnsafeBufferPointer { xb in
                if mixed {
                    Reference.quantizeQ8x2Mixed(xb.baseAddress! + t * cols, count: cols, qs: q + t * cols, d: d + t * nb,
                                                qs2: q2 + t * cols, d2: d2 + t * nb, s: s + t * nb, tau: Kernels.mixedThreshold)
                } else if twoLevels {
                    Reference.quantizeQ8x2(xb.baseAddress! + t * cols, count: cols, qs: q + t * cols, d: d + t * nb,
                                           qs2: q2 + t * cols, d2: d2 + t * nb, s: s + t * nb)
                } else {
                    Reference.quantizeQ8(xb.baseAddress! + t * cols, count: cols, qs: q + t * cols, d: d + t * nb, s: s + t * nb)
                }
            }
        }
    }

    /// y [tokens, rows] from the packed kernel at `level` for tokens first..<first+count.
    func run(level: Int, twoLevels: Bool, first: Int = 0, count: Int? = nil) -> [Float] {
        let n = count ?? tokens, nb = cols / 32
        var y = [Float](repeating: .nan, count: n * rows)
        lt_qgemm_r16_at(Int32(level), dtype.kernelCode, Int64(cols), packed, Int64(rows), q + first * cols, d + first * nb,
                        twoLevels ? q2 + first * cols : nil, twoLevels ? d2 + first * nb : nil, s + first * nb,
                        Int64(n), &y, Int64(rows))
        return y
    }

    func release() { packed.deallocate(); q.deallocate(); q2.deallocate(); d.deallocate(); d2.deallocate(); s.deallocate() }
}

/// Packing keeps every value: each packed row expands to what the stored row encodes (one fused
/// multiply-add for d * u + m against the reference's d * q (+ m): within 2^-22 (|d q| + |m|), and exact
/// for the types whose offset is a multiple of d).
@Test(arguments: packableTypes)
func packedRowsDequantizeToStoredValues(_ dtype: DType) {
    var rng = SeededRandom(seed: 71)
    for (rows, cols) in [(16, 32), (32, 96), (48, 576)] {
        let c = PackedCase(dtype, rows: rows, cols: cols, tokens: 1, twoLevels: false, rng: &rng)
        defer { c.release() }
        var want = [Float](repeating: 0, count: cols), got = want
        for r in 0..<rows {
            c.stored.withUnsafeBytes { Reference.dequantize(dtype, $0.baseAddress! + r * dtype.byteCount(cols)!, count: cols, into: &want) }
            lt_dequantize_r16(dtype.kernelCode, Int64(cols), c.packed, Int64(r), &got)
            for k in 0..<cols {
                let exact = dtype != .q4_1 && dtype != .q5_1
                if exact {
                    #expect(got[k] == want[k], "\(dtype) [\(rows)x\(cols)] row \(r) value \(k): \(got[k]) vs \(want[k])")
                } else {
                    #expect(abs(got[k] - want[k]) <= 4e-7 * (abs(want[k]) + 1), "\(dtype) row \(r) value \(k): \(got[k]) vs \(want[k])")
                }
            }
        }
    }
}

/// The SIMD kernels (level 3: AVX-512 VNNI, level 1: AVX2; each runs what the CPU has, at most that level)
/// equal their scalar twin bit for bit, one and two activation levels, every token tile remainder; and the
/// twin equals the stored layout's integer reference (`Reference.dotQ8`) within float summation order.
@Test(arguments: packableTypes, [false, true])
func packedKernelMatchesTwinAndStoredLayout(_ dtype: DType, _ twoLevels: Bool) {
    var rng = SeededRandom(seed: 72 &+ UInt64(dtype.blockBytes))
    for (rows, cols, tokens) in [(16, 32, 1), (32, 96, 3), (48, 576, 9), (16, 1536, 8), (64, 160, 17), (32, 8256, 2)] {
        let c = PackedCase(dtype, rows: rows, cols: cols, tokens: tokens, twoLevels: twoLevels, rng: &rng)
        defer { c.release() }
        let twin = c.run(level: 0, twoLevels: twoLevels)
        let fast = c.run(level: 3, twoLevels: twoLevels), avx2 = c.run(level: 1, twoLevels: twoLevels)
        let nb = cols / 32
        for t in 0..<tokens {
            for r in 0..<rows {
                let i = t * rows + r
                #expect(fast[i].bitPattern == twin[i].bitPattern, "\(dtype) two=\(twoLevels) [\(rows)x\(cols)] t \(t) r \(r): \(fast[i]) vs twin \(twin[i])")
                #expect(avx2[i].bitPattern == twin[i].bitPattern, "\(dtype) two=\(twoLevels) [\(rows)x\(cols)] t \(t) r \(r): AVX2 \(avx2[i]) vs twin \(twin[i])")
                let want = c.stored.withUnsafeBytes { raw in
                    Reference.dotQ8(dtype, raw.baseAddress! + r * dtype.byteCount(cols)!, cols: cols, qs: c.q + t * cols, d: c.d + t * nb,
                                    s: c.s + t * nb, qs2: twoLevels ? c.q2 + t * cols : nil, d2: twoLevels ? c.d2 + t * nb : nil)
                }
                // Same integer dots and block factors, other float order: each block adds d_w d_x isum
                // (isum over the unsigned codes) and m_w s, which for Q8_0 (m = -128 d) nearly cancel, so
                // the bound is float rounding of their magnitudes: per block sum |W xq| + 2 |m_w| sum |xq|.
                var magnitude: Float = 0
                c.stored.withUnsafeBytes { raw in
                    var w = [Float](repeating: 0, count: cols)
                    Reference.dequantize(dtype, raw.baseAddress! + r * dtype.byteCount(cols)!, count: cols, into: &w)
                    let blockBytes = Int(lt_pack_r16_bytes(dtype.kernelCode, 32, 16))
                    for b in 0..<nb {
                        let mw = c.packed.load(fromByteOffset: ((r / 16) * nb + b) * blockBytes + 32 + 2 * (r % 16), as: UInt16.self)
                        for k in (b * 32)..<(b * 32 + 32) {
                            var xq = Float(c.q[t * cols + k]) * c.d[t * nb + b]
                            if twoLevels { xq += Float(c.q2[t * cols + k]) * c.d2[t * nb + b] }
                            magnitude += abs(w[k] * xq) + 2 * abs(halfToFloat(mw) * xq)
                        }
                    }
                }
                let bound = 1.2e-7 * Float(nb + 8) * magnitude + 1e-6
                #expect(abs(twin[i] - want) <= bound, "\(dtype) two=\(twoLevels) [\(rows)x\(cols)] t \(t) r \(r): \(twin[i]) vs \(want), bound \(bound)")
            }
        }
    }
}

/// `.mixed` activations, whose second level is zero in most blocks (the SIMD kernels then skip its dots for
/// the tile): every kernel still equals the scalar twin, which walks both levels everywhere, bit for bit.
@Test(arguments: packableTypes)
func packedKernelSkipsZeroSecondLevelsExactly(_ dtype: DType) {
    var rng = SeededRandom(seed: 74 &+ UInt64(dtype.blockBytes))
    for (rows, cols, tokens) in [(16, 576, 1), (32, 576, 8), (48, 1536, 13), (16, 320, 20)] {
        let c = PackedCase(dtype, rows: rows, cols: cols, tokens: tokens, twoLevels: true, mixed: true, rng: &rng)
        defer { c.release() }
        let zeros = (0..<(tokens * cols / 32)).filter { c.d2[$0] == 0 }.count
        #expect(zeros > 0 && zeros < tokens * cols / 32, "\(dtype) [\(rows)x\(cols)] x \(tokens): \(zeros) zero second levels")
        let twin = c.run(level: 0, twoLevels: true)
        for level in [3, 2, 1] {
            let fast = c.run(level: level, twoLevels: true)
            #expect(fast.map(\.bitPattern) == twin.map(\.bitPattern), "\(dtype) [\(rows)x\(cols)] x \(tokens) level \(level)")
        }
    }
}

/// A token's outputs do not depend on which other tokens share its tile (so a sequence decodes the same
/// alone or in a batch): 9 tokens at once equal each token alone, bit for bit.
@Test(arguments: packableTypes)
func packedKernelTokenResultsIndependentOfBatch(_ dtype: DType) {
    var rng = SeededRandom(seed: 73)
    for twoLevels in [false, true] {
        let c = PackedCase(dtype, rows: 32, cols: 576, tokens: 9, twoLevels: twoLevels, rng: &rng)
        defer { c.release() }
        for level in [3, 1] {
            let all = c.run(level: level, twoLevels: twoLevels)
            for t in 0..<9 {
                let alone = c.run(level: level, twoLevels: twoLevels, first: t, count: 1)
                #expect(alone.map(\.bitPattern) == all[(t * 32)..<((t + 1) * 32)].map(\.bitPattern), "\(dtype) two=\(twoLevels) level \(level) token \(t)")
            }
        }
    }
}

/// What has no packed form says so: rows not a multiple of 16, K-quants and floats, and an offset
/// (-128 d for Q8_0) that is no f16; `packedForMatmul` then keeps the stored layout.
@Test func packingRefusesWhatItCannotRepresent() {
    #expect(lt_pack_r16_bytes(DType.q4_1.kernelCode, 64, 20) == 0)
    #expect(lt_pack_r16_bytes(DType.q4_1.kernelCode, 48, 16) == 0)
    #expect(lt_pack_r16_bytes(DType.q4_k.kernelCode, 256, 16) == 0)
    #expect(lt_pack_r16_bytes(DType.f32.kernelCode, 64, 16) == 0)
    #expect(lt_pack_r16_bytes(DType.q4_1.kernelCode, 64, 16) == 16 / 16 * 2 * 320)
    // Q8_0 rows whose scale is 1024: -128 * 1024 overflows f16.
    var bytes = [UInt8](repeating: 0, count: 16 * 34)
    for r in 0..<16 { bytes[r * 34] = 0x00; bytes[r * 34 + 1] = 0x64 }   // f16 0x6400 = 1024
    let out = UnsafeMutableRawPointer.allocate(byteCount: 576, alignment: 64); defer { out.deallocate() }
    #expect(lt_pack_r16(DType.q8_0.kernelCode, 32, bytes, 34, 16, out) == 0)
    bytes.withUnsafeBytes { raw in
        let w = WeightMatrix(dtype: .q8_0, rows: 16, cols: 32, data: raw.baseAddress!)
        #expect(w.packedForMatmul().packed == nil)
        let odd = WeightMatrix(dtype: .q8_0, rows: 15, cols: 32, data: raw.baseAddress!)
        #expect(odd.packedForMatmul().packed == nil)
    }
}
