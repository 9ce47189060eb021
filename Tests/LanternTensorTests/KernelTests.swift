import Testing
import Foundation
import CKernels
@testable import LanternTensor

let allTypes: [DType] = DType.allCases
let quantizedTypes: [DType] = DType.allCases.filter(\.isQuantized)

/// Types whose dot products add a float min term through the activation sums `s`.
func usesBlockSums(_ dtype: DType) -> Bool { [.q4_1, .q5_1, .q4_k, .q5_k].contains(dtype) }

/// Every dequantize path (scalar, AVX2, AVX-512) matches the Swift reference to within one fused
/// multiply-add rounding (|error| <= 2^-22 * (|d * q| + |m|)).
@Test(arguments: allTypes)
func dequantizeMatchesReference(_ dtype: DType) {
    var rng = SeededRandom(seed: 7)
    let count = dtype.isKQuant ? 256 * 5 : 32 * 19
    let bytes = randomMatrixBytes(dtype, rows: 1, cols: count, rng: &rng)
    var expected = [Float](repeating: 0, count: count)
    bytes.withUnsafeBytes { Reference.dequantize(dtype, $0.baseAddress!, count: count, into: &expected) }
    for level in supportedLevels {
        var got = [Float](repeating: .nan, count: count)
        bytes.withUnsafeBytes { lt_dequantize_at(Int32(level), dtype.kernelCode, $0.baseAddress!, Int64(count), &got) }
        let worst = zip(got, expected).map { abs($0 - $1) / max(1, abs($1)) }.max()!
        #expect(worst <= 0x1p-21, "level \(level) \(dtype): worst relative error \(worst)")
    }
    var viaKernels = [Float](repeating: .nan, count: count)
    bytes.withUnsafeBytes { Kernels.dequantize(dtype, $0.baseAddress!, count: count, into: &viaKernels) }
    #expect(zip(viaKernels, expected).allSatisfy { abs($0 - $1) <= 0x1p-21 * max(1, abs($1)) })
}

/// Activation quantization is bit-exact across all paths and the Swift reference (same IEEE operations,
/// ties to even), including all-zero blocks and blocks with a single large value.
@Test func quantizeQ8IsExact() {
    var rng = SeededRandom(seed: 11)
    let count = 32 * 23
    var x = randomFloats(count, rng: &rng, scale: 3)
    for j in 0..<32 { x[32 + j] = 0 }                // all-zero block: d = 0, q = 0
    x[64 + 5] = 1000                                  // one dominant value
    x[96 + 1] = -0.5; x[96 + 2] = 0.5                 // exact halves after scaling: q = -127 / 127
    var rq = [Int8](repeating: 0, count: count), rd = [Float](repeating: 0, count: count / 32), rs = rd
    Reference.quantizeQ8(x, count: count, qs: &rq, d: &rd, s: &rs)
    for level in supportedLevels {
        var q = [Int8](repeating: 99, count: count), d = [Float](repeating: .nan, count: count / 32), s = d
        lt_quantize_q8_at(Int32(level), x, Int64(count), &q, &d, &s)
        #expect(q == rq, "level \(level)")
        #expect(d == rd && s == rs, "level \(level)")
    }
    #expect(rd[1] == 0 && rq[32..<64].allSatisfy { $0 == 0 })
    #expect(rq[64 + 5] == 127)
}

/// Two-level activation quantization is bit-exact across all paths and the Swift reference (the residual
/// is one fused multiply-add everywhere), on the same edge cases; a zero residual gives d2 = 0, q2 = 0.
@Test func quantizeQ8x2IsExact() {
    var rng = SeededRandom(seed: 13)
    let count = 32 * 23, nb = count / 32
    var x = randomFloats(count, rng: &rng, scale: 3)
    for j in 0..<32 { x[32 + j] = 0 }                // all-zero block: d = d2 = 0
    x[64 + 5] = 1000                                  // one dominant value
    x[96 + 1] = -0.5; x[96 + 2] = 0.5                 // exact halves after scaling
    for j in 0..<32 { x[128 + j] = Float(j - 16) }    // integers of a 127-step grid: residual stays tiny
    for j in 0..<32 { x[160 + j] = 1e-30 * rng.float() }   // tiny (subnormal-scale) values
    var rq = [Int8](repeating: 0, count: count), rq2 = rq
    var rd = [Float](repeating: 0, count: nb), rd2 = rd, rs = rd
    Reference.quantizeQ8x2(x, count: count, qs: &rq, d: &rd, qs2: &rq2, d2: &rd2, s: &rs)
    var single = [Int8](repeating: 0, count: count), sd = rd, ss = rd
    Reference.quantizeQ8(x, count: count, qs: &single, d: &sd, s: &ss)
    #expect(single == rq && sd == rd, "level 1 of the two-level form is the single-level form")
    for level in supportedLevels {
        var q = [Int8](repeating: 99, count: count), q2 = q
        var d = [Float](repeating: .nan, count: nb), d2 = d, s = d
        lt_quantize_q8x2_at(Int32(level), x, Int64(count), &q, &d, &q2, &d2, &s)
        #expect(q == rq && q2 == rq2, "level \(level)")
        #expect(d == rd && d2 == rd2 && s == rs, "level \(level)")
    }
    #expect(rd2[1] == 0 && rq2[32..<64].allSatisfy { $0 == 0 })
    // Each value is reconstructed to within half a level-2 step: |x - d q1 - d2 q2| <= d2 / 2 (+ rounding),
    // and d2 <= d / 254 (+ rounding), hence |error| <= max|x| / 254^2 per block.
    for b in 0..<nb {
        #expect(rd2[b] <= rd[b] / 254 * (1 + 1e-6))
        for j in 0..<32 {
            let k = b * 32 + j
            let err = abs(Double(x[k]) - Double(rd[b]) * Double(rq[k]) - Double(rd2[b]) * Double(rq2[k]))
            #expect(err <= Double(rd2[b]) / 2 * (1 + 1e-6) + 1e-45, "block \(b) value \(j)")
        }
    }
}

/// Activations [tokens, cols] with outlier channels: one column large in every row (a massive activation)
/// and one more per row that moves with the row, over unit-scale noise.
func outlierActivations(tokens: Int, cols: Int, rng: inout SeededRandom) -> [Float] {
    var x = randomFloats(tokens * cols, rng: &rng, scale: 1)
    for t in 0..<tokens {
        x[t * cols + 37 % cols] = 40 + Float(t)
        x[t * cols + (t * 197 + 11) % cols] = -25
    }
    return x
}

/// `.mixed` activations: the C quantizer equals its Swift twin bit for bit at every level; kept blocks are
/// the two-level form and the others the one-level form exactly, and the outlier blocks are the kept ones.
@Test func quantizeQ8x2MixedMatchesReference() {
    var rng = SeededRandom(seed: 14)
    let cols = 32 * 18, nb = cols / 32, tokens = 6
    let x = outlierActivations(tokens: tokens, cols: cols, rng: &rng)
    for t in 0..<tokens {
        let row = Array(x[(t * cols)..<((t + 1) * cols)])
        var rq = [Int8](repeating: 0, count: cols), rq2 = rq
        var rd = [Float](repeating: 0, count: nb), rd2 = rd, rs = rd
        Reference.quantizeQ8x2Mixed(row, count: cols, qs: &rq, d: &rd, qs2: &rq2, d2: &rd2, s: &rs, tau: Kernels.mixedThreshold)
        for level in supportedLevels {
            var q = [Int8](repeating: 99, count: cols), q2 = q
            var d = [Float](repeating: .nan, count: nb), d2 = d, s = d
            lt_quantize_q8x2_mixed_at(Int32(level), row, Int64(cols), &q, &d, &q2, &d2, &s, Kernels.mixedThreshold)
            #expect(q == rq && q2 == rq2, "row \(t) level \(level)")
            #expect(d.map(\.bitPattern) == rd.map(\.bitPattern) && d2.map(\.bitPattern) == rd2.map(\.bitPattern)
                    && s.map(\.bitPattern) == rs.map(\.bitPattern), "row \(t) level \(level)")
        }
        var fq = [Int8](repeating: 0, count: cols), fq2 = fq, one = fq
        var fd = [Float](repeating: 0, count: nb), fd2 = fd, fs = fd, od = fd, os = fd
        Reference.quantizeQ8x2(row, count: cols, qs: &fq, d: &fd, qs2: &fq2, d2: &fd2, s: &fs)
        Reference.quantizeQ8(row, count: cols, qs: &one, d: &od, s: &os)
        #expect(rq == one && rd == od, "row \(t): level 1 is the one-level form")
        let outliers: Set<Int> = [37 / 32, ((t * 197 + 11) % cols) / 32]
        for b in 0..<nb {
            let block = (b * 32)..<(b * 32 + 32)
            if outliers.contains(b) {
                #expect(rd2[b] == fd2[b] && rd2[b] != 0 && Array(rq2[block]) == Array(fq2[block]) && rs[b] == fs[b], "row \(t) block \(b) kept")
            } else {
                #expect(rd2[b] == 0 && rq2[block].allSatisfy { $0 == 0 } && rs[b] == os[b], "row \(t) block \(b) dropped")
            }
        }
    }
}

/// The integer block dot products of every SIMD path equal the scalar C twin and the Swift integer twin
/// `Reference.dotQ8` up to float summation order: |error| <= 1e-5 * sum_k |w_k x_k| + 1e-6, for single-level
/// (`lt_qgemm`) and two-level (`lt_qgemm_x2`) activations. The shapes cover both VNNI tiles (512-bit for an
/// even block count up to 256, 256-bit otherwise), every tile remainder and 1...9 tokens.
/// `.mixed`: outlier activations whose second level is zero in most blocks (the K-quant kernels skip those dots).
@Test(arguments: quantizedTypes, Kernels.ActivationPrecision.allCases)
func quantizedKernelMatchesIntegerTwin(_ dtype: DType, _ precision: Kernels.ActivationPrecision) {
    var rng = SeededRandom(seed: 23)
    let two = precision.levels == 2
    // K-quants: whole super-blocks (256); 4864 = 19 super-blocks (Qwen2.5-0.5B's FFN width), past the 512-bit
    // tile's limit for nothing (K tiles have none) but odd in super-blocks.
    let shapes = dtype.isKQuant
        ? [(1, 256, 1), (5, 512, 3), (13, 768, 9), (8, 256, 4), (7, 4864, 6), (6, 1280, 7), (9, 512, 8), (3, 4864, 2),
           (4, 768, 5)]
        : [(1, 32, 1), (5, 96, 3), (13, 608, 9), (8, 576, 4), (7, 64, 6), (5, 1536, 5), (3, 8256, 2), (6, 160, 7), (9, 128, 8)]
    for (rows, cols, tokens) in shapes {
        let bytes = randomMatrixBytes(dtype, rows: rows, cols: cols, rng: &rng)
        let x = precision == .mixed ? outlierActivations(tokens: tokens, cols: cols, rng: &rng) : randomFloats(tokens * cols, rng: &rng)
        let nb = cols / 32
        // Raw buffers: `&array[i]` would pass a pointer to a one-element temporary.
        let q = UnsafeMutablePointer<Int8>.allocate(capacity: tokens * cols); defer { q.deallocate() }
        let q2 = UnsafeMutablePointer<Int8>.allocate(capacity: tokens * cols); defer { q2.deallocate() }
        let d = UnsafeMutablePointer<Float>.allocate(capacity: tokens * nb); defer { d.deallocate() }
        let d2 = UnsafeMutablePointer<Float>.allocate(capacity: tokens * nb); defer { d2.deallocate() }
        let s = UnsafeMutablePointer<Float>.allocate(capacity: tokens * nb); defer { s.deallocate() }
        x.withUnsafeBufferPointer { xb in
            for t in 0..<tokens {
                if precision == .mixed {
                    Reference.quantizeQ8x2Mixed(xb.baseAddress! + t * cols, count: cols, qs: q + t * cols, d: d + t * nb,
                                                qs2: q2 + t * cols, d2: d2 + t * nb, s: s + t * nb, tau: Kernels.mixedThreshold)
                } else if two {
                    Reference.quantizeQ8x2(xb.baseAddress! + t * cols, count: cols, qs: q + t * cols, d: d + t * nb,
                                           qs2: q2 + t * cols, d2: d2 + t * nb, s: s + t * nb)
                } else {
                    Reference.quantizeQ8(xb.baseAddress! + t * cols, count: cols, qs: q + t * cols, d: d + t * nb, s: s + t * nb)
                }
            }
        }
        // The Swift twin and a bound from the dequantized weights times the quantized activations.
        var expected = [Float](repeating: 0, count: tokens * rows), scale = expected
        let row = UnsafeMutablePointer<Float>.allocate(capacity: cols); defer { row.deallocate() }
        bytes.withUnsafeBytes { raw in
            for r in 0..<rows {
                let rowPtr = raw.baseAddress! + r * dtype.byteCount(cols)!
                Reference.dequantize(dtype, rowPtr, count: cols, into: row)
                for t in 0..<tokens {
                    expected[t * rows + r] = Reference.dotQ8(dtype, rowPtr, cols: cols, qs: q + t * cols, d: d + t * nb, s: s + t * nb,
                                                             qs2: two ? q2 + t * cols : nil, d2: two ? d2 + t * nb : nil)
                    let xq = (0..<cols).map { k in
                        Float(q[t * cols + k]) * d[t * nb + k / 32] + (two ? Float(q2[t * cols + k]) * d2[t * nb + k / 32] : 0)
                    }
                    scale[t * rows + r] = absDot(row, xq, count: cols) + (usesBlockSums(dtype) ? 1 : 0) * (0..<nb).reduce(0) { $0 + abs(s[t * nb + $1]) }
                }
            }
        }
        for level in supportedLevels {
            var y = [Float](repeating: .nan, count: tokens * rows)
            bytes.withUnsafeBytes { raw in
                if two {
                    lt_qgemm_x2_at(Int32(level), dtype.kernelCode, Int64(cols), raw.baseAddress!, Int64(dtype.byteCount(cols)!),
                                   Int64(rows), q, d, q2, d2, s, Int64(tokens), &y, Int64(rows))
                } else {
                    lt_qgemm_at(Int32(level), dtype.kernelCode, Int64(cols), raw.baseAddress!, Int64(dtype.byteCount(cols)!),
                                Int64(rows), q, d, s, Int64(tokens), &y, Int64(rows))
                }
            }
            for i in 0..<y.count {
                #expect(abs(y[i] - expected[i]) <= 1e-5 * scale[i] + 1e-6,
                        "\(dtype) \(precision) level \(level) rows \(rows) cols \(cols) tokens \(tokens) index \(i): \(y[i]) vs \(expected[i])")
            }
        }
    }
}

/// `Kernels.matmul` against the float reference for every dtype and activation precision, odd shapes,
/// tokens 1...9 and thread counts that do not divide the rows.
/// Bounds (F = 1e-6 * sum_k |W x| + 1e-6 covers float rounding, including the residual's 2^-24 |r|):
/// - float weights: |error| <= 1e-5 * sum_k |W x| + 1e-6;
/// - `.int8`: rigorous |error| <= sum_b max_b|x| / 254 * sum_{k in b} |W| + F, typically <= 1e-2 * sum_k |W x|;
/// - `.int8x2`: rigorous |error| <= sum_b max_b|r| / 254 * sum_{k in b} |W| + F, where r = x - d q1 is the
///   level-1 residual and max_b|r| <= max_b|x| / 254, so also <= sum_b max_b|x| / 254^2 * sum_{k in b} |W| + F;
///   typically <= 1e-4 * sum_k |W x|. Over all cases its total error is at least 50x below `.int8`'s.
@Test(arguments: allTypes)
func matmulMatchesReference(_ dtype: DType) {
    var rng = SeededRandom(seed: 42 &+ UInt64(dtype.blockBytes))
    let pools = [ThreadPool(threads: 1), ThreadPool(threads: 2), ThreadPool(threads: 3)]
    let workspace = MatmulWorkspace()
    var totalError: [Kernels.ActivationPrecision: Double] = [.int8: 0, .int8x2: 0, .mixed: 0]
    let shapes = dtype.isKQuant ? [(1, 256), (5, 512), (13, 768), (37, 256), (3, 4864)]
                                : [(1, 32), (5, 96), (13, 608), (37, 576), (3, 64), (32, 160)]
    for (rows, cols) in shapes {
        let bytes = randomMatrixBytes(dtype, rows: rows, cols: cols, rng: &rng)
        for tokens in 1...9 where tokens <= 3 || rows == 13 || rows == 37 || rows == 32 {
            let x = randomFloats(tokens * cols, rng: &rng, scale: 2)
            bytes.withUnsafeBytes { raw in
              // As stored, and (32 rows of a packable type on a CPU with the kernel) row-interleaved.
              let stored = WeightMatrix(dtype: dtype, rows: rows, cols: cols, data: raw.baseAddress!)
              let packed = stored.packedForMatmul()
              if rows == 32 && [.q4_0, .q4_1, .q5_0, .q5_1, .q8_0].contains(dtype) && PackedWeights.enabled {
                  #expect(packed.packed != nil, "\(dtype) [32x\(cols)] was not packed")
              }
              for w in packed.packed == nil ? [stored] : [stored, packed] {
                var expected = [Float](repeating: 0, count: tokens * rows)
                Reference.matmul(w, x, tokens: tokens, &expected)
                let row = UnsafeMutablePointer<Float>.allocate(capacity: cols); defer { row.deallocate() }
                // Per block: max|x| and max|r| of the level-1 residual (Double, from the reference quantizer).
                var xmax = [Double](repeating: 0, count: tokens * cols / 32), rmax = xmax
                var q1 = [Int8](repeating: 0, count: cols), d1 = [Float](repeating: 0, count: cols / 32), s1 = d1
                for t in 0..<tokens {
                    x.withUnsafeBufferPointer { Reference.quantizeQ8($0.baseAddress! + t * cols, count: cols, qs: &q1, d: &d1, s: &s1) }
                    for k in 0..<cols {
                        let i = (t * cols + k) / 32
                        xmax[i] = max(xmax[i], Double(abs(x[t * cols + k])))
                        rmax[i] = max(rmax[i], abs(Double(x[t * cols + k]) - Double(d1[k / 32]) * Double(q1[k])))
                    }
                }
                for precision in Kernels.ActivationPrecision.allCases {
                    for pool in pools {
                        var y = [Float](repeating: .nan, count: tokens * rows)
                        Kernels.matmul(w, x, tokens: tokens, &y, pool: pool, workspace: workspace, precision: precision)
                        for r in 0..<rows {
                            w.dequantizeRow(r, into: row)
                            for t in 0..<tokens {
                                let scale = x.withUnsafeBufferPointer { absDot(row, $0.baseAddress! + t * cols, count: cols) }
                                let err = abs(y[t * rows + r] - expected[t * rows + r])
                                let context = "\(dtype) \(precision) [\(rows)x\(cols)]\(w.packed == nil ? "" : " packed") tokens \(tokens) threads \(pool.threads) r \(r) t \(t)"
                                guard dtype.isQuantized else {
                                    #expect(err <= 1e-5 * scale + 1e-6, "\(context): error \(err)")
                                    continue
                                }
                                if pool.threads == 1 && w.packed == nil { totalError[precision]! += Double(err) }
                                // `.mixed` keeps the second level only in some blocks: `.int8`'s bounds hold for it.
                                let typical: Float = precision == .int8x2 ? 1e-4 : 1e-2
                                #expect(err <= typical * scale + 1e-5, "\(context): error \(err) > typical bound")
                                // The rigorous bounds: half a step of the last level per activation.
                                var strict = 1e-6 * Double(scale) + 1e-6, strictX = strict
                                for b in 0..<(cols / 32) {
                                    let wsum = (0..<32).reduce(0.0) { $0 + Double(abs(row[b * 32 + $1])) }
                                    let i = (t * cols) / 32 + b
                                    strict += (precision == .int8x2 ? rmax[i] : xmax[i]) / 254 * wsum
                                    strictX += xmax[i] / (precision == .int8x2 ? 254 * 254 : 254) * wsum
                                }
                                #expect(Double(err) <= strict, "\(context): error \(err) > strict bound \(strict)")
                                #expect(Double(err) <= strictX, "\(context): error \(err) > max|x| bound \(strictX)")
                            }
                        }
                    }
                }
              }
            }
        }
    }
    if dtype.isQuantized {
        #expect(totalError[.int8x2]! * 50 < totalError[.int8]!, "\(dtype): \(totalError)")
    }
}

/// An explicit workspace gives the same result as the thread's own and is reused when large enough.
@Test func matmulWorkspaceReuse() {
    var rng = SeededRandom(seed: 5)
    let (rows, cols, tokens) = (9, 96, 5)
    let bytes = randomMatrixBytes(.q4_1, rows: rows, cols: cols, rng: &rng)
    let x = randomFloats(tokens * cols, rng: &rng)
    let pool = ThreadPool(threads: 2), workspace = MatmulWorkspace()
    bytes.withUnsafeBytes { raw in
        let w = WeightMatrix(dtype: .q4_1, rows: rows, cols: cols, data: raw.baseAddress!)
        var a = [Float](repeating: 0, count: tokens * rows), b = a
        Kernels.matmul(w, x, tokens: tokens, &a, pool: pool, workspace: workspace)
        let first = workspace.scratch(bytes: 1)
        Kernels.matmul(w, x, tokens: 1, &b, pool: pool, workspace: workspace)
        #expect(workspace.scratch(bytes: 1) == first)
        Kernels.matmul(w, x, tokens: tokens, &b, pool: pool)
        #expect(a == b)
        // Single-level activations need less scratch than two-level ones: no growth, same result as fresh.
        Kernels.matmul(w, x, tokens: tokens, &a, pool: pool, workspace: workspace, precision: .int8)
        #expect(workspace.scratch(bytes: 1) == first)
        Kernels.matmul(w, x, tokens: tokens, &b, pool: pool, workspace: MatmulWorkspace(), precision: .int8)
        #expect(a == b)
    }
}

/// Matmuls sharing one input (q, k, v; gate and up) quantize it once and run in one parallel pass, and
/// each output equals its matrix's own matmul bit for bit: packed and unpacked types mixed, two and
/// three matrices, both activation precisions, token counts around the kernels' tiles; float weights
/// (and mismatched widths) take the matmuls one by one, with the same results.
@Test func sharedInputMatmulsEqualSeparateOnes() {
    var rng = SeededRandom(seed: 91)
    let pool = ThreadPool(threads: 3)
    let cols = 768
    let specs: [(DType, Int)] = [(.q4_1, 576), (.q8_0, 192), (.q4_k, 80), (.q5_0, 192)]
    let stored = specs.map { randomMatrixBytes($0.0, rows: $0.1, cols: cols, rng: &rng) }
    let floats = randomFloats(48 * cols, rng: &rng)
    for precision in Kernels.ActivationPrecision.allCases {
        for tokens in [1, 3, 4, 8, 9, 37] {
            let x = randomFloats(tokens * cols, rng: &rng, scale: 2)
            func matrices(_ raws: [UnsafeRawBufferPointer]) -> [WeightMatrix] {
                zip(specs, raws).map { WeightMatrix(dtype: $0.0, rows: $0.1, cols: cols, data: $1.baseAddress!).packedForMatmul() }
            }
            stored[0].withUnsafeBytes { r0 in stored[1].withUnsafeBytes { r1 in stored[2].withUnsafeBytes { r2 in
                stored[3].withUnsafeBytes { r3 in floats.withUnsafeBytes { rf in
                    let w = matrices([r0, r1, r2, r3])
                    let f = WeightMatrix(dtype: .f32, rows: 48, cols: cols, data: rf.baseAddress!)
                    for combo in [[0, 1, 1], [0, 2, 3], [3, 0], [1, 2], [0, 4, 1]] {
                        let ms = combo.map { $0 == 4 ? f : w[$0] }
                        var alone = ms.map { [Float](repeating: 0, count: tokens * $0.rows) }
                        for (i, m) in ms.enumerated() {
                            Kernels.matmul(m, x, tokens: tokens, &alone[i], pool: pool, workspace: MatmulWorkspace(), precision: precision)
                        }
                        var y0 = [Float](repeating: .nan, count: tokens * ms[0].rows), y1 = [Float](repeating: .nan, count: tokens * ms[1].rows)
                        var y2 = [Float](repeating: .nan, count: tokens * ms[ms.count - 1].rows)
                        y0.withUnsafeMutableBufferPointer { p0 in y1.withUnsafeMutableBufferPointer { p1 in y2.withUnsafeMutableBufferPointer { p2 in
                            Kernels.matmul(ms[0], p0.baseAddress!, ms[1], p1.baseAddress!, ms.count == 3 ? ms[2] : nil,
                                           ms.count == 3 ? p2.baseAddress! : nil, x: x, tokens: tokens, pool: pool,
                                           workspace: MatmulWorkspace(), precision: precision)
                        } } }
                        let together = ms.count == 3 ? [y0, y1, y2] : [y0, y1]
                        for i in ms.indices {
                            #expect(together[i].map(\.bitPattern) == alone[i].map(\.bitPattern),
                                    "\(combo) matrix \(i) (\(ms[i].dtype)) \(precision) tokens \(tokens)")
                        }
                    }
                } }
            } } }
        }
    }
}

@Test func floatHelpersMatchReference() {
    var rng = SeededRandom(seed: 3)
    for n in [1, 7, 8, 31, 64, 576, 1000] {
        let a = randomFloats(n, rng: &rng), b = randomFloats(n, rng: &rng)
        let bound = 1e-5 * absDot(a, b, count: n) + 1e-6
        #expect(abs(Kernels.dot(a, b, count: n) - Reference.dot(a, b, count: n)) <= bound)
        var y = b
        Kernels.axpy(0.5, a, &y, count: n)
        #expect(zip(y, zip(a, b)).allSatisfy { abs($0 - ($1.1 + 0.5 * $1.0)) <= 1e-6 })
        var sum = b
        Kernels.add(&sum, a, count: n)
        #expect(zip(sum, zip(a, b)).allSatisfy { abs($0 - ($1.0 + $1.1)) <= 1e-6 })
        let weight = randomFloats(n, rng: &rng)
        var fast = [Float](repeating: 0, count: n), slow = fast
        Kernels.rmsNorm(a, weight: weight, tokens: 1, n: n, eps: 1e-5, &fast)
        Reference.rmsNorm(a, weight: weight, tokens: 1, n: n, eps: 1e-5, &slow)
        #expect(zip(fast, slow).allSatisfy { abs($0 - $1) <= 1e-5 * max(1, abs($1)) })
    }
}

/// SIMD exp-based ops match the libm reference within 4e-7 relative (+ 1e-30 absolute), every path,
/// including masked (-infinity) scores, large logits and lengths that are not a multiple of 8.
@Test func swigluAndSoftmaxMatchReference() {
    var rng = SeededRandom(seed: 17)
    for n in [1, 5, 8, 13, 64, 1536] {
        var gate = randomFloats(n, rng: &rng, scale: 12), up = randomFloats(n, rng: &rng, scale: 3)
        if n > 4 { gate[0] = -100; gate[1] = 100; gate[2] = 0; gate[3] = -88 }
        var expected = gate
        Reference.swiglu(&expected, up, count: n)
        var scores = randomFloats(n, rng: &rng, scale: 30)
        if n > 4 { scores[1] = -.infinity; scores[3] = -1e30; scores[4] = 80 }
        var expectedSoftmax = scores
        Reference.softmax(&expectedSoftmax, count: n)
        for level in supportedLevels {
            var g = gate
            lt_swiglu_f32_at(Int32(level), &g, up, Int64(n))
            #expect(zip(g, expected).allSatisfy { abs($0 - $1) <= 4e-7 * abs($1) + 1e-30 }, "swiglu level \(level) n \(n)")
            var p = scores
            lt_softmax_f32_at(Int32(level), &p, Int64(n))
            #expect(zip(p, expectedSoftmax).allSatisfy { abs($0 - $1) <= 4e-7 * abs($1) + 1e-30 }, "softmax level \(level) n \(n)")
            if n > 4 { #expect(p[1] == 0) }
        }
    }
}

/// The SIMD argmax gives the plain loop's index on every path: ties (the first wins), NaNs (skipped),
/// -infinity everywhere or NaN everywhere (0), signed zeros, the maximum in the tail, lengths that are not a
/// multiple of the vector width, and a vocabulary-sized row.
@Test func argmaxMatchesReference() {
    var rng = SeededRandom(seed: 29)
    var cases: [[Float]] = []
    for n in [1, 2, 5, 8, 13, 16, 17, 31, 64, 1000, 49152] {
        let base = randomFloats(n, rng: &rng, scale: 20)
        cases.append(base)
        var withNaN = base
        for i in stride(from: 0, to: n, by: 3) { withNaN[i] = .nan }
        cases.append(withNaN)
        var tie = base
        if n > 3 { let m = tie.max()! + 1; tie[n / 3] = m; tie[n - 1] = m }
        cases.append(tie)
        var tail = base
        tail[n - 1] = 1e30
        cases.append(tail)
        cases.append([Float](repeating: -.infinity, count: n))
        cases.append([Float](repeating: .nan, count: n))
        var zeros = [Float](repeating: -.infinity, count: n)
        zeros[n - 1] = 0
        if n > 2 { zeros[n / 2] = -0.0 }
        cases.append(zeros)
        var oneFinite = [Float](repeating: .nan, count: n)
        oneFinite[n / 2] = -.greatestFiniteMagnitude
        cases.append(oneFinite)
    }
    for x in cases {
        let want = x.withUnsafeBufferPointer { Reference.argmax($0) }
        for level in supportedLevels {
            let got = x.withUnsafeBufferPointer {
                Int(lt_argmax_f32_at(Int32(level), $0.baseAddress!, Int64($0.count)))
            }
            #expect(got == want, "argmax level \(level) n \(x.count)")
        }
        #expect(x.withUnsafeBufferPointer { Kernels.argmax($0) } == want)
    }
}

/// The SIMD exact GELU matches the erf definition (`Activation.gelu`, libm's erf) within
/// 2e-7 * max(1, |x|) + 1e-7 on every path, for tails, zero, large and tiny inputs of both signs.
@Test func geluMatchesReference() {
    var rng = SeededRandom(seed: 23)
    for n in [1, 7, 8, 13, 64, 1536] {
        var x = randomFloats(n, rng: &rng, scale: 6)
        if n > 6 { x[0] = 0; x[1] = -12; x[2] = 12; x[3] = -1e-6; x[4] = 3e-8; x[5] = -100; x[6] = 50 }
        let expected = x.map { Activation.gelu($0) }
        for level in supportedLevels {
            var y = x
            lt_gelu_f32_at(Int32(level), &y, Int64(n))
            #expect(zip(zip(y, expected), x).allSatisfy { yv, xv in abs(yv.0 - yv.1) <= 2e-7 * max(1, abs(xv)) + 1e-7 },
                    "gelu level \(level) n \(n)")
        }
    }
}

/// The SIMD tanh GELU, plain and gated, in float matches the definition evaluated in double precision
/// within 1.2e-7 * (4 + 2|u|) relative + 1e-30, u = sqrt(2/pi) (x + 0.044715 x^3): for negative x the
/// result is about x * exp(2u), so float rounding of u alone moves it by ~6e-8 * 2|u| relative. On every
/// path, for tails, zero, tiny and large inputs of both signs and lengths that are not a multiple of 8.
@Test func geluTanhMatchesReference() {
    var rng = SeededRandom(seed: 29)
    func u(_ v: Float) -> Double { let d = Double(v); return 0.79788456080286536 * (d + 0.044715 * d * d * d) }
    for n in [1, 7, 8, 13, 64, 2048] {
        var x = randomFloats(n, rng: &rng, scale: 6)
        if n > 6 { x[0] = 0; x[1] = -12; x[2] = 12; x[3] = -1e-6; x[4] = 3e-8; x[5] = -100; x[6] = 50 }
        let up = randomFloats(n, rng: &rng, scale: 3)
        // 0.5 (1 + tanh u) as 1 / (1 + exp(-2u)): the same function, without the cancellation of
        // 1 + tanh(u) that leaves double precision with 0 for x < -7.
        let plain = x.map { Double($0) / (1 + exp(-2 * u($0))) }
        let gated = zip(plain, up).map { $0 * Double($1) }
        for level in supportedLevels {
            var y = x, g = x
            lt_gelu_tanh_f32_at(Int32(level), &y, nil, Int64(n))
            lt_gelu_tanh_f32_at(Int32(level), &g, up, Int64(n))
            func close(_ got: Float, _ want: Double, _ xv: Float) -> Bool {
                abs(Double(got) - want) <= 1.2e-7 * (4 + 2 * abs(u(xv))) * abs(want) + 1e-30
            }
            #expect(zip(zip(y, plain), x).allSatisfy { close($0.0, $0.1, $1) }, "gelu_tanh level \(level) n \(n)")
            #expect(zip(zip(g, gated), x).allSatisfy { close($0.0, $0.1, $1) }, "geglu level \(level) n \(n)")
        }
    }
}

/// attendHead matches its reference twin: |error| <= 1e-5 * max|v| + 1e-6 per output (a convex
/// combination of value rows), for GQA-like strides, lengths 1...67 and head sizes 64 and 13.
@Test func attendHeadMatchesReference() {
    var rng = SeededRandom(seed: 31)
    for (headDim, stride) in [(64, 192), (13, 13)] {
        for count in [1, 2, 7, 16, 67] {
            let q = randomFloats(headDim, rng: &rng, scale: 2)
            let keys = randomFloats(count * stride, rng: &rng, scale: 2), values = randomFloats(count * stride, rng: &rng)
            var fast = [Float](repeating: .nan, count: headDim), slow = fast
            var s1 = [Float](repeating: 0, count: count), s2 = s1
            Kernels.attendHead(query: q, keys: keys, values: values, stride: stride, count: count, headDim: headDim,
                               scale: 0.125, scores: &s1, into: &fast)
            Reference.attendHead(query: q, keys: keys, values: values, stride: stride, count: count, headDim: headDim,
                                 scale: 0.125, scores: &s2, into: &slow)
            #expect(zip(fast, slow).allSatisfy { abs($0 - $1) <= 1e-5 + 1e-6 }, "headDim \(headDim) count \(count)")
        }
    }
}

/// Every float-weight path (scalar, AVX2 with 4x2 tiles, AVX-512 with 4x4 tiles) against the reference:
/// |error| <= 1e-5 * sum_k |W x| + 1e-6, odd column counts (scalar tails), row and token remainders.
@Test(arguments: [DType.f32, .f16, .bf16])
func floatKernelsMatchReferenceOnEveryLevel(_ dtype: DType) {
    var rng = SeededRandom(seed: 77)
    for (rows, cols) in [(1, 1), (5, 13), (9, 64), (6, 77)] {
        let bytes = randomMatrixBytes(dtype, rows: rows, cols: cols, rng: &rng)
        for tokens in [1, 2, 3, 5, 9] {
            let x = randomFloats(tokens * cols, rng: &rng)
            bytes.withUnsafeBytes { raw in
                let w = WeightMatrix(dtype: dtype, rows: rows, cols: cols, data: raw.baseAddress!)
                var expected = [Float](repeating: 0, count: tokens * rows)
                Reference.matmul(w, x, tokens: tokens, &expected)
                let row = UnsafeMutablePointer<Float>.allocate(capacity: cols); defer { row.deallocate() }
                for level in supportedLevels {
                    var y = [Float](repeating: .nan, count: tokens * rows)
                    lt_fgemm_at(Int32(level), dtype.kernelCode, Int64(cols), raw.baseAddress!, Int64(w.rowBytes), Int64(rows),
                                x, Int64(tokens), &y, Int64(rows))
                    for r in 0..<rows {
                        w.dequantizeRow(r, into: row)
                        for t in 0..<tokens {
                            let bound = 1e-5 * x.withUnsafeBufferPointer { absDot(row, $0.baseAddress! + t * cols, count: cols) } + 1e-6
                            #expect(abs(y[t * rows + r] - expected[t * rows + r]) <= bound, "\(dtype) level \(level) [\(rows)x\(cols)] t \(t) r \(r)")
                        }
                    }
                }
            }
        }
    }
}

/// The process-wide default is the two-level path unless the environment asks for single-level int8 or mixed.
/// (Read only: other tests run concurrently with the default.)
@Test func activationPrecisionDefault() {
    let fromEnvironment = ProcessInfo.processInfo.environment["LANTERN_ACTIVATION_PRECISION"]
    #expect(Kernels.activationPrecision == (fromEnvironment == "int8" ? .int8 : fromEnvironment == "mixed" ? .mixed : .int8x2))
    #expect(Kernels.ActivationPrecision.allCases.map(\.levels) == [1, 2, 2])   // levels, as the workspace uses them
}

/// The paged attention kernel with ALiBi slope, additive bias and a sliding-window start against its
/// double-precision twin, on every instruction-set level: block tables in shuffled order, partial last
/// blocks, no table, odd head sizes, windows starting inside a block, on a block edge and at the last key.
/// |error| <= 2e-5 * max|v| + 1e-6 per output (a convex combination of value rows).
@Test func pagedBiasedAttentionMatchesReference() {
    var rng = SeededRandom(seed: 57)
    for (headDim, stride, block) in [(64, 128, 16), (13, 13, 4), (16, 48, 1), (128, 384, 16), (256, 256, 16), (80, 80, 16)] {
        for count in [1, 3, 16, 17, 50] {
            let blocks = (count + block - 1) / block
            let table: [Int32] = (0..<Int32(blocks + 3)).reversed().map { $0 }   // rows far from contiguous
            let rows = (blocks + 3) * block
            let q = randomFloats(headDim, rng: &rng, scale: 2)
            let keys = randomFloats(rows * stride, rng: &rng, scale: 2), values = randomFloats(rows * stride, rng: &rng)
            let bias = randomFloats(count, rng: &rng, scale: 3)
            let firsts = Array(Set([0, count / 3, min(block, count - 1), count - 1])).sorted()
            for first in firsts {
                for (useTable, slope, useBias) in [(true, Float(0), false), (true, -0.25, false), (true, 0, true), (false, 0.5, true)] {
                    var slow = [Float](repeating: .nan, count: headDim)
                    table.withUnsafeBufferPointer { t in
                        bias.withUnsafeBufferPointer { b in
                            Reference.attend(query: q, keys: keys, values: values, table: useTable ? t.baseAddress : nil, block: block,
                                             stride: stride, first: first, count: count, headDim: headDim, scale: 0.125, slope: slope,
                                             bias: useBias ? b.baseAddress : nil, into: &slow)
                            for level in supportedLevels {
                                var fast = [Float](repeating: .nan, count: headDim)
                                var scores = [Float](repeating: .nan, count: count - first)
                                lt_attend_ext_f32_at(Int32(level), q, keys, values, useTable ? t.baseAddress : nil, Int64(block),
                                                     Int64(stride), Int64(first), Int64(count), Int64(headDim), 0.125, slope,
                                                     useBias ? b.baseAddress : nil, &scores, &fast)
                                #expect(zip(fast, slow).allSatisfy { abs($0 - $1) <= 2e-5 + 1e-6 },
                                        "level \(level) hd \(headDim) n \(count) first \(first) table \(useTable) slope \(slope) bias \(useBias)")
                                #expect(abs(scores.reduce(0, +) - 1) <= 1e-5)
                            }
                        }
                    }
                }
            }
        }
    }
}

/// A window that starts at key `first` equals attention over a cache holding only keys first..<n:
/// the kernel reads nothing before the window (keys there are NaN) and ALiBi/bias stay indexed by j.
@Test func slidingWindowIgnoresKeysBeforeIt() {
    var rng = SeededRandom(seed: 58)
    let hd = 8, n = 21, first = 13
    let q = randomFloats(hd, rng: &rng, scale: 2)
    var keys = randomFloats(n * hd, rng: &rng, scale: 2), values = randomFloats(n * hd, rng: &rng)
    for i in 0..<(first * hd) { keys[i] = .nan; values[i] = .nan }
    let tail = Array(keys[(first * hd)...]), tailValues = Array(values[(first * hd)...])
    for level in supportedLevels {
        var windowed = [Float](repeating: 0, count: hd), alone = [Float](repeating: 0, count: hd)
        var s1 = [Float](repeating: 0, count: n - first), s2 = [Float](repeating: 0, count: n - first)
        lt_attend_ext_f32_at(Int32(level), q, keys, values, nil, 4, Int64(hd), Int64(first), Int64(n), Int64(hd), 0.3, 0,
                             nil, &s1, &windowed)
        lt_attend_ext_f32_at(Int32(level), q, tail, tailValues, nil, 4, Int64(hd), 0, Int64(n - first), Int64(hd), 0.3, 0,
                             nil, &s2, &alone)
        #expect(windowed.allSatisfy { $0.isFinite })
        #expect(zip(windowed, alone).allSatisfy { abs($0 - $1) <= 1e-6 }, "level \(level)")
    }
}
