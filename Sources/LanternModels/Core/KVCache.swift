import LanternTensor
#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// Keys and values for many sequences, in fixed-size blocks of positions from one pool sized once.
///
/// Layout per layer: keys and values are each [blocks * blockSize, kvHeads, headDim] values of `type`
/// (f16 by default; f32; q8_0 blocks of 32 values, so a head's values are whole blocks). A block id
/// reserves `blockSize` positions in every layer. Sequences (`KVCache`) hold a block table mapping their
/// position p to row `table[p / blockSize] * blockSize + p % blockSize`, so a server admits sequences by
/// free blocks and memory is never moved or grown while decoding.
///
/// Thread safety: taking and returning blocks is locked (it happens once per `blockSize` positions);
/// reading and writing the rows of a sequence is the job of whoever runs that sequence.
public final class KVPool: @unchecked Sendable {
    public let layers: Int
    public let kvHeads: Int
    public let headDim: Int
    public let blockSize: Int
    public let blockCount: Int
    /// How keys and values are stored.
    public let type: KVType
    /// Bytes of one position of one layer (kvHeads heads) and of one head in it.
    public let rowBytes: Int
    public let headBytes: Int
    /// keys[layer]: [blockCount * blockSize] rows of rowBytes
    let keys: [UnsafeMutableRawPointer]
    /// values[layer]: [blockCount * blockSize] rows of rowBytes
    let values: [UnsafeMutableRawPointer]
    private var free: [Int32]
    private let lock: UnsafeMutablePointer<pthread_mutex_t>

    /// Refuses sizes whose product would overflow or that no machine could hold (typed, not a trap).
    public init(layers: Int, kvHeads: Int, headDim: Int, blockSize: Int = 16, blocks: Int,
                type: KVType = .f16) throws(ModelError) {
        guard layers > 0, kvHeads > 0, headDim > 0, blockSize > 0, blocks > 0 else {
            throw .invalidConfiguration("a KV pool needs positive sizes (layers \(layers), kv heads \(kvHeads), head dim \(headDim), block size \(blockSize), blocks \(blocks))")
        }
        if let why = type.unsupported(headDim: headDim) { throw .invalidConfiguration(why) }
        let row = kvHeads.multipliedReportingOverflow(by: headDim)
        let rows = blocks.multipliedReportingOverflow(by: blockSize)
        let floats = row.partialValue.multipliedReportingOverflow(by: rows.partialValue)
        let total = floats.partialValue.multipliedReportingOverflow(by: 8 * layers)
        guard !row.overflow, !rows.overflow, !floats.overflow, !total.overflow, total.partialValue <= 1 << 40,
              rows.partialValue <= Int(Int32.max) else {
            throw .invalidConfiguration("a KV cache of \(blocks) blocks x \(blockSize) positions is too large")
        }
        self.layers = layers
        self.kvHeads = kvHeads
        self.headDim = headDim
        self.blockSize = blockSize
        self.blockCount = blocks
        self.type = type
        headBytes = type.bytes(values: headDim)
        rowBytes = kvHeads * headBytes
        let bytes = rows.partialValue * rowBytes
        keys = (0..<layers).map { _ in .allocate(byteCount: bytes, alignment: 64) }
        values = (0..<layers).map { _ in .allocate(byteCount: bytes, alignment: 64) }
        free = (0..<Int32(blocks)).reversed()
        lock = .allocate(capacity: 1)
        pthread_mutex_init(lock, nil)
    }

    deinit {
        keys.forEach { $0.deallocate() }
        values.forEach { $0.deallocate() }
        pthread_mutex_destroy(lock)
        lock.deallocate()
    }

    /// Values per position in one layer.
    var rowSize: Int { kvHeads * headDim }

    /// Blocks not held by any sequence.
    public var freeBlocks: Int {
        pthread_mutex_lock(lock); defer { pthread_mutex_unlock(lock) }
        return free.count
    }

    /// Bytes of keys and values per position (all layers).
    public var bytesPerPosition: Int { 2 * layers * rowBytes }

    func take() -> Int32? {
        pthread_mutex_lock(lock); defer { pthread_mutex_unlock(lock) }
        return free.popLast()
    }

    func give(_ ids: UnsafeBufferPointer<Int32>) {
        pthread_mutex_lock(lock); defer { pthread_mutex_unlock(lock) }
        free.append(contentsOf: ids)
    }
}

/// One sequence's view of a `KVPool`: its block table and how many positions are valid.
///
/// Positions 0..<count hold the keys and values of the tokens seen so far. A forward pass writes the
/// positions it is given (explicitly) and then `count` is the end of them. Blocks are taken from the pool
/// as positions need them and returned on `truncate`, `reset` and deinit.
public final class KVCache: @unchecked Sendable {
    public let pool: KVPool
    /// Most positions this sequence may hold.
    public let capacity: Int
    public private(set) var count = 0
    /// Block ids, [ceil(capacity / blockSize)]; the first `heldBlocks` are valid.
    let table: UnsafeMutablePointer<Int32>
    public private(set) var heldBlocks = 0

    /// Blocks this sequence must still take from the pool to hold `positions` positions.
    public func blocksNeeded(toHold positions: Int) -> Int {
        max(0, (min(positions, capacity) + pool.blockSize - 1) / pool.blockSize - heldBlocks)
    }
    /// Cross-attention keys and values of an encoder-decoder sequence (set once per request).
    public internal(set) var cross: CrossAttentionCache?

    public init(pool: KVPool, capacity: Int) throws(ModelError) {
        guard capacity > 0, capacity <= pool.blockCount * pool.blockSize else {
            throw .invalidConfiguration("a sequence of \(capacity) positions does not fit a pool of \(pool.blockCount * pool.blockSize)")
        }
        self.pool = pool
        self.capacity = capacity
        let n = (capacity + pool.blockSize - 1) / pool.blockSize
        table = .allocate(capacity: n)
        table.initialize(repeating: -1, count: n)
    }

    /// A cache with a pool of its own, exactly `capacity` positions (the single-sequence case).
    public convenience init(layers: Int, kvHeads: Int, headDim: Int, capacity: Int, blockSize: Int = 16,
                            type: KVType = .f16) throws(ModelError) {
        guard capacity > 0 else { throw .invalidConfiguration("context length must be positive, found \(capacity)") }
        let pool = try KVPool(layers: layers, kvHeads: kvHeads, headDim: headDim, blockSize: blockSize,
                              blocks: (capacity + blockSize - 1) / blockSize, type: type)
        try self.init(pool: pool, capacity: capacity)
    }

    deinit {
        pool.give(UnsafeBufferPointer(start: table, count: heldBlocks))
        table.deallocate()
    }

    public var layers: Int { pool.layers }
    public var kvHeads: Int { pool.kvHeads }
    public var headDim: Int { pool.headDim }
    var rowSize: Int { pool.rowSize }

    /// Makes blocks available for positions 0..<positions. Throws when the pool has run out.
    func reserve(_ positions: Int) throws(ModelError) {
        guard positions <= capacity else { throw .contextOverflow(needed: positions, capacity: capacity) }
        let need = (positions + pool.blockSize - 1) / pool.blockSize
        while heldBlocks < need {
            guard let id = pool.take() else { throw .outOfKVBlocks(needed: need - heldBlocks) }
            table[heldBlocks] = id
            heldBlocks += 1
        }
    }

    /// Marks positions 0..<n valid after a forward pass wrote them.
    func setCount(_ n: Int) {
        precondition(n <= heldBlocks * pool.blockSize)
        count = n
    }

    /// Row of position p inside the pool's per-layer arrays.
    @inline(__always)
    func row(_ p: Int) -> Int { Int(table[p / pool.blockSize]) * pool.blockSize + p % pool.blockSize }

    /// Forgets every position from `n` on and returns the blocks no longer needed.
    public func truncate(to n: Int) {
        count = max(0, min(n, count))
        let keep = (count + pool.blockSize - 1) / pool.blockSize
        if keep < heldBlocks {
            pool.give(UnsafeBufferPointer(start: table + keep, count: heldBlocks - keep))
            heldBlocks = keep
        }
    }

    public func reset() {
        truncate(to: 0)
        cross = nil
    }
}

/// Keys and values of an encoder's output as every decoder layer's cross-attention sees them,
/// computed once per request. Layout per layer: [positions, kvHeads, headDim].
public final class CrossAttentionCache: @unchecked Sendable {
    public let positions: Int
    let rowSize: Int
    let keys: [UnsafeMutablePointer<Float>]
    let values: [UnsafeMutablePointer<Float>]

    init(layers: Int, positions: Int, rowSize: Int) {
        self.positions = positions
        self.rowSize = rowSize
        keys = (0..<layers).map { _ in .allocate(capacity: max(1, positions * rowSize)) }
        values = (0..<layers).map { _ in .allocate(capacity: max(1, positions * rowSize)) }
    }

    deinit {
        keys.forEach { $0.deallocate() }
        values.forEach { $0.deallocate() }
    }
}
