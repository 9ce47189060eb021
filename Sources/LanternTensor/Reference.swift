import Foundation

/// Plain-Swift reference versions of the ops in `Kernels`: slow, obviously correct, and the ground truth
/// the tests compare the fast kernels against.
extension Reference {
    /// y[t, r] = sum_k W[r, k] * x[t, k] in float32, dequantizing one weight row at a time.
    /// x: [tokens, w.cols], y: [tokens, w.rows].
    public static func matmul(_ w: WeightMatrix, _ x: UnsafePointer<Float>, tokens: Int, _ y: UnsafeMutablePointer<Float>) {
        let row = UnsafeMutablePointer<Float>.allocate(capacity: w.cols)
        defer { row.deallocate() }
        for r in 0..<w.rows {
            dequantize(w.dtype, w.row(r), count: w.cols, into: row)
            for t in 0..<tokens {
                y[t * w.rows + r] = dot(row, x + t * w.cols, count: w.cols)
            }
        }
    }

    /// Quantizes `count` floats (a multiple of 32) to q8 activation blocks, as `lt_quantize_q8` does:
    /// per block d = max|x| / 127, q = x * (1 / d) rounded half to even, s = d * sum(q).
    public static func quantizeQ8(_ x: UnsafePointer<Float>, count: Int, qs: UnsafeMutablePointer<Int8>,
                                  d: UnsafeMutablePointer<Float>, s: UnsafeMutablePointer<Float>) {
        precondition(count % 32 == 0)
        for b in 0..<(count / 32) {
            var sum = 0
            d[b] = quantizeBlock(x + b * 32, qs + b * 32, sum: &sum)
            s[b] = d[b] * Float(sum)
        }
    }

    /// Quantizes `count` floats (a multiple of 32) to two-level q8 activation blocks, as `lt_quantize_q8x2`
    /// does: level 1 as `quantizeQ8`; the residual r = x - d * q1 (one fused multiply-add) is quantized the
    /// same way to qs2 / d2; s = d * sum(q1) + d2 * sum(q2), each product rounded before the sum.
    public static func quantizeQ8x2(_ x: UnsafePointer<Float>, count: Int, qs: UnsafeMutablePointer<Int8>,
                                    d: UnsafeMutablePointer<Float>, qs2: UnsafeMutablePointer<Int8>,
                                    d2: UnsafeMutablePointer<Float>, s: UnsafeMutablePointer<Float>) {
        precondition(count % 32 == 0)
        var r = [Float](repeating: 0, count: 32)
        for b in 0..<(count / 32) {
            var sum1 = 0, sum2 = 0
            d[b] = quantizeBlock(x + b * 32, qs + b * 32, sum: &sum1)
            for j in 0..<32 { r[j] = x[b * 32 + j].addingProduct(-d[b], Float(qs[b * 32 + j])) }
            d2[b] = quantizeBlock(r, qs2 + b * 32, sum: &sum2)
            s[b] = d[b] * Float(sum1) + d2[b] * Float(sum2)
        }
    }

    /// `lt_quantize_q8x2_mixed`'s twin: `quantizeQ8` everywhere with q2 = 0 and d2 = 0, then `quantizeQ8x2`
    /// of each block whose d[b] >= tau * sqrt(mean_b' d[b']^2) (the squares summed by fused multiply-adds in
    /// block order).
    public static func quantizeQ8x2Mixed(_ x: UnsafePointer<Float>, count: Int, qs: UnsafeMutablePointer<Int8>,
                                         d: UnsafeMutablePointer<Float>, qs2: UnsafeMutablePointer<Int8>,
                                         d2: UnsafeMutablePointer<Float>, s: UnsafeMutablePointer<Float>, tau: Float) {
        let nb = count / 32
        quantizeQ8(x, count: count, qs: qs, d: d, s: s)
        qs2.update(repeating: 0, count: count)
        d2.update(repeating: 0, count: nb)
        var squares: Float = 0
        for b in 0..<nb { squares = squares.addingProduct(d[b], d[b]) }
        let threshold = tau * (squares / Float(nb)).squareRoot()
        for b in 0..<nb where d[b] >= threshold {
            quantizeQ8x2(x + b * 32, count: 32, qs: qs + b * 32, d: d + b, qs2: qs2 + b * 32, d2: d2 + b, s: s + b)
        }
    }

    /// One block of 32 values -> q = round_half_even(x * (1 / d)); returns d = max|x| / 127.
    private static func quantizeBlock(_ x: UnsafePointer<Float>, _ q: UnsafeMutablePointer<Int8>, sum: inout Int) -> Float {
        var amax: Float = 0
        for j in 0..<32 { amax = max(amax, abs(x[j])) }
        let db = amax / 127
        let id: Float = db != 0 ? 1 / db : 0
        sum = 0
        for j in 0..<32 {
            let v = Int((x[j] * id).rounded(.toNearestOrEven))
            q[j] = Int8(v)
            sum += v
        }
        return db
    }

    /// Dot product of one quantized weight row with q8 activations, following the integer path of the fast
    /// kernels: per block an exact integer sum, then scale_w * d_x * isum (+ min_w * s_x for Q4_1).
    /// With `qs2` / `d2` (two-level activations) each block adds scale_w * d2_x * isum(w, q2).
    public static func dotQ8(_ dtype: DType, _ row: UnsafeRawPointer, cols: Int,
                             qs: UnsafePointer<Int8>, d: UnsafePointer<Float>, s: UnsafePointer<Float>,
                             qs2: UnsafePointer<Int8>? = nil, d2: UnsafePointer<Float>? = nil) -> Float {
        precondition(dtype.isQuantized && cols % dtype.blockSize == 0 && (qs2 == nil) == (d2 == nil))
        if dtype.isKQuant || dtype == .q5_0 || dtype == .q5_1 {
            return dotQ8New(dtype, row, cols: cols, qs: qs, d: d, s: s, qs2: qs2, d2: d2)
        }
        var acc: Float = 0
        for b in 0..<(cols / 32) {
            let block = row + b * dtype.blockBytes
            let scale = halfToFloat(block.loadUnaligned(as: UInt16.self))
            var isum = 0, isum2 = 0
            var offset: Float = 0
            for j in 0..<32 {
                let q: Int
                switch dtype {
                case .q8_0:
                    q = Int(Int8(bitPattern: block.load(fromByteOffset: 2 + j, as: UInt8.self)))
                case .q4_0:
                    let byte = block.load(fromByteOffset: 2 + j % 16, as: UInt8.self)
                    q = Int(j < 16 ? byte & 0x0F : byte >> 4) - 8
                default:
                    let byte = block.load(fromByteOffset: 4 + j % 16, as: UInt8.self)
                    q = Int(j < 16 ? byte & 0x0F : byte >> 4)
                }
                isum += q * Int(qs[b * 32 + j])
                if let qs2 { isum2 += q * Int(qs2[b * 32 + j]) }
            }
            if dtype == .q4_1 { offset = halfToFloat(block.loadUnaligned(fromByteOffset: 2, as: UInt16.self)) }
            var term = scale * d[b] * Float(isum)
            if let d2 { term += scale * d2[b] * Float(isum2) }
            acc += term + offset * s[b]
        }
        return acc
    }

    /// `dotQ8` for Q5_0 / Q5_1 and the K-quants, per 32-value activation block b (dx = d[b], level 2 alike):
    /// - Q5_0: d_w * dx * sum((q - 16) x);  Q5_1: d_w * dx * sum(q x) + m_w * s[b]
    /// - K-quants: d * dx * sum(sc * q * x) over the block's sub-blocks (exact integers), minus for
    ///   Q4_K / Q5_K dmin * m * s[b] (one min per 32 values, so the block's s serves) and for Q2_K
    ///   dmin * dx * sum(m * x) (mins per 16 values: integer activation sums per half block).
    static func dotQ8New(_ dtype: DType, _ row: UnsafeRawPointer, cols: Int,
                         qs: UnsafePointer<Int8>, d: UnsafePointer<Float>, s: UnsafePointer<Float>,
                         qs2: UnsafePointer<Int8>?, d2: UnsafePointer<Float>?) -> Float {
        var acc: Float = 0
        let levels: [(UnsafePointer<Int8>, UnsafePointer<Float>)] = [(qs, d)] + (qs2.map { [($0, d2!)] } ?? [])
        for b in 0..<(cols / 32) {
            let sb = b * 32 / dtype.blockSize
            let block = row + sb * dtype.blockBytes
            if dtype == .q5_0 || dtype == .q5_1 {
                let one = dtype == .q5_1
                let dw = halfToFloat(block.loadUnaligned(as: UInt16.self))
                let qh = block.loadUnaligned(fromByteOffset: one ? 4 : 2, as: UInt32.self)
                for (q, dx) in levels {
                    var isum = 0
                    for j in 0..<32 { isum += (Int(q5Value(block + (one ? 8 : 6), qh, j)) - (one ? 0 : 16)) * Int(q[b * 32 + j]) }
                    acc += dw * dx[b] * Float(isum)
                }
                if one { acc += halfToFloat(block.loadUnaligned(fromByteOffset: 2, as: UInt16.self)) * s[b] }
                continue
            }
            var dw: Float = 0, dmin: Float = 0, m32 = 0
            for (q, dx) in levels {
                var isum = 0, msum = 0
                for j in 0..<32 {
                    let p = kQuantParts(dtype, block, (b * 32) % 256 + j)
                    isum += p.sc * p.q * Int(q[b * 32 + j])
                    msum += p.m * Int(q[b * 32 + j])
                    (dw, dmin, m32) = (p.d, p.dmin, p.m)
                }
                acc += dw * dx[b] * Float(isum)
                if dtype == .q2_k { acc -= dmin * dx[b] * Float(msum) }
            }
            if dtype == .q4_k || dtype == .q5_k { acc -= dmin * Float(m32) * s[b] }
        }
        return acc
    }

    /// RMSNorm over each row: y = x / sqrt(mean(x^2) + eps) * weight. x, y: [tokens, n]; may alias.
    public static func rmsNorm(_ x: UnsafePointer<Float>, weight: UnsafePointer<Float>, tokens: Int, n: Int,
                               eps: Float, _ y: UnsafeMutablePointer<Float>) {
        for t in 0..<tokens {
            let xr = x + t * n, yr = y + t * n
            var ss: Float = 0
            for i in 0..<n { ss += xr[i] * xr[i] }
            let scale = 1 / (ss / Float(n) + eps).squareRoot()
            for i in 0..<n { yr[i] = xr[i] * scale * weight[i] }
        }
    }

    /// Index of the first strictly largest value; NaN never compares larger, and 0 when nothing is above -inf.
    public static func argmax(_ x: UnsafeBufferPointer<Float>) -> Int {
        var best = 0, top = -Float.infinity
        for (i, v) in x.enumerated() where v > top { best = i; top = v }
        return best
    }

    /// In-place SwiGLU: gate[i] = silu(gate[i]) * up[i].
    public static func swiglu(_ gate: UnsafeMutablePointer<Float>, _ up: UnsafePointer<Float>, count: Int) {
        for i in 0..<count {
            let g = gate[i]
            gate[i] = g / (1 + expf(-g)) * up[i]
        }
    }

    /// Numerically stable in-place softmax.
    public static func softmax(_ x: UnsafeMutablePointer<Float>, count: Int) {
        var m = -Float.infinity
        for i in 0..<count { m = max(m, x[i]) }
        var s: Float = 0
        for i in 0..<count { let e = expf(x[i] - m); x[i] = e; s += e }
        let inv = 1 / s
        for i in 0..<count { x[i] *= inv }
    }

    /// Twin of `Kernels.attendHead`.
    public static func attendHead(query q: UnsafePointer<Float>, keys: UnsafePointer<Float>, values: UnsafePointer<Float>,
                                  stride: Int, count: Int, headDim: Int, scale: Float,
                                  scores: UnsafeMutablePointer<Float>, into out: UnsafeMutablePointer<Float>) {
        for j in 0..<count { scores[j] = dot(q, keys + j * stride, count: headDim) * scale }
        softmax(scores, count: count)
        for d in 0..<headDim { out[d] = 0 }
        for j in 0..<count {
            for d in 0..<headDim { out[d] += scores[j] * values[j * stride + d] }
        }
    }

    /// Dot product of two float32 vectors.
    public static func dot(_ a: UnsafePointer<Float>, _ b: UnsafePointer<Float>, count: Int) -> Float {
        var s: Float = 0
        for i in 0..<count { s += a[i] * b[i] }
        return s
    }
}
