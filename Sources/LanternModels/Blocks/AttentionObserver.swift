/// Records one layer's attention probabilities, softmax(q.k * scale + bias) over the keys each row
/// sees, exactly as the attention kernel computed them: the kernel leaves a row's probabilities in its
/// `scores` scratch and the observed layer copies them out. Keys a row does not see (after a causal
/// row, before a sliding window) stay exactly 0.
///
/// Set it on a workspace (`ForwardWorkspace.attentionObserver`) for one forward call of one sequence;
/// row r of a map is the query at position r, column c the key at position c (cross-attention: the
/// encoder position). Rows rewritten by a later call (a decode step, a rewritten cache) are replaced.
/// Off (nil) it costs one nil check per attention layer call and nothing per row.
///
/// Not thread-safe across forward calls: one forward at a time writes it; read it after the call.
public final class AttentionObserver: @unchecked Sendable {
    /// Which attention of a block is recorded.
    public enum Kind: Sendable, Equatable {
        /// The block's own attention (causal in decoders, bidirectional in encoders).
        case selfAttention
        /// A decoder block's attention over the encoder's output.
        case cross
    }

    public let layer: Int
    /// One query head, or nil for every head of the layer.
    public let head: Int?
    public let kind: Kind
    /// The most rows (query positions) and columns (key positions) the maps hold.
    public let rowCapacity: Int, columnCapacity: Int
    /// Query heads of the observed layer (0 until it ran).
    public private(set) var layerHeads = 0
    /// One past the highest query position recorded.
    public private(set) var rowCount = 0
    /// One past the highest key position any recorded row saw.
    public private(set) var columnCount = 0
    /// [recordedHeads, rowCapacity, columnCapacity], allocated when the layer first runs.
    private var storage: UnsafeMutablePointer<Float>?

    public init(layer: Int, head: Int? = nil, kind: Kind = .selfAttention, rows: Int, columns: Int) {
        self.layer = layer
        self.head = head
        self.kind = kind
        rowCapacity = max(1, rows)
        columnCapacity = max(1, columns)
    }

    deinit { storage?.deallocate() }

    /// The heads recorded, in map order.
    public var recordedHeads: [Int] { head.map { [$0] } ?? Array(0..<layerHeads) }

    /// The map of `head` (one of `recordedHeads`): rowCount rows of columnCount probabilities.
    public func weights(head h: Int) -> [[Float]] {
        guard let storage, let i = recordedHeads.firstIndex(of: h) else { return [] }
        return (0..<rowCount).map { r in
            Array(UnsafeBufferPointer(start: storage + (i * rowCapacity + r) * columnCapacity, count: columnCount))
        }
    }

    /// Every recorded head's map, [recordedHeads][rowCount][columnCount].
    public var maps: [[[Float]]] { recordedHeads.map { weights(head: $0) } }

    func matches(layer l: Int, cross: Bool) -> Bool { l == layer && (kind == .cross) == cross }

    /// Called on the forward's thread before the workers run: sizes the storage, zeroes the rows this
    /// chunk writes and notes the extent. Returns the base the workers write into.
    func prepare(heads: Int, rows: UnsafePointer<Int>, count: Int, columns: (Int) -> Int) -> UnsafeMutablePointer<Float> {
        let base: UnsafeMutablePointer<Float>
        if let storage { base = storage } else {
            layerHeads = heads
            let n = (head == nil ? heads : 1) * rowCapacity * columnCapacity
            base = .allocate(capacity: n)
            base.initialize(repeating: 0, count: n)
            storage = base
        }
        let recorded = head == nil ? layerHeads : 1
        for t in 0..<count {
            let p = rows[t]
            guard p < rowCapacity else { continue }
            for i in 0..<recorded {
                (base + (i * rowCapacity + p) * columnCapacity).update(repeating: 0, count: columnCapacity)
            }
            rowCount = max(rowCount, p + 1)
            columnCount = min(columnCapacity, max(columnCount, columns(t)))
        }
        return base
    }
}

/// Where an observed attention call's workers copy each row's probabilities.
struct AttentionRecord {
    let base: UnsafeMutablePointer<Float>    // [recordedHeads, rows, columns]
    /// The one head recorded, or -1 for all.
    let head: Int
    let rows: Int, columns: Int

    /// Copies probabilities of keys first..<count (the kernel's scores) into row `row` of head `h`.
    func keep(_ scores: UnsafePointer<Float>, head h: Int, row: Int, first: Int, count: Int) {
        guard head < 0 || head == h, row < rows, count <= columns else { return }
        let dst = base + ((head < 0 ? h : 0) * rows + row) * columns
        (dst + first).update(from: scores, count: count - first)
    }
}
