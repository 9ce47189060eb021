import LanternTensor

/// Which keys a query row sees.
public enum AttentionMask: Sendable, Equatable {
    /// Positions 0...p of its own sequence (decoders).
    case causal
    /// Every position of its own sequence (encoders).
    case bidirectional
}

/// Multi-head / grouped-query attention: q, k, v projections (biases optional, any head_dim), a position
/// scheme, a mask, and the output projection. Self-attention writes its keys and values into the
/// sequence's paged cache and attends over it; cross-attention (`cross: true`) attends over the keys
/// and values an encoder's output produced once per request.
///
/// Fused checkpoints (GPT-2's [q|k|v], BLOOM's per-head [h][3][d]) are split into q, k, v at load.
public struct Attention: Sendable {
    public let q: Linear   // [heads * headDim, hidden]
    public let k: Linear   // [kvHeads * headDim, hidden or encoder width]
    public let v: Linear   // [kvHeads * headDim, hidden or encoder width]
    public let o: Linear   // [hidden, heads * headDim]
    public let heads: Int, kvHeads: Int, headDim: Int
    /// Multiplies q.k (1/sqrt(headDim) usually; T5 folds it into its weights and uses 1).
    public let scale: Float
    public let position: PositionScheme
    public let mask: AttentionMask
    /// Per-head RMSNorm of queries and keys before RoPE (Gemma 3, Qwen 3).
    public let queryNorm: Norm?, keyNorm: Norm?
    /// Sliding-window attention (Gemma 3's local layers, Mistral): a causal query at position p sees
    /// keys p - window + 1 ... p only. nil: every earlier key.
    public let window: Int?

    public init(q: Linear, k: Linear, v: Linear, o: Linear, heads: Int, kvHeads: Int, headDim: Int,
                scale: Float? = nil, position: PositionScheme = .none, mask: AttentionMask = .causal,
                queryNorm: Norm? = nil, keyNorm: Norm? = nil, window: Int? = nil) {
        precondition(window.map { $0 > 0 } ?? true, "a sliding window holds at least one key")
        self.q = q; self.k = k; self.v = v; self.o = o
        self.heads = heads; self.kvHeads = kvHeads; self.headDim = headDim
        self.scale = scale ?? 1 / Float(headDim).squareRoot()
        self.position = position
        self.mask = mask
        self.queryNorm = queryNorm
        self.keyNorm = keyNorm
        self.window = window
    }

    var shape: WorkspaceShape {
        var s = WorkspaceShape()
        s.query = heads * headDim
        s.keyValue = kvHeads * headDim
        return s
    }

    /// Self-attention of `rows` rows x [rows, hidden] (normed); result [rows, hidden] into `out`.
    func callAsFunction(_ x: UnsafePointer<Float>, rows T: Int, layer: Int, chunk: Chunk, ropes: [RotaryEmbedding],
                        ws: ForwardWorkspace, out: UnsafeMutablePointer<Float>, _ compute: ComputeOptions) {
        let kvDim = kvHeads * headDim
        q(x, tokens: T, into: ws.q, compute)        // [T, heads, headDim]
        k(x, tokens: T, into: ws.k, compute)        // [T, kvHeads, headDim]
        v(x, tokens: T, into: ws.v, compute)        // [T, kvHeads, headDim]
        if let queryNorm { queryNorm(ws.q, tokens: T * heads, into: ws.q) }
        if let keyNorm { keyNorm(ws.k, tokens: T * kvHeads, into: ws.k) }
        if case let .rope(i) = position {
            ropes[i].apply(ws.q, tokens: T, heads: heads, headDim: headDim, cos: ws.cos(table: i), sin: ws.sin(table: i))
            ropes[i].apply(ws.k, tokens: T, heads: kvHeads, headDim: headDim, cos: ws.cos(table: i), sin: ws.sin(table: i))
        }
        // Keys and values go to each row's slot of its sequence's blocks.
        for s in 0..<chunk.sequences {
            let cache = ws.sequences[s].cache.takeUnretainedValue()
            ws.sequences[s].keys = cache.pool.keys[layer]
            ws.sequences[s].values = cache.pool.values[layer]
        }
        for t in 0..<T {
            let seq = ws.sequences[Int(ws.rowSequence[t])]
            let p = ws.rowPosition[t], bs = seq.blockSize
            let slot = (Int(seq.table[p / bs]) * bs + p % bs) * seq.rowBytes
            Kernels.storeKV(seq.kvType, ws.k + t * kvDim, count: kvDim, into: seq.keys + slot)
            Kernels.storeKV(seq.kvType, ws.v + t * kvDim, count: kvDim, into: seq.values + slot)
        }
        attend(rows: T, layer: layer, cross: false, ws: ws, compute)
        o(ws.attn, tokens: T, into: out, compute)
    }

    /// Cross-attention: queries from x [rows, hidden], keys and values from each sequence's cross cache.
    func cross(_ x: UnsafePointer<Float>, rows T: Int, layer: Int, chunk: Chunk, ws: ForwardWorkspace,
               out: UnsafeMutablePointer<Float>, _ compute: ComputeOptions) {
        q(x, tokens: T, into: ws.q, compute)
        for s in 0..<chunk.sequences {
            let cache = ws.sequences[s].cache.takeUnretainedValue()
            guard let c = cache.cross else { preconditionFailure("decoder sequence without encoder output") }
            ws.sequences[s].keys = UnsafeMutableRawPointer(c.keys[layer])
            ws.sequences[s].values = UnsafeMutableRawPointer(c.values[layer])
            ws.sequences[s].kvType = .f32
            ws.sequences[s].rowBytes = c.rowSize * MemoryLayout<Float>.stride
            ws.sequences[s].headBytes = headDim * MemoryLayout<Float>.stride
            ws.sequences[s].crossCount = c.positions
        }
        attend(rows: T, layer: layer, cross: true, ws: ws, compute)
        o(ws.attn, tokens: T, into: out, compute)
    }

    /// Keys and values of an encoder's output h [positions, width] for this layer's cross-attention.
    func crossKeysValues(_ h: UnsafePointer<Float>, positions: Int, keys: UnsafeMutablePointer<Float>,
                         values: UnsafeMutablePointer<Float>, _ compute: ComputeOptions) {
        k(h, tokens: positions, into: keys, compute)
        v(h, tokens: positions, into: values, compute)
    }

    private func attend(rows T: Int, layer: Int, cross: Bool, ws: ForwardWorkspace, _ compute: ComputeOptions) {
        var job = AttentionJob(q: ws.q, out: ws.attn, rowPosition: ws.rowPosition, rowSequence: ws.rowSequence,
                               sequences: ws.sequences, heads: heads, group: heads / kvHeads, headDim: headDim,
                               scale: scale, causal: mask == .causal && !cross,
                               cross: cross, window: cross ? 0 : (window ?? 0), slopes: nil, relative: nil, record: nil)
        if let observer = ws.attentionObserver, observer.matches(layer: layer, cross: cross) {
            // Keys each row sees, as attendChunk computes them (the observed batch holds one sequence).
            let causal = job.causal, s = ws.sequences[0]
            let base = observer.prepare(heads: heads, rows: ws.rowPosition, count: T) { t in
                cross ? s.crossCount : (causal ? ws.rowPosition[t] + 1 : s.visible)
            }
            job.record = AttentionRecord(base: base, head: observer.head ?? -1, rows: observer.rowCapacity,
                                         columns: observer.columnCapacity)
        }
        switch position {
        case let .alibi(slopes) where !cross:
            slopes.withUnsafeBufferPointer { s in
                job.slopes = s.baseAddress
                withUnsafeMutablePointer(to: &job) { compute.pool.parallelFor(T * heads, context: $0, attendChunk) }
            }
            return
        case let .relative(bias) where !cross:
            job.relative = Unmanaged.passUnretained(bias)
        default: break
        }
        withUnsafeMutablePointer(to: &job) { compute.pool.parallelFor(T * heads, context: $0, attendChunk) }
        if case let .relative(bias) = position { withExtendedLifetime(bias) {} }
    }
}

/// Per-chunk facts the blocks share.
struct Chunk {
    let rows: Int
    let sequences: Int
}

/// One attention call's arguments, handed to the pool's workers by pointer (no closure, no allocation).
struct AttentionJob {
    let q: UnsafeMutablePointer<Float>       // [T, heads, headDim]
    let out: UnsafeMutablePointer<Float>     // [T, heads, headDim]
    let rowPosition: UnsafeMutablePointer<Int>
    let rowSequence: UnsafeMutablePointer<Int32>
    let sequences: UnsafeMutablePointer<ChunkSequence>
    let heads: Int, group: Int, headDim: Int
    let scale: Float
    let causal: Bool, cross: Bool
    /// Keys a causal row sees at most (0: all).
    let window: Int
    var slopes: UnsafePointer<Float>?
    var relative: Unmanaged<RelativePositionBias>?
    /// Set only while an `AttentionObserver` watches this layer.
    var record: AttentionRecord?
}

/// Attention for items lo..<hi, item = row * heads + head.
private let attendChunk: ThreadPool.ChunkFunction = { context, lo, hi in
    guard let job = context?.assumingMemoryBound(to: AttentionJob.self).pointee else { return }
    let hd = job.headDim
    var longest = 1
    for item in lo..<hi {
        let s = job.sequences[Int(job.rowSequence[item / job.heads])]
        longest = max(longest, job.cross ? s.crossCount : (job.causal ? job.rowPosition[item / job.heads] + 1 : s.visible))
    }
    let scores = MatmulWorkspace.current.scratch(bytes: longest * MemoryLayout<Float>.stride)
        .assumingMemoryBound(to: Float.self)                                   // [keys]
    for item in lo..<hi {
        let t = item / job.heads, h = item % job.heads, g = h / job.group
        let s = job.sequences[Int(job.rowSequence[t])]
        let p = job.rowPosition[t]
        if job.cross {
            Kernels.attend(s.kvType, query: job.q + item * hd, keys: s.keys + g * s.headBytes,
                           values: s.values + g * s.headBytes, table: nil,
                           block: s.crossCount, strideBytes: s.rowBytes, count: s.crossCount, headDim: hd,
                           scale: job.scale, slope: 0, bias: nil, scores: scores, into: job.out + item * hd)
            job.record?.keep(scores, head: h, row: p, first: 0, count: s.crossCount)
            continue
        }
        let n = job.causal ? p + 1 : s.visible
        let first = job.causal && job.window > 0 ? max(0, n - job.window) : 0
        let bias = job.relative.map { $0.takeUnretainedValue().row(head: h, query: p) }
        Kernels.attend(s.kvType, query: job.q + item * hd, keys: s.keys + g * s.headBytes,
                       values: s.values + g * s.headBytes, table: UnsafePointer(s.table), block: s.blockSize,
                       strideBytes: s.rowBytes, first: first, count: n, headDim: hd, scale: job.scale,
                       slope: job.slopes?[h] ?? 0, bias: bias, scores: scores, into: job.out + item * hd)
        job.record?.keep(scores, head: h, row: p, first: first, count: n)
    }
}
