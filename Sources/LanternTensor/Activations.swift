import Foundation
import CKernels

/// Element-wise activation functions of feed-forward layers.
public enum Activation: String, Sendable, CaseIterable {
    /// x * sigmoid(x) (LLaMA, Marian's "swish").
    case silu
    /// Exact GELU, x * Phi(x) with the error function (BERT, BART).
    case gelu
    /// GELU's tanh approximation (GPT-2 "gelu_new", BLOOM, T5 v1.1 "gelu_new", Gemma).
    case geluTanh
    /// max(0, x) (T5 v1.0).
    case relu

    /// Hugging Face `hidden_act` / `activation_function` / `feed_forward_proj` names.
    public init?(huggingFace name: String) {
        switch name {
        case "silu", "swish": self = .silu
        case "gelu", "gelu_python": self = .gelu
        case "gelu_new", "gelu_pytorch_tanh", "gelu_fast", "gelu_tanh": self = .geluTanh
        case "relu": self = .relu
        default: return nil
        }
    }

    @inline(__always)
    public func callAsFunction(_ x: Float) -> Float {
        switch self {
        case .silu: return x / (1 + Foundation.exp(-x))
        case .gelu: return 0.5 * x * (1 + Foundation.erf(x * 0.70710678118654752))
        case .geluTanh:
            return 0.5 * x * (1 + Foundation.tanh(0.79788456080286536 * (x + 0.044715 * x * x * x)))
        case .relu: return x > 0 ? x : 0
        }
    }
}

extension Kernels {
    /// In place: x[i] = act(x[i]) for `count` values.
    /// Exact GELU uses the SIMD kernel (`lt_gelu_f32`, within 2e-7 * max(1, |x|) of the definition), the
    /// tanh GELU `lt_gelu_tanh_f32`; the others the scalar definitions.
    public static func activate(_ act: Activation, _ x: UnsafeMutablePointer<Float>, count: Int) {
        if act == .gelu { lt_gelu_f32(x, Int64(count)); return }
        if act == .geluTanh { lt_gelu_tanh_f32(x, nil, Int64(count)); return }
        for i in 0..<count { x[i] = act(x[i]) }
    }

    /// In place: gate[i] = act(gate[i]) * up[i] (SwiGLU for silu, GeGLU for the GELUs). SiLU and the tanh
    /// GELU use SIMD kernels, the others the scalar definitions.
    public static func gated(_ act: Activation, _ gate: UnsafeMutablePointer<Float>, _ up: UnsafePointer<Float>, count: Int) {
        if act == .silu { swiglu(gate, up, count: count); return }
        if act == .geluTanh { lt_gelu_tanh_f32(gate, up, Int64(count)); return }
        for i in 0..<count { gate[i] = act(gate[i]) * up[i] }
    }

    /// LayerNorm over each row: y = (x - mean) / sqrt(var + eps) * weight (+ bias), biased variance as
    /// PyTorch computes it. x, y: [tokens, n]; may alias.
    public static func layerNorm(_ x: UnsafePointer<Float>, weight: UnsafePointer<Float>, bias: UnsafePointer<Float>?,
                                 tokens: Int, n: Int, eps: Float, _ y: UnsafeMutablePointer<Float>) {
        for t in 0..<tokens {
            let xr = x + t * n, yr = y + t * n
            var sum: Float = 0
            for i in 0..<n { sum += xr[i] }
            let mean = sum / Float(n)
            var sq: Float = 0
            for i in 0..<n { let d = xr[i] - mean; sq += d * d }
            let inv = 1 / (sq / Float(n) + eps).squareRoot()
            if let bias {
                for i in 0..<n { yr[i] = (xr[i] - mean) * inv * weight[i] + bias[i] }
            } else {
                for i in 0..<n { yr[i] = (xr[i] - mean) * inv * weight[i] }
            }
        }
    }

    /// One attention head over keys `first..<count` that may sit in a paged cache, with an additive bias
    /// (see `lt_attend_ext_f32`): key j is row `table[j / block] * block + j % block` (row j without a
    /// table) of `keys`/`values`, rows `stride` floats apart; score j = scale * q.k_j + slope * j + bias[j].
    /// `first` > 0 is a sliding window: earlier keys are not read. q, out: [headDim]; scores: caller
    /// scratch of `count - first` floats, holding the probabilities afterwards.
    @inline(__always)
    public static func attend(query q: UnsafePointer<Float>, keys: UnsafePointer<Float>, values: UnsafePointer<Float>,
                              table: UnsafePointer<Int32>?, block: Int, stride: Int, first: Int = 0, count: Int,
                              headDim: Int, scale: Float, slope: Float, bias: UnsafePointer<Float>?,
                              scores: UnsafeMutablePointer<Float>, into out: UnsafeMutablePointer<Float>) {
        precondition(first >= 0 && first < max(count, 1), "attention window start \(first) outside 0..<\(count)")
        lt_attend_ext_f32(q, keys, values, table, Int64(block), Int64(stride), Int64(first), Int64(count), Int64(headDim),
                          scale, slope, bias, scores, out)
    }
}

extension Reference {
    /// Plain twin of `Kernels.attend`, in double precision for the softmax: keys first..<count (a
    /// sliding window starts after 0); the others get no weight.
    public static func attend(query q: UnsafePointer<Float>, keys: UnsafePointer<Float>, values: UnsafePointer<Float>,
                              table: UnsafePointer<Int32>?, block: Int, stride: Int, first: Int = 0, count: Int,
                              headDim: Int, scale: Float, slope: Float, bias: UnsafePointer<Float>?,
                              into out: UnsafeMutablePointer<Float>) {
        func row(_ j: Int) -> Int { table.map { Int($0[j / block]) * block + j % block } ?? j }
        var s = [Double](repeating: -Double.infinity, count: count)
        for j in first..<count {
            var d: Double = 0
            for i in 0..<headDim { d += Double(q[i]) * Double(keys[row(j) * stride + i]) }
            s[j] = d * Double(scale) + Double(slope) * Double(j) + Double(bias?[j] ?? 0)
        }
        let m = s.max() ?? 0
        var total: Double = 0
        for j in first..<count { s[j] = exp(s[j] - m); total += s[j] }
        for i in 0..<headDim {
            var acc: Double = 0
            for j in first..<count { acc += s[j] / total * Double(values[row(j) * stride + i]) }
            out[i] = Float(acc)
        }
    }

    /// Plain twin of `Kernels.layerNorm`, accumulating in double.
    public static func layerNorm(_ x: UnsafePointer<Float>, weight: UnsafePointer<Float>, bias: UnsafePointer<Float>?,
                                 tokens: Int, n: Int, eps: Float, _ y: UnsafeMutablePointer<Float>) {
        for t in 0..<tokens {
            let xr = x + t * n
            let mean = (0..<n).reduce(0.0) { $0 + Double(xr[$1]) } / Double(n)
            let variance = (0..<n).reduce(0.0) { $0 + (Double(xr[$1]) - mean) * (Double(xr[$1]) - mean) } / Double(n)
            let inv = 1 / (variance + Double(eps)).squareRoot()
            for i in 0..<n {
                y[t * n + i] = Float((Double(xr[i]) - mean) * inv * Double(weight[i]) + Double(bias?[i] ?? 0))
            }
        }
    }
}

/// How a KV cache stores keys and values (`lt_attend_kv`): f16 by default, as llama.cpp's cache;
/// f32 exactly; q8_0 in blocks of 32 values with one f16 scale (hd % 32 == 0), a quarter of f32.
public enum KVType: String, Sendable, CaseIterable, Codable {
    case f16, f32, q8_0

    /// The kernels' LT_KV_* code.
    public var code: Int32 {
        switch self {
        case .f32: Int32(LT_KV_F32)
        case .f16: Int32(LT_KV_F16)
        case .q8_0: Int32(LT_KV_Q8_0)
        }
    }

    /// Bytes of `values` values (a multiple of 32 for q8_0).
    public func bytes(values: Int) -> Int {
        switch self {
        case .f32: values * 4
        case .f16: values * 2
        case .q8_0: values / 32 * 34
        }
    }

    /// The default for weights of `dtype`: f16 when they are quantized (the cache's rounding is far below
    /// the weights', as in llama.cpp), f32 when they are float (the cache then adds no error to a
    /// float checkpoint, as in transformers).
    public static func following(_ dtype: DType) -> KVType { dtype.isQuantized ? .f16 : .f32 }

    /// Why a head of `headDim` values cannot be stored this way, or nil when it can.
    public func unsupported(headDim: Int) -> String? {
        if self == .q8_0 && headDim % 32 != 0 { return "a q8_0 KV cache needs a head size that is a multiple of 32, found \(headDim)" }
        if self != .f32 && headDim > 1024 { return "a \(rawValue) KV cache holds heads of at most 1024 values, found \(headDim)" }
        return nil
    }
}

extension Kernels {
    /// Stores `count` floats (a multiple of 32 for q8_0) as `type` at `dst`.
    @inline(__always)
    public static func storeKV(_ type: KVType, _ src: UnsafePointer<Float>, count: Int, into dst: UnsafeMutableRawPointer) {
        lt_kv_store(type.code, src, Int64(count), dst)
    }

    /// `attend` over keys and values stored as `type`: `keys`/`values` point at this head's first value of
    /// row 0 and rows are `strideBytes` apart (see `lt_attend_kv`).
    @inline(__always)
    public static func attend(_ type: KVType, query q: UnsafePointer<Float>, keys: UnsafeRawPointer, values: UnsafeRawPointer,
                              table: UnsafePointer<Int32>?, block: Int, strideBytes: Int, first: Int = 0, count: Int,
                              headDim: Int, scale: Float, slope: Float, bias: UnsafePointer<Float>?,
                              scores: UnsafeMutablePointer<Float>, into out: UnsafeMutablePointer<Float>) {
        precondition(first >= 0 && first < max(count, 1), "attention window start \(first) outside 0..<\(count)")
        lt_attend_kv(type.code, q, keys, values, table, Int64(block), Int64(strideBytes), Int64(first), Int64(count),
                     Int64(headDim), scale, slope, bias, scores, out)
    }

    /// `attend` that also returns the log-sum-exp of the scores (`lt_attend_kv_lse`), so outputs over
    /// disjoint key ranges can be merged with `mergeAttention`.
    @inline(__always)
    public static func attendPart(_ type: KVType, query q: UnsafePointer<Float>, keys: UnsafeRawPointer, values: UnsafeRawPointer,
                                  table: UnsafePointer<Int32>?, block: Int, strideBytes: Int, first: Int, count: Int,
                                  headDim: Int, scale: Float, slope: Float, bias: UnsafePointer<Float>?,
                                  scores: UnsafeMutablePointer<Float>, into out: UnsafeMutablePointer<Float>) -> Float {
        precondition(first >= 0 && first < count, "attention keys \(first)..<\(count) empty")
        var lse: Float = 0
        lt_attend_kv_lse(type.code, q, keys, values, table, Int64(block), Int64(strideBytes), Int64(first), Int64(count),
                         Int64(headDim), scale, slope, bias, scores, out, &lse)
        return lse
    }

    /// `rows` queries (`queryStride` floats apart) of one head over keys first..<counts[r] each, no bias
    /// (`lt_attend_kv_rows`): row r's results equal `attendPart` of that row alone, bit for bit.
    @inline(__always)
    public static func attendRows(_ type: KVType, rows: Int, query q: UnsafePointer<Float>, queryStride: Int,
                                  keys: UnsafeRawPointer, values: UnsafeRawPointer, table: UnsafePointer<Int32>?,
                                  block: Int, strideBytes: Int, first: Int, counts: UnsafePointer<Int64>, headDim: Int,
                                  scale: Float, slope: Float, scores: UnsafeMutablePointer<Float>, scoreStride: Int,
                                  into out: UnsafeMutablePointer<Float>, outStride: Int, lse: UnsafeMutablePointer<Float>) {
        lt_attend_kv_rows(type.code, Int64(rows), q, Int64(queryStride), keys, values, table, Int64(block),
                          Int64(strideBytes), Int64(first), counts, Int64(headDim), scale, slope, scores,
                          Int64(scoreStride), out, Int64(outStride), lse)
    }

    /// Prefetch hint for the key and value rows of positions first..<count of one head (`lt_attend_prefetch`).
    @inline(__always)
    public static func prefetchAttention(_ type: KVType, keys: UnsafeRawPointer, values: UnsafeRawPointer,
                                         table: UnsafePointer<Int32>?, block: Int, strideBytes: Int, first: Int,
                                         count: Int, headDim: Int) {
        lt_attend_prefetch(type.code, keys, values, table, Int64(block), Int64(strideBytes), Int64(first), Int64(count),
                           Int64(headDim))
    }

    /// Merges `parts` outputs of one query over disjoint key ranges (`lt_attend_merge`); `weights`, when
    /// given, receives each part's share.
    @inline(__always)
    public static func mergeAttention(parts: Int, outputs: UnsafePointer<Float>, stride: Int, lse: UnsafePointer<Float>,
                                      headDim: Int, into out: UnsafeMutablePointer<Float>,
                                      weights: UnsafeMutablePointer<Float>? = nil) {
        _ = lt_attend_merge(Int64(parts), outputs, Int64(stride), lse, Int64(headDim), out, weights)
    }
}
