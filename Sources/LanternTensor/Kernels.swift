import Foundation
import CKernels

extension DType {
    /// The element-type code the C kernels use.
    var kernelCode: Int32 {
        switch self {
        case .f32: return Int32(LT_F32)
        case .f16: return Int32(LT_F16)
        case .bf16: return Int32(LT_BF16)
        case .q8_0: return Int32(LT_Q8_0)
        case .q4_0: return Int32(LT_Q4_0)
        case .q4_1: return Int32(LT_Q4_1)
        case .q5_0: return Int32(LT_Q5_0)
        case .q5_1: return Int32(LT_Q5_1)
        case .q2_k: return Int32(LT_Q2_K)
        case .q3_k: return Int32(LT_Q3_K)
        case .q4_k: return Int32(LT_Q4_K)
        case .q5_k: return Int32(LT_Q5_K)
        case .q6_k: return Int32(LT_Q6_K)
        }
    }
}

/// The compute entry points used by models. Each dispatches to the fastest implementation for this CPU
/// (C kernels in `CKernels`); `Reference` holds the plain-Swift twin each one is tested against.
///
/// Pointer conventions: activations are row-major float32, `[tokens, features]`.
public enum Kernels {
    /// Rows per register tile in the C matmul kernels; threads get whole tiles.
    static let rowTile = 4

    /// Expands `count` values of `dtype` to float32.
    public static func dequantize(_ dtype: DType, _ src: UnsafeRawPointer, count: Int, into dst: UnsafeMutablePointer<Float>) {
        precondition(count % dtype.blockSize == 0)
        lt_dequantize(dtype.kernelCode, src, Int64(count), dst)
    }

    /// How `matmul` rounds activations before integer dot products with quantized weights.
    public enum ActivationPrecision: Int, Sendable, CaseIterable {
        /// One int8 level per 32-value block, x ~= d * q with d = max|x| / 127 (llama.cpp's q8 activations).
        /// Each value moves by at most max|x over its block| / 254.
        case int8 = 1
        /// Two int8 levels: the residual r = x - d * q is quantized again with d2 = max|r| / 127, so
        /// x ~= d * q + d2 * q2 and each value moves by at most max|r| / 254 <= max|x| / 254^2, about 250x
        /// less (and in practice ~100x lower logit error). Same weight traffic as `.int8`; twice the integer
        /// work, which only prefill (compute-bound) feels.
        case int8x2 = 2
        /// `.int8x2` in outlier blocks only: the second level is kept where a block's scale stands out of its
        /// row (d >= `mixedThreshold` x the row's root-mean-square block scale) and is zero elsewhere; the
        /// kernels skip its dots for a token tile where it is zero for every token. Each token's rounding
        /// depends on that token alone, so results do not depend on the batch.
        /// Activations with a few large channels (the normed residual stream, the SwiGLU product) carry most of
        /// their rounding error in those blocks, so this keeps most of `.int8x2`'s accuracy gain over `.int8`
        /// for a fraction of its extra integer work in prefill (SmolLM2: prefill ~85% of `.int8`'s and ~1.3x
        /// `.int8x2`'s, mean KL 3-8x below `.int8`'s).
        case mixed = 3

        /// Activation levels stored per value: 1 for `.int8`, 2 otherwise.
        public var levels: Int { self == .int8 ? 1 : 2 }
    }

    /// `.mixed`: a block keeps its second level when its scale is at least this many times the row's
    /// root-mean-square block scale. At 1.5 SmolLM2's matmuls keep ~10% of a token's blocks, ~30% of the
    /// blocks of an 8-token tile need the second level's dots for some token, and the mean KL of the reference
    /// sequences is 3-8x below `.int8`'s (at 1: 5-8x, prefill ~10% slower; at 2: 1.2-3.6x).
    public static let mixedThreshold: Float = 1.5

    /// Process-wide default for `matmul`'s `precision`. Starts as `.int8x2`, or `.int8` / `.mixed` when the
    /// environment variable `LANTERN_ACTIVATION_PRECISION` is `int8` / `mixed` (other values are ignored). May be set from any
    /// thread; a matmul that has started keeps the precision it read.
    public static var activationPrecision: ActivationPrecision {
        get { ActivationPrecision(rawValue: Int(lt_atomic_load_acquire(precisionWord))) ?? .int8x2 }
        set { lt_atomic_store(precisionWord, Int64(newValue.rawValue)) }
    }

    /// Storage of `activationPrecision`, read and written with C atomics (one word, never freed).
    nonisolated(unsafe) private static let precisionWord: UnsafeMutablePointer<Int64> = {
        let word = UnsafeMutablePointer<Int64>.allocate(capacity: 1)
        let fromEnvironment = ProcessInfo.processInfo.environment["LANTERN_ACTIVATION_PRECISION"]
        let initial: ActivationPrecision = fromEnvironment == "int8" ? .int8 : (fromEnvironment == "mixed" ? .mixed : .int8x2)
        word.initialize(to: Int64(initial.rawValue))
        return word
    }()

    /// y[t, r] = sum_k W[r, k] * x[t, k] for t in 0..<tokens, r in 0..<w.rows.
    /// x: [tokens, w.cols], y: [tokens, w.rows]; y must not alias x.
    /// Uses the calling thread's `MatmulWorkspace.current` for scratch and `activationPrecision`.
    public static func matmul(_ w: WeightMatrix, _ x: UnsafePointer<Float>, tokens: Int,
                              _ y: UnsafeMutablePointer<Float>, pool: ThreadPool) {
        matmul(w, x, tokens: tokens, y, pool: pool, workspace: .current, precision: activationPrecision)
    }

    /// `matmul` with explicit scratch memory and activation precision.
    ///
    /// Quantized weights: each activation row is quantized once to q8 blocks (32 values), then integer
    /// block dot products run against the weight blocks as stored. This differs from the exact float
    /// result by the activation rounding only. Per block b let e_b bound how far a value moves:
    /// `.int8`: e_b = max_b|x| / 254; `.int8x2`: e_b = max_b|r| / 254 <= max_b|x| / 254^2 (r the level-1
    /// residual). Then |error| <= sum_b e_b * sum_{k in b} |W[r,k]| plus float rounding (the residual's own
    /// fused rounding, 2^-24 |r|, included). For `.int8` that is typically ~1e-2 * sum_k |W[r,k] x[t,k]|;
    /// for `.int8x2` ~1e-4. Float weights ignore `precision` and are exact up to float rounding.
    /// Rows are split across the pool in tiles of 4; within a thread each 4-row weight tile is unpacked
    /// once per 4 tokens (prefill reads each weight block once per token tile, not per token), and with
    /// `.int8x2` once for both levels.
    public static func matmul(_ w: WeightMatrix, _ x: UnsafePointer<Float>, tokens: Int,
                              _ y: UnsafeMutablePointer<Float>, pool: ThreadPool, workspace: MatmulWorkspace,
                              precision: ActivationPrecision = activationPrecision) {
        precondition(tokens >= 0)
        guard tokens > 0, w.rows > 0 else { return }
        var args = MatmulArguments(w, x: x, y: y, tokens: tokens)
        if w.dtype.isQuantized { quantize(&args, workspace: workspace, precision: precision, pool: pool) }
        withUnsafeMutablePointer(to: &args) { args in
            pool.parallelFor(units(args.pointee), context: args, args.pointee.packed != nil ? packedMatmulChunk : matmulChunk)
        }
    }

    /// Two or three matmuls of one input (q, k and v; gate and up): y_i[t, r] = sum_k W_i[r, k] * x[t, k].
    /// With quantized weights of one width the activations are quantized once and one parallel pass covers
    /// every matrix's rows (one wait instead of three, and two quantizations fewer); each y_i is then
    /// bit for bit what `matmul` of W_i alone gives. Otherwise the matmuls run one after another.
    public static func matmul(_ w0: WeightMatrix, _ y0: UnsafeMutablePointer<Float>, _ w1: WeightMatrix,
                              _ y1: UnsafeMutablePointer<Float>, _ w2: WeightMatrix?, _ y2: UnsafeMutablePointer<Float>?,
                              x: UnsafePointer<Float>, tokens: Int, pool: ThreadPool, workspace: MatmulWorkspace,
                              precision: ActivationPrecision = activationPrecision) {
        precondition(tokens >= 0 && (w2 == nil) == (y2 == nil))
        let shared = w0.dtype.isQuantized && w1.dtype.isQuantized && w1.cols == w0.cols
            && (w2.map { $0.dtype.isQuantized && $0.cols == w0.cols } ?? true)
        guard shared, tokens > 0 else {
            matmul(w0, x, tokens: tokens, y0, pool: pool, workspace: workspace, precision: precision)
            matmul(w1, x, tokens: tokens, y1, pool: pool, workspace: workspace, precision: precision)
            if let w2, let y2 { matmul(w2, x, tokens: tokens, y2, pool: pool, workspace: workspace, precision: precision) }
            return
        }
        withUnsafeTemporaryAllocation(of: MatmulArguments.self, capacity: 3) { buffer in
            let m = buffer.baseAddress!
            var first = MatmulArguments(w0, x: x, y: y0, tokens: tokens)
            quantize(&first, workspace: workspace, precision: precision, pool: pool)
            m.initialize(to: first)
            (m + 1).initialize(to: MatmulArguments(w1, x: x, y: y1, tokens: tokens))
            (m + 1).pointee.act = first.act
            let count = w2 == nil ? 2 : 3
            if let w2, let y2 {
                (m + 2).initialize(to: MatmulArguments(w2, x: x, y: y2, tokens: tokens))
                (m + 2).pointee.act = first.act
            }
            var job = SharedMatmulArguments(args: m, count: count, end0: units(m[0]), end1: units(m[0]) + units(m[1]),
                                            end2: units(m[0]) + units(m[1]) + (count == 3 ? units(m[2]) : 0))
            withUnsafeMutablePointer(to: &job) { pool.parallelFor($0.pointee.end2, context: $0, sharedMatmulChunk) }
            m.deinitialize(count: count)
        }
    }

    /// Quantizes the activations of `args` into the workspace (one or two levels): on the pool when the
    /// rows are many, on the caller when they are a decode step's few (a pool wait costs more there).
    private static func quantize(_ args: inout MatmulArguments, workspace: MatmulWorkspace, precision: ActivationPrecision,
                                 pool: ThreadPool) {
        args.act = workspace.q8Activations(tokens: args.tokens, cols: args.cols, levels: precision.levels)
        let tokens = args.tokens, values = args.tokens * args.cols
        withUnsafeMutablePointer(to: &args) { args in
            let chunk = precision == .mixed ? quantizeMixedChunk : quantizeChunk
            if tokens >= 4 && values >= 16_384 {
                pool.parallelFor(tokens, context: args, chunk)
            } else {
                chunk(args, 0, tokens)
            }
        }
    }

    /// Units of work of one matmul: packed row groups, or 4-row tiles.
    @inline(__always) private static func units(_ a: MatmulArguments) -> Int {
        a.packed != nil ? a.rows / packedRows : (a.rows + rowTile - 1) / rowTile
    }

    /// Matmuls sharing quantized activations: units 0..<end0 are the first matrix's, end0..<end1 the
    /// second's, end1..<end2 the third's.
    private struct SharedMatmulArguments {
        let args: UnsafeMutablePointer<MatmulArguments>
        let count: Int
        let end0: Int, end1: Int, end2: Int
    }

    private static let sharedMatmulChunk: ThreadPool.ChunkFunction = { context, lo, hi in
        let job = context!.assumingMemoryBound(to: SharedMatmulArguments.self).pointee
        var start = 0
        for i in 0..<job.count {
            let end = i == 0 ? job.end0 : (i == 1 ? job.end1 : job.end2)
            let l = max(lo, start), h = min(hi, end)
            if l < h {
                let a = job.args + i
                (a.pointee.packed != nil ? packedMatmulChunk : matmulChunk)(UnsafeMutableRawPointer(a), l - start, h - start)
            }
            start = end
        }
    }

    /// Arguments of one matmul, on the caller's stack, for the pool's allocation-free chunk functions.
    /// Only plain values and pointers: copying it in every worker takes no reference count (a shared
    /// `owner` retained and released by both threads per chunk made their cores fight over one cache line).
    private struct MatmulArguments {
        let dtype: Int32
        let rows: Int, cols: Int
        let data: UnsafeRawPointer    // row 0 of the weights
        let rowBytes: Int
        let packed: UnsafeRawPointer?  // the row-interleaved copy, when the matrix has one
        let x: UnsafePointer<Float>    // [tokens, w.cols]
        let y: UnsafeMutablePointer<Float>    // [tokens, w.rows]
        let tokens: Int
        var act: Q8Activations?    // q8 blocks of x, for quantized weights

        init(_ w: WeightMatrix, x: UnsafePointer<Float>, y: UnsafeMutablePointer<Float>, tokens: Int) {
            dtype = w.dtype.kernelCode
            rows = w.rows
            cols = w.cols
            data = w.data
            rowBytes = w.rowBytes
            packed = w.packed.map { UnsafeRawPointer($0.pointer) }
            self.x = x
            self.y = y
            self.tokens = tokens
            act = nil
        }
    }

    /// Quantizes activation rows lo..<hi of a matmul (one or two levels).
    private static let quantizeChunk: ThreadPool.ChunkFunction = { context, lo, hi in
        let a = context!.assumingMemoryBound(to: MatmulArguments.self).pointee
        let act = a.act!, cols = a.cols, nb = act.blocksPerRow
        for t in lo..<hi {
            if let qs2 = act.qs2, let d2 = act.d2 {
                lt_quantize_q8x2(a.x + t * cols, Int64(cols), act.qs + t * cols, act.d + t * nb,
                                 qs2 + t * cols, d2 + t * nb, act.s + t * nb)
            } else {
                lt_quantize_q8(a.x + t * cols, Int64(cols), act.qs + t * cols, act.d + t * nb, act.s + t * nb)
            }
        }
    }

    /// `.mixed` activations of rows lo..<hi of a matmul.
    private static let quantizeMixedChunk: ThreadPool.ChunkFunction = { context, lo, hi in
        let a = context!.assumingMemoryBound(to: MatmulArguments.self).pointee
        let act = a.act!, cols = a.cols, nb = act.blocksPerRow
        guard let qs2 = act.qs2, let d2 = act.d2 else { return }
        for t in lo..<hi {
            lt_quantize_q8x2_mixed(a.x + t * cols, Int64(cols), act.qs + t * cols, act.d + t * nb,
                                   qs2 + t * cols, d2 + t * nb, act.s + t * nb, mixedThreshold)
        }
    }

    /// Output rows of row tiles lo..<hi of a matmul, for all tokens.
    private static let matmulChunk: ThreadPool.ChunkFunction = { context, lo, hi in
        let a = context!.assumingMemoryBound(to: MatmulArguments.self).pointee
        let r0 = lo * rowTile, r1 = min(a.rows, hi * rowTile)
        let cols = a.cols, nb = cols / 32, rows = a.rows
        let w0 = a.data + r0 * a.rowBytes
        // Tokens in blocks whose activations stay in L2 (~192 KiB) while the thread's weight rows stream
        // past them once per block; without it every 4-row weight tile re-read all activation rows from
        // L3 or memory (a 1,000-token encoder batch). Each output is computed exactly as before.
        let block = tokenBlock(cols: cols, bytesPerValue: a.act == nil ? 4 : (a.act!.qs2 == nil ? 1 : 2))
        var t0 = 0
        while t0 < a.tokens {
            let nt = Int64(min(block, a.tokens - t0))
            let y = a.y + t0 * rows + r0
            if let act = a.act {
                if let qs2 = act.qs2, let d2 = act.d2 {
                    lt_qgemm_x2(a.dtype, Int64(cols), w0, Int64(a.rowBytes), Int64(r1 - r0),
                                act.qs + t0 * cols, act.d + t0 * nb, qs2 + t0 * cols, d2 + t0 * nb, act.s + t0 * nb,
                                nt, y, Int64(rows))
                } else {
                    lt_qgemm(a.dtype, Int64(cols), w0, Int64(a.rowBytes), Int64(r1 - r0),
                             act.qs + t0 * cols, act.d + t0 * nb, act.s + t0 * nb, nt, y, Int64(rows))
                }
            } else {
                lt_fgemm(a.dtype, Int64(cols), w0, Int64(a.rowBytes), Int64(r1 - r0),
                         a.x + t0 * cols, nt, y, Int64(rows))
            }
            t0 += Int(nt)
        }
    }

    /// Rows per group of the row-interleaved layout (`lt_pack_r16`).
    static let packedRows = 16

    /// Output rows of packed row groups lo..<hi, for all tokens (the groups' bytes are contiguous).
    private static let packedMatmulChunk: ThreadPool.ChunkFunction = { context, lo, hi in
        let a = context!.assumingMemoryBound(to: MatmulArguments.self).pointee
        let act = a.act!, cols = a.cols, nb = cols / 32, rows = a.rows
        let groupBytes = Int(lt_pack_r16_bytes(a.dtype, Int64(cols), Int64(packedRows)))
        let w0 = a.packed! + lo * groupBytes
        let nrows = Int64((hi - lo) * packedRows)
        let block = tokenBlock(cols: cols, bytesPerValue: act.qs2 == nil ? 1 : 2)
        var t0 = 0
        while t0 < a.tokens {
            let nt = min(block, a.tokens - t0)
            lt_qgemm_r16(a.dtype, Int64(cols), w0, nrows, act.qs + t0 * cols, act.d + t0 * nb,
                         act.qs2.map { $0 + t0 * cols }, act.d2.map { $0 + t0 * nb }, act.s + t0 * nb,
                         Int64(nt), a.y + t0 * rows + lo * packedRows, Int64(rows))
            t0 += nt
        }
    }

    /// Tokens per block of a matmul: a multiple of 4 (the kernels' token tile) whose activation rows fill
    /// about 192 KiB, at least 4.
    @inline(__always)
    static func tokenBlock(cols: Int, bytesPerValue: Int) -> Int {
        max(4, (196_608 / max(1, cols * bytesPerValue)) & ~3)
    }

    /// RMSNorm over each row: y = x / sqrt(mean(x^2) + eps) * weight. x, y: [tokens, n]; may alias.
    public static func rmsNorm(_ x: UnsafePointer<Float>, weight: UnsafePointer<Float>, tokens: Int, n: Int,
                               eps: Float, _ y: UnsafeMutablePointer<Float>) {
        for t in 0..<tokens {
            let xr = x + t * n, yr = y + t * n
            let scale = 1 / (lt_sumsq_f32(xr, Int64(n)) / Float(n) + eps).squareRoot()
            for i in 0..<n { yr[i] = xr[i] * scale * weight[i] }
        }
    }

    /// Index of the first largest value (NaNs skipped; 0 when nothing is above -infinity): greedy decoding.
    public static func argmax(_ x: UnsafeBufferPointer<Float>) -> Int {
        guard let base = x.baseAddress else { return 0 }
        return Int(lt_argmax_f32(base, Int64(x.count)))
    }

    /// In-place SwiGLU: gate[i] = silu(gate[i]) * up[i] for `count` values.
    public static func swiglu(_ gate: UnsafeMutablePointer<Float>, _ up: UnsafePointer<Float>, count: Int) {
        lt_swiglu_f32(gate, up, Int64(count))
    }

    /// y += x for `count` values.
    public static func add(_ y: UnsafeMutablePointer<Float>, _ x: UnsafePointer<Float>, count: Int) {
        lt_axpy_f32(1, x, y, Int64(count))
    }

    /// y += a * x for `count` values (e.g. accumulating attention-weighted value rows).
    public static func axpy(_ a: Float, _ x: UnsafePointer<Float>, _ y: UnsafeMutablePointer<Float>, count: Int) {
        lt_axpy_f32(a, x, y, Int64(count))
    }

    /// Numerically stable in-place softmax over `count` values; -infinity (masked) entries become 0.
    public static func softmax(_ x: UnsafeMutablePointer<Float>, count: Int) {
        lt_softmax_f32(x, Int64(count))
    }

    /// One attention head over `count` cached positions (causal masking is the caller's choice of `count`):
    /// scores[j] = scale * q . key_j, p = softmax(scores), out = sum_j p[j] * value_j.
    /// Key and value j start at `keys + j * stride` / `values + j * stride` and hold `headDim` floats.
    /// q, out: [headDim]; scores: caller scratch of `count` floats, holding p afterwards.
    public static func attendHead(query q: UnsafePointer<Float>, keys: UnsafePointer<Float>, values: UnsafePointer<Float>,
                                  stride: Int, count: Int, headDim: Int, scale: Float,
                                  scores: UnsafeMutablePointer<Float>, into out: UnsafeMutablePointer<Float>) {
        lt_attend_f32(q, keys, values, Int64(stride), Int64(count), Int64(headDim), scale, scores, out)
    }

    /// Dot product of two float32 vectors.
    @inline(__always)
    public static func dot(_ a: UnsafePointer<Float>, _ b: UnsafePointer<Float>, count: Int) -> Float {
        lt_dot_f32(a, b, Int64(count))
    }
}
