import LanternTensor
/// The widths a model's forward pass needs scratch for; a workspace made for one shape serves any model
/// whose needs it covers.
public struct WorkspaceShape: Sendable, Equatable {
    public var hidden = 1
    /// Widest of heads * headDim over all attention layers.
    public var query = 1
    /// Widest of kvHeads * headDim.
    public var keyValue = 1
    /// Widest feed-forward (or head transform) intermediate.
    public var feedForward = 1
    /// Distinct RoPE tables and the widest one's half dimension.
    public var ropeTables = 0
    public var ropeHalf = 1

    public init() {}

    /// What a stack and its head need (the head transform writes into the feed-forward scratch).
    static func of(_ stack: TransformerStack, head: LMHead?) -> WorkspaceShape {
        var shape = stack.shape
        shape.feedForward = max(shape.feedForward, head?.transform?.dense.outFeatures ?? 1)
        return shape
    }

    func covers(_ other: WorkspaceShape) -> Bool {
        hidden >= other.hidden && query >= other.query && keyValue >= other.keyValue
            && feedForward >= other.feedForward && ropeTables >= other.ropeTables && ropeHalf >= other.ropeHalf
    }

    mutating func include(_ o: WorkspaceShape) {
        hidden = max(hidden, o.hidden); query = max(query, o.query); keyValue = max(keyValue, o.keyValue)
        feedForward = max(feedForward, o.feedForward); ropeTables = max(ropeTables, o.ropeTables)
        ropeHalf = max(ropeHalf, o.ropeHalf)
    }
}

/// Per-sequence facts of one forward chunk, laid out for the attention workers (no ARC in the loop).
struct ChunkSequence {
    var cache: Unmanaged<KVCache>
    var table: UnsafeMutablePointer<Int32>
    var blockSize: Int
    /// Keys a bidirectional row sees: every position of the sequence after this chunk.
    var visible: Int
    /// This layer's key / value base pointers (pool or cross cache), refreshed per layer, with how the
    /// rows are stored: element type, bytes per position (all kv heads) and per head.
    var keys: UnsafeMutableRawPointer
    var values: UnsafeMutableRawPointer
    var kvType: KVType
    var rowBytes: Int
    var headBytes: Int
    var crossCount: Int
}

/// Scratch for forward passes of up to `maxTokens` rows, owned by the caller (the engine or a session)
/// and reused across calls so a decode loop does not allocate. One workspace serves one forward at a time.
public final class ForwardWorkspace: @unchecked Sendable {
    public let shape: WorkspaceShape
    public let maxTokens: Int
    let x, normed, residual, q, k, v, attn, ffA, ffB, gathered: UnsafeMutablePointer<Float>
    /// RoPE cos / sin tables: [ropeTables][maxTokens * ropeHalf]
    let ropeCos, ropeSin: UnsafeMutablePointer<Float>
    let rowPosition: UnsafeMutablePointer<Int>     // [maxTokens]
    let rowSequence: UnsafeMutablePointer<Int32>   // [maxTokens]
    let rowType: UnsafeMutablePointer<Int>         // [maxTokens]
    let rowToken: UnsafeMutablePointer<Int>        // [maxTokens]
    let sequences: UnsafeMutablePointer<ChunkSequence>   // [maxTokens]
    /// Records one layer's attention probabilities during the next forward calls (one sequence per
    /// batch while set); nil, the default, records nothing and costs nothing.
    public var attentionObserver: AttentionObserver?
    /// Split-K attention's part outputs and log-sum-exps when few rows are spread over the threads by key
    /// parts: room for `attentionPartialRows` (row, part) pairs of every head.
    let attentionPartials, attentionPartialLSE: UnsafeMutablePointer<Float>
    static let attentionPartialRows = 256

    public init(shape: WorkspaceShape, maxTokens: Int) {
        self.shape = shape
        self.maxTokens = max(1, maxTokens)
        let T = self.maxTokens
        func buf(_ n: Int) -> UnsafeMutablePointer<Float> { .allocate(capacity: max(n, 1)) }
        x = buf(T * shape.hidden)
        normed = buf(T * shape.hidden)
        residual = buf(T * shape.hidden)
        gathered = buf(T * shape.hidden)
        q = buf(T * shape.query)
        attn = buf(T * shape.query)
        k = buf(T * shape.keyValue)
        v = buf(T * shape.keyValue)
        ffA = buf(T * shape.feedForward)
        ffB = buf(T * shape.feedForward)
        ropeCos = buf(max(1, shape.ropeTables) * T * shape.ropeHalf)
        ropeSin = buf(max(1, shape.ropeTables) * T * shape.ropeHalf)
        rowPosition = .allocate(capacity: T)
        rowSequence = .allocate(capacity: T)
        rowType = .allocate(capacity: T)
        rowToken = .allocate(capacity: T)
        sequences = .allocate(capacity: T)
        attentionPartials = buf(Self.attentionPartialRows * shape.query)
        attentionPartialLSE = buf(Self.attentionPartialRows * shape.query)
    }

    deinit {
        [x, normed, residual, gathered, q, attn, k, v, ffA, ffB, ropeCos, ropeSin, attentionPartials,
         attentionPartialLSE].forEach { $0.deallocate() }
        rowPosition.deallocate(); rowSequence.deallocate(); rowType.deallocate(); rowToken.deallocate()
        sequences.deallocate()
    }

    func cos(table i: Int) -> UnsafeMutablePointer<Float> { ropeCos + i * maxTokens * shape.ropeHalf }
    func sin(table i: Int) -> UnsafeMutablePointer<Float> { ropeSin + i * maxTokens * shape.ropeHalf }
}
