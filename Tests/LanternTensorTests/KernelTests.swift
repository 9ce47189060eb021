import Testing
import CKernels
@testable import LanternTensor

let allTypes: [DType] = [.f32, .f16, .bf16, .q8_0, .q4_0, .q4_1]
let quantizedTypes: [DType] = [.q8_0, .q4_0, .q4_1]

/// Every dequantize path (scalar, AVX2, AVX-512) matches the Swift reference to within one fused
/// multiply-add rounding (|error| <= 2^-22 * (|d * q| + |m|)).
@Test(arguments: allTypes)
func dequantizeMatchesReference(_ dtype: DType) {
    var rng = SeededRandom(seed: 7)
    let count = 32 * 19
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

/// The integer block dot products of every SIMD path equal the scalar C twin and the Swift integer twin
/// `Reference.dotQ8` up to float summation order: |error| <= 1e-5 * sum_k |w_k x_k| + 1e-6. The shapes cover
/// both VNNI tiles (512-bit for an even block count up to 256, 256-bit otherwise) and every tile remainder.
@Test(arguments: quantizedTypes)
func quantizedKernelMatchesIntegerTwin(_ dtype: DType) {
    var rng = SeededRandom(seed: 23)
    for (rows, cols, tokens) in [(1, 32, 1), (5, 96, 3), (13, 608, 9), (8, 576, 4), (7, 64, 6), (5, 1536, 5), (3, 8256, 2)] {
        let bytes = randomMatrixBytes(dtype, rows: rows, cols: cols, rng: &rng)
        let x = randomFloats(tokens * cols, rng: &rng)
        let nb = cols / 32
        // Raw buffers: `&array[i]` would pass a pointer to a one-element temporary.
        let q = UnsafeMutablePointer<Int8>.allocate(capacity: tokens * cols); defer { q.deallocate() }
        let d = UnsafeMutablePointer<Float>.allocate(capacity: tokens * nb); defer { d.deallocate() }
        let s = UnsafeMutablePointer<Float>.allocate(capacity: tokens * nb); defer { s.deallocate() }
        x.withUnsafeBufferPointer { xb in
            for t in 0..<tokens { Reference.quantizeQ8(xb.baseAddress! + t * cols, count: cols, qs: q + t * cols, d: d + t * nb, s: s + t * nb) }
        }
        // The Swift twin and a bound from the dequantized weights times the quantized activations.
        var expected = [Float](repeating: 0, count: tokens * rows), scale = expected
        let row = UnsafeMutablePointer<Float>.allocate(capacity: cols); defer { row.deallocate() }
        bytes.withUnsafeBytes { raw in
            for r in 0..<rows {
                let rowPtr = raw.baseAddress! + r * dtype.byteCount(cols)!
                Reference.dequantize(dtype, rowPtr, count: cols, into: row)
                for t in 0..<tokens {
                    expected[t * rows + r] = Reference.dotQ8(dtype, rowPtr, cols: cols, qs: q + t * cols, d: d + t * nb, s: s + t * nb)
                    let xq = (0..<cols).map { Float(q[t * cols + $0]) * d[t * nb + $0 / 32] }
                    scale[t * rows + r] = absDot(row, xq, count: cols) + (dtype == .q4_1 ? 1 : 0) * (0..<nb).reduce(0) { $0 + abs(s[t * nb + $1]) }
                }
            }
        }
        for level in supportedLevels {
            var y = [Float](repeating: .nan, count: tokens * rows)
            bytes.withUnsafeBytes { raw in
                lt_qgemm_at(Int32(level), dtype.kernelCode, Int64(cols), raw.baseAddress!, Int64(dtype.byteCount(cols)!),
                            Int64(rows), q, d, s, Int64(tokens), &y, Int64(rows))
            }
            for i in 0..<y.count {
                #expect(abs(y[i] - expected[i]) <= 1e-5 * scale[i] + 1e-6,
                        "\(dtype) level \(level) rows \(rows) cols \(cols) tokens \(tokens) index \(i): \(y[i]) vs \(expected[i])")
            }
        }
    }
}

/// `Kernels.matmul` against the float reference for every dtype, odd shapes, tokens 1...9 and thread
/// counts that do not divide the rows.
/// Bound: float weights |error| <= 1e-5 * sum_k |W x| + 1e-6; quantized weights go through q8
/// activations, whose rounding (half a step of max|x|/127 per block) gives |error| <= 1e-2 * sum_k |W x| + 1e-5
/// on this data, and always <= sum_b max_b|x| / 254 * sum_{k in b} |W| (+ float rounding).
@Test(arguments: allTypes)
func matmulMatchesReference(_ dtype: DType) {
    var rng = SeededRandom(seed: 42 &+ UInt64(dtype.blockBytes))
    let pools = [ThreadPool(threads: 1), ThreadPool(threads: 2), ThreadPool(threads: 3)]
    let relative: Float = dtype.isQuantized ? 1e-2 : 1e-5
    let absolute: Float = dtype.isQuantized ? 1e-5 : 1e-6
    for (rows, cols) in [(1, 32), (5, 96), (13, 608), (37, 576), (3, 64)] {
        let bytes = randomMatrixBytes(dtype, rows: rows, cols: cols, rng: &rng)
        for tokens in 1...9 where tokens <= 3 || rows == 13 || rows == 37 {
            let x = randomFloats(tokens * cols, rng: &rng, scale: 2)
            bytes.withUnsafeBytes { raw in
                let w = WeightMatrix(dtype: dtype, rows: rows, cols: cols, data: raw.baseAddress!)
                var expected = [Float](repeating: 0, count: tokens * rows)
                Reference.matmul(w, x, tokens: tokens, &expected)
                let row = UnsafeMutablePointer<Float>.allocate(capacity: cols); defer { row.deallocate() }
                for pool in pools {
                    var y = [Float](repeating: .nan, count: tokens * rows)
                    Kernels.matmul(w, x, tokens: tokens, &y, pool: pool)
                    for r in 0..<rows {
                        w.dequantizeRow(r, into: row)
                        for t in 0..<tokens {
                            let scale = x.withUnsafeBufferPointer { absDot(row, $0.baseAddress! + t * cols, count: cols) }
                            let bound = relative * scale + absolute
                            let err = abs(y[t * rows + r] - expected[t * rows + r])
                            #expect(err <= bound, "\(dtype) [\(rows)x\(cols)] tokens \(tokens) threads \(pool.threads) r \(r) t \(t): error \(err) > \(bound)")
                            if dtype.isQuantized {
                                // The rigorous bound: half a quantization step per activation.
                                var strict = 1e-5 * scale + 1e-6
                                for b in 0..<(cols / 32) {
                                    let xb = x[(t * cols + b * 32)..<(t * cols + b * 32 + 32)]
                                    strict += xb.map(abs).max()! / 254 * (0..<32).reduce(0) { $0 + abs(row[b * 32 + $1]) }
                                }
                                #expect(err <= strict, "\(dtype) strict bound: error \(err) > \(strict)")
                            }
                        }
                    }
                }
            }
        }
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
