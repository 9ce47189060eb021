import Foundation

/// The compute entry points used by models. Each dispatches to the fastest available implementation;
/// `Reference` holds the plain-Swift twin each one is tested against.
///
/// Pointer conventions: activations are row-major float32, `[tokens, features]`.
public enum Kernels {
    /// Expands `count` values of `dtype` to float32.
    public static func dequantize(_ dtype: DType, _ src: UnsafeRawPointer, count: Int, into dst: UnsafeMutablePointer<Float>) {
        Reference.dequantize(dtype, src, count: count, into: dst)
    }

    /// y[t, r] = sum_k W[r, k] * x[t, k] for t in 0..<tokens, r in 0..<w.rows.
    /// x: [tokens, w.cols], y: [tokens, w.rows].
    public static func matmul(_ w: WeightMatrix, _ x: UnsafePointer<Float>, tokens: Int,
                              _ y: UnsafeMutablePointer<Float>, pool: ThreadPool) {
        pool.parallelFor(w.rows) { rows in
            let tmp = UnsafeMutablePointer<Float>.allocate(capacity: w.cols)
            defer { tmp.deallocate() }
            for r in rows {
                w.dequantizeRow(r, into: tmp)
                for t in 0..<tokens {
                    let xt = x + t * w.cols
                    var s: Float = 0
                    for k in 0..<w.cols { s += tmp[k] * xt[k] }
                    y[t * w.rows + r] = s
                }
            }
        }
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

    /// In-place SwiGLU: gate[i] = silu(gate[i]) * up[i] for `count` values.
    public static func swiglu(_ gate: UnsafeMutablePointer<Float>, _ up: UnsafePointer<Float>, count: Int) {
        for i in 0..<count {
            let g = gate[i]
            gate[i] = g / (1 + expf(-g)) * up[i]
        }
    }

    /// y += x for `count` values.
    public static func add(_ y: UnsafeMutablePointer<Float>, _ x: UnsafePointer<Float>, count: Int) {
        for i in 0..<count { y[i] += x[i] }
    }

    /// Numerically stable in-place softmax over `count` values.
    public static func softmax(_ x: UnsafeMutablePointer<Float>, count: Int) {
        var m = -Float.infinity
        for i in 0..<count { m = max(m, x[i]) }
        var s: Float = 0
        for i in 0..<count { let e = expf(x[i] - m); x[i] = e; s += e }
        let inv = 1 / s
        for i in 0..<count { x[i] *= inv }
    }

    /// Dot product of two float32 vectors.
    @inline(__always)
    public static func dot(_ a: UnsafePointer<Float>, _ b: UnsafePointer<Float>, count: Int) -> Float {
        var s: Float = 0
        for i in 0..<count { s += a[i] * b[i] }
        return s
    }
}
