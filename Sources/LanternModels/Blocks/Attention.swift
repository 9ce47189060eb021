import Foundation
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
        // q [T, heads, headDim], k and v [T, kvHeads, headDim]
        Linear.shared(q, into: ws.q, k, into: ws.k, v, into: ws.v, x: x, tokens: T, compute)
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
        Linear.shared(k, into: keys, v, into: values, x: h, tokens: positions, compute)
    }

    private func attend(rows T: Int, layer: Int, cross: Bool, ws: ForwardWorkspace, _ compute: ComputeOptions) {
        var job = AttentionJob(q: ws.q, out: ws.attn, rowPosition: ws.rowPosition, rowSequence: ws.rowSequence,
                               sequences: ws.sequences, heads: heads, group: heads / kvHeads, headDim: headDim,
                               scale: scale, causal: mask == .causal && !cross,
                               cross: cross, window: cross ? 0 : (window ?? 0), slopes: nil, relative: nil, record: nil,
                               partials: ws.attentionPartials, partialLSE: ws.attentionPartialLSE, maxParts: 1,
                               rowCount: T)
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
                run(&job, rows: T, compute)
            }
            return
        case let .relative(bias) where !cross:
            job.relative = Unmanaged.passUnretained(bias)
        default: break
        }
        run(&job, rows: T, compute)
        if case let .relative(bias) = position { withExtendedLifetime(bias) {} }
    }

    /// Spreads one layer's attention over the pool. Each row's keys are cut into fixed parts
    /// (`AttentionParts`), attended part by part and merged, whichever way the work is spread, so a row's
    /// result never depends on the rows beside it or the thread count:
    /// - decode rows of grouped-query heads: one item per (row, key-value head), the group's query heads
    ///   through the row-tile kernel together; with few such items and long rows, per part, merged after;
    /// - few (row, head) pairs and long rows (decode): one item per (row, head, part), merged after;
    /// - otherwise: one item per (tile of up to 8 rows, head); runs of consecutive positions of one
    ///   sequence go through the row-tile kernel, which reads each key and value row once per tile.
    private func run(_ job: inout AttentionJob, rows T: Int, _ compute: ComputeOptions) {
        var maxParts = 1
        for t in 0..<T {
            let (first, n) = job.keys(row: t)
            maxParts = max(maxParts, AttentionParts.count(first: first, end: n))
        }
        job.maxParts = maxParts
        let pairs = T * heads, threads = compute.pool.threads
        let fitsParts = maxParts > 1 && T * maxParts <= ForwardWorkspace.attentionPartialRows
        if job.record == nil, job.group > 1, job.slopes == nil, job.relative == nil, !job.hasRuns {
            // Decode rows (no two consecutive positions of one sequence): the query heads of one key-value
            // head go through the row-tile kernel together, so each key and value row is read once per
            // group; with few groups (one sequence: 3 of them for 2 threads) their parts are spread too.
            let groups = T * (heads / job.group)
            if fitsParts, groups < 4 * threads {
                let items = groups * maxParts
                withUnsafeMutablePointer(to: &job) { compute.pool.parallelFor(items, context: $0, attendGroupParts) }
                mergeParts(job, pairs: pairs)
            } else {
                withUnsafeMutablePointer(to: &job) { compute.pool.parallelFor(groups, context: $0, attendGroups) }
            }
        } else if job.record == nil, fitsParts, pairs < 4 * threads {
            withUnsafeMutablePointer(to: &job) { compute.pool.parallelFor(pairs * maxParts, context: $0, attendParts) }
            mergeParts(job, pairs: pairs)
        } else if job.record != nil {
            withUnsafeMutablePointer(to: &job) { compute.pool.parallelFor(pairs, context: $0, attendRowsOneByOne) }
        } else {
            let tiles = (T + AttentionParts.tileRows - 1) / AttentionParts.tileRows
            withUnsafeMutablePointer(to: &job) { compute.pool.parallelFor(tiles * heads, context: $0, attendTiles) }
        }
    }
}

/// Merges the split-K partials of every (row, head) pair with more than one part into its output.
private func mergeParts(_ job: AttentionJob, pairs: Int) {
    let hd = job.headDim
    for item in 0..<pairs {
        let (first, n) = job.keys(row: item / job.heads)
        let parts = AttentionParts.count(first: first, end: n)
        guard parts > 1 else { continue }
        Kernels.mergeAttention(parts: parts, outputs: job.partials + item * job.maxParts * hd, stride: hd,
                               lse: job.partialLSE + item * job.maxParts, headDim: hd, into: job.out + item * hd)
    }
}

/// How attention cuts a row's keys: at absolute positions that are multiples of `keys` (and at the row's
/// window start), so part boundaries depend only on the row itself. `LANTERN_ATTENTION_SPLIT=0` (to
/// measure what this buys) attends every row whole, one row at a time, as before split-K and tiles.
enum AttentionParts {
    static let split = ProcessInfo.processInfo.environment["LANTERN_ATTENTION_SPLIT"] != "0"
    static let keys = split ? 512 : Int.max / 4
    /// Rows per tile of the row-tile kernel (its register tile is 8 rows).
    static let tileRows = split ? 8 : 1

    @inline(__always) static func count(first: Int, end n: Int) -> Int { (n - 1) / keys - first / keys + 1 }

    /// Keys of part i of a row over first..<n.
    @inline(__always) static func range(_ i: Int, first: Int, end n: Int) -> (Int, Int) {
        let a = i == 0 ? first : (first / keys + i) * keys
        return (a, min(n, (first / keys + i + 1) * keys))
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
    /// Split-K scratch: [rows * heads * maxParts, headDim] outputs and [rows * heads * maxParts] log-sum-exps.
    let partials: UnsafeMutablePointer<Float>
    let partialLSE: UnsafeMutablePointer<Float>
    var maxParts: Int
    let rowCount: Int

    /// Whether some row continues the row before it (the same sequence, the next position): a prompt run
    /// that the row-tile kernel takes per head.
    var hasRuns: Bool {
        for t in 1..<max(1, rowCount) where rowSequence[t] == rowSequence[t - 1] && rowPosition[t] == rowPosition[t - 1] + 1 {
            return true
        }
        return false
    }

    /// Keys a..<b of row t for the `group` query heads of key-value head g, through the row-tile kernel:
    /// head g * group + r's output at out + r * outStride, its log-sum-exp at lse[r]; `scores` holds
    /// group rows of `scoreStride` floats, `ends` group key ends (both scratch).
    @inline(__always) func groupPart(row t: Int, kvHead g: Int, keys a: Int, _ b: Int, scores: UnsafeMutablePointer<Float>,
                                     scoreStride: Int, ends: UnsafeMutablePointer<Int64>, into out: UnsafeMutablePointer<Float>,
                                     outStride: Int, lse: UnsafeMutablePointer<Float>) {
        let s = sequences[Int(rowSequence[t])]
        for r in 0..<group { ends[r] = Int64(b) }
        Kernels.attendRows(s.kvType, rows: group, query: q + (t * heads + g * group) * headDim, queryStride: headDim,
                           keys: s.keys + g * s.headBytes, values: s.values + g * s.headBytes,
                           table: cross ? nil : UnsafePointer(s.table), block: cross ? s.crossCount : s.blockSize,
                           strideBytes: s.rowBytes, first: a, counts: ends, headDim: headDim, scale: scale, slope: 0,
                           scores: scores, scoreStride: scoreStride, into: out, outStride: outStride, lse: lse)
    }

    /// Hints the caches to fetch the first keys and values of item `group` (row * kvHeads + kvHead) of a
    /// grouped decode pass while the current item is attended (a decode step's cache rows are cold).
    @inline(__always) func prefetch(group item: Int, kvHeads: Int) {
        let t = item / kvHeads, g = item % kvHeads
        let (first, n) = keys(row: t)
        let s = sequences[Int(rowSequence[t])]
        Kernels.prefetchAttention(s.kvType, keys: s.keys + g * s.headBytes, values: s.values + g * s.headBytes,
                                  table: cross ? nil : UnsafePointer(s.table), block: cross ? s.crossCount : s.blockSize,
                                  strideBytes: s.rowBytes, first: first, count: min(n, first + 32), headDim: headDim)
    }

    /// Keys row t sees: first..<n.
    @inline(__always) func keys(row t: Int) -> (Int, Int) {
        let s = sequences[Int(rowSequence[t])]
        if cross { return (0, s.crossCount) }
        let n = causal ? rowPosition[t] + 1 : s.visible
        return (causal && window > 0 ? max(0, n - window) : 0, n)
    }

    /// One part of (row t, head h) over keys a..<b: log-sum-exp returned, output at out, scores scratch.
    @inline(__always) func part(row t: Int, head h: Int, keys a: Int, _ b: Int, scores: UnsafeMutablePointer<Float>,
                                into out: UnsafeMutablePointer<Float>) -> Float {
        let s = sequences[Int(rowSequence[t])], g = h / group, hd = headDim
        let q = self.q + (t * heads + h) * hd
        if cross {
            return Kernels.attendPart(s.kvType, query: q, keys: s.keys + g * s.headBytes, values: s.values + g * s.headBytes,
                                      table: nil, block: s.crossCount, strideBytes: s.rowBytes, first: a, count: b,
                                      headDim: hd, scale: scale, slope: 0, bias: nil, scores: scores, into: out)
        }
        let bias = relative.map { $0.takeUnretainedValue().row(head: h, query: rowPosition[t]) }
        return Kernels.attendPart(s.kvType, query: q, keys: s.keys + g * s.headBytes, values: s.values + g * s.headBytes,
                                  table: UnsafePointer(s.table), block: s.blockSize, strideBytes: s.rowBytes,
                                  first: a, count: b, headDim: hd, scale: scale, slope: slopes?[h] ?? 0, bias: bias,
                                  scores: scores, into: out)
    }

    /// (row t, head h) on its own: parts in turn, merged, recorded when watched. `scratch` holds
    /// n - first scores, then maxParts * (headDim + 2) floats.
    @inline(__always) func row(_ t: Int, head h: Int, scratch: UnsafeMutablePointer<Float>) {
        let (first, n) = keys(row: t)
        let parts = AttentionParts.count(first: first, end: n), hd = headDim
        let out = self.out + (t * heads + h) * hd
        let scores = scratch
        if parts == 1 {
            _ = part(row: t, head: h, keys: first, n, scores: scores, into: out)
            record?.keep(scores, head: h, row: rowPosition[t], first: first, count: n)
            return
        }
        let outs = scratch + (n - first), lse = outs + parts * hd, weights = lse + parts
        for i in 0..<parts {
            let (a, b) = AttentionParts.range(i, first: first, end: n)
            lse[i] = part(row: t, head: h, keys: a, b, scores: scores + (a - first), into: outs + i * hd)
        }
        Kernels.mergeAttention(parts: parts, outputs: outs, stride: hd, lse: lse, headDim: hd, into: out,
                               weights: record == nil ? nil : weights)
        guard let record else { return }
        // Each part's probabilities are over its own keys: rescale them to the row's.
        for i in 0..<parts {
            let (a, b) = AttentionParts.range(i, first: first, end: n)
            for j in a..<b { scores[j - first] *= weights[i] }
        }
        record.keep(scores, head: h, row: rowPosition[t], first: first, count: n)
    }
}

/// Scratch floats `AttentionJob.row` needs for rows of up to `longest` keys.
@inline(__always) private func rowScratch(_ job: AttentionJob, longest: Int) -> UnsafeMutablePointer<Float> {
    let parts = longest / AttentionParts.keys + 2
    return MatmulWorkspace.current.scratch(bytes: (longest + parts * (job.headDim + 2)) * MemoryLayout<Float>.stride)
        .assumingMemoryBound(to: Float.self)
}

/// Items lo..<hi, item = row * heads + head, each row on its own (used while the observer records).
private let attendRowsOneByOne: ThreadPool.ChunkFunction = { context, lo, hi in
    guard let job = context?.assumingMemoryBound(to: AttentionJob.self).pointee else { return }
    var longest = 1
    for item in lo..<hi { let (f, n) = job.keys(row: item / job.heads); longest = max(longest, n - f) }
    let scratch = rowScratch(job, longest: longest)
    for item in lo..<hi { job.row(item / job.heads, head: item % job.heads, scratch: scratch) }
}

/// Items lo..<hi, item = ((row * heads + head) * maxParts + part): one part each, into the split-K
/// scratch (a row with one part writes its output directly).
private let attendParts: ThreadPool.ChunkFunction = { context, lo, hi in
    guard let job = context?.assumingMemoryBound(to: AttentionJob.self).pointee else { return }
    let hd = job.headDim, scores = MatmulWorkspace.current.scratch(bytes: AttentionParts.keys * MemoryLayout<Float>.stride)
        .assumingMemoryBound(to: Float.self)
    for item in lo..<hi {
        let pair = item / job.maxParts, i = item % job.maxParts
        let t = pair / job.heads, h = pair % job.heads
        let (first, n) = job.keys(row: t)
        let parts = AttentionParts.count(first: first, end: n)
        guard i < parts else { continue }
        let (a, b) = AttentionParts.range(i, first: first, end: n)
        if parts == 1 {
            _ = job.part(row: t, head: h, keys: a, b, scores: scores, into: job.out + pair * hd)
        } else {
            job.partialLSE[item] = job.part(row: t, head: h, keys: a, b, scores: scores, into: job.partials + item * hd)
        }
    }
}

/// Items lo..<hi, item = (row * kvHeads + kvHead) * maxParts + part: one part of the `group` query heads of
/// one key-value head through the row-tile kernel, into the split-K scratch (a row with one part writes its
/// output directly); `mergeParts` combines them after.
private let attendGroupParts: ThreadPool.ChunkFunction = { context, lo, hi in
    guard let job = context?.assumingMemoryBound(to: AttentionJob.self).pointee else { return }
    let G = job.group, hd = job.headDim, kvHeads = job.heads / G, P = AttentionParts.keys, M = job.maxParts
    let raw = MatmulWorkspace.current.scratch(bytes: (G * P + 2 * G) * MemoryLayout<Float>.stride + G * 8)
    let scores = raw.assumingMemoryBound(to: Float.self), callLSE = scores + G * P
    let ends = (raw + (G * P + 2 * G) * MemoryLayout<Float>.stride).assumingMemoryBound(to: Int64.self)
    for item in lo..<hi {
        let i = item % M, t = item / M / kvHeads, g = item / M % kvHeads
        let (first, n) = job.keys(row: t)
        let parts = AttentionParts.count(first: first, end: n)
        guard i < parts else { continue }
        let (a, b) = AttentionParts.range(i, first: first, end: n)
        let pair = t * job.heads + g * G, direct = parts == 1
        job.groupPart(row: t, kvHead: g, keys: a, b, scores: scores, scoreStride: P, ends: ends,
                      into: direct ? job.out + pair * hd : job.partials + (pair * M + i) * hd,
                      outStride: direct ? hd : M * hd, lse: callLSE)
        if !direct { for r in 0..<G { job.partialLSE[(pair + r) * M + i] = callLSE[r] } }
    }
}

/// Items lo..<hi, item = row * kvHeads + kvHead: the `group` query heads of one key-value head of one row,
/// through the row-tile kernel part by part (each head's result is bit for bit that of `AttentionJob.row`:
/// the kernel computes every row as attending alone would), merged per head.
private let attendGroups: ThreadPool.ChunkFunction = { context, lo, hi in
    guard let job = context?.assumingMemoryBound(to: AttentionJob.self).pointee else { return }
    let G = job.group, hd = job.headDim, kvHeads = job.heads / G, P = AttentionParts.keys
    var longest = 1
    for item in lo..<hi { let (f, n) = job.keys(row: item / kvHeads); longest = max(longest, n - f) }
    // [G, part] scores, [G, maxParts, hd] part outputs, [G, maxParts] lse, G lse of one call, G key ends.
    let part = min(P, longest), maxParts = AttentionParts.count(first: 0, end: longest) + 1
    let floats = G * part + G * maxParts * hd + G * maxParts + G
    let raw = MatmulWorkspace.current.scratch(bytes: floats * MemoryLayout<Float>.stride + G * 8)
    let scores = raw.assumingMemoryBound(to: Float.self)
    let outs = scores + G * part, lses = outs + G * maxParts * hd, callLSE = lses + G * maxParts
    let ends = (raw + floats * MemoryLayout<Float>.stride).assumingMemoryBound(to: Int64.self)
    for item in lo..<hi {
        let t = item / kvHeads, g = item % kvHeads, h0 = g * G
        let (first, n) = job.keys(row: t)
        if item + 1 < hi { job.prefetch(group: item + 1, kvHeads: kvHeads) }
        let parts = AttentionParts.count(first: first, end: n)
        let out = job.out + (t * job.heads + h0) * hd
        for i in 0..<parts {
            let (a, b) = AttentionParts.range(i, first: first, end: n)
            let direct = parts == 1
            job.groupPart(row: t, kvHead: g, keys: a, b, scores: scores, scoreStride: part, ends: ends,
                          into: direct ? out : outs + i * hd, outStride: direct ? hd : maxParts * hd, lse: callLSE)
            if !direct { for r in 0..<G { lses[r * maxParts + i] = callLSE[r] } }
        }
        if parts > 1 {
            for r in 0..<G {
                Kernels.mergeAttention(parts: parts, outputs: outs + r * maxParts * hd, stride: hd,
                                       lse: lses + r * maxParts, headDim: hd, into: out + r * hd)
            }
        }
    }
}

/// Items lo..<hi, item = tile * heads + head, a tile being up to `AttentionParts.tileRows` rows of the
/// batch. Runs of consecutive positions of one sequence that share their first key go through the row-tile
/// kernel part by part; other rows (a relative bias, a single row) go one by one.
private let attendTiles: ThreadPool.ChunkFunction = { context, lo, hi in
    guard let job = context?.assumingMemoryBound(to: AttentionJob.self).pointee else { return }
    let R = AttentionParts.tileRows, P = AttentionParts.keys, hd = job.headDim, T = Int(job.rowCount)
    let maxParts = job.maxParts
    var longest = 1
    for item in lo..<hi {
        let t0 = item / job.heads * R
        for t in t0..<min(T, t0 + R) { let (f, n) = job.keys(row: t); longest = max(longest, n - f) }
    }
    // [R, part] scores (a part holds at most P keys), [R, maxParts, hd] part outputs, [R, maxParts] lse,
    // R lse of one call, R key ends; or what `AttentionJob.row` needs.
    let part = min(P, longest)
    let floats = R * part + R * maxParts * hd + R * maxParts + R
    let rowFloats = longest + (longest / P + 2) * (hd + 2)
    let raw = MatmulWorkspace.current.scratch(bytes: max(floats, rowFloats) * MemoryLayout<Float>.stride + R * 8)
    let base = raw.assumingMemoryBound(to: Float.self)
    let scores = base, outs = scores + R * part, lses = outs + R * maxParts * hd, callLSE = lses + R * maxParts
    let ends = (raw + max(floats, rowFloats) * MemoryLayout<Float>.stride).assumingMemoryBound(to: Int64.self)
    for item in lo..<hi {
        let tile = item / job.heads, h = item % job.heads
        let t0 = tile * R, t1 = min(T, t0 + R)
        var t = t0
        while t < t1 {
            // The run t..<u: one sequence, consecutive positions, the same first key.
            let (first, _) = job.keys(row: t)
            var u = t + 1
            if job.relative == nil {
                while u < t1, job.rowSequence[u] == job.rowSequence[t],
                      job.rowPosition[u] == job.rowPosition[u - 1] + 1, job.keys(row: u).0 == first { u += 1 }
            }
            if u - t == 1 {
                job.row(t, head: h, scratch: base)
                t = u
                continue
            }
            let s = job.sequences[Int(job.rowSequence[t])], g = h / job.group
            let runParts = AttentionParts.count(first: first, end: job.keys(row: u - 1).1)
            let qs = job.q + (t * job.heads + h) * hd, qStride = job.heads * hd
            let table: UnsafePointer<Int32>? = job.cross ? nil : UnsafePointer(s.table)
            let block = job.cross ? s.crossCount : s.blockSize
            for i in 0..<runParts {
                let (a, b) = AttentionParts.range(i, first: first, end: job.keys(row: u - 1).1)
                // Rows whose keys reach into this part: a suffix of the run (ends grow with position).
                var r0 = t
                while job.keys(row: r0).1 <= a { r0 += 1 }
                for r in r0..<u { ends[r - r0] = Int64(min(job.keys(row: r).1, b)) }
                let direct = runParts == 1
                Kernels.attendRows(s.kvType, rows: u - r0, query: qs + (r0 - t) * qStride, queryStride: qStride,
                                   keys: s.keys + g * s.headBytes, values: s.values + g * s.headBytes, table: table,
                                   block: block, strideBytes: s.rowBytes, first: a, counts: ends, headDim: hd,
                                   scale: job.scale, slope: job.slopes?[h] ?? 0, scores: scores, scoreStride: part,
                                   into: direct ? job.out + (r0 * job.heads + h) * hd : outs + ((r0 - t) * maxParts + i) * hd,
                                   outStride: direct ? qStride : maxParts * hd, lse: callLSE)
                if !direct { for r in r0..<u { lses[(r - t) * maxParts + i] = callLSE[r - r0] } }
            }
            if runParts > 1 {
                for r in t..<u {
                    let (f, n) = job.keys(row: r)
                    Kernels.mergeAttention(parts: AttentionParts.count(first: f, end: n),
                                           outputs: outs + (r - t) * maxParts * hd, stride: hd,
                                           lse: lses + (r - t) * maxParts, headDim: hd,
                                           into: job.out + (r * job.heads + h) * hd)
                }
            }
            t = u
        }
    }
}
