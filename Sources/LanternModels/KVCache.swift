/// Keys and values of every layer for the positions seen so far, in float32.
///
/// Layout per layer: [capacity, kvHeads, headDim] for keys and for values. `count` positions are valid.
/// A chat keeps one cache across turns and `truncate(to:)`s it when a new prompt shares only a prefix.
public final class KVCache: @unchecked Sendable {
    public let layers: Int
    public let kvHeads: Int
    public let headDim: Int
    public let capacity: Int
    public private(set) var count = 0
    /// Scratch buffers the model keeps with the cache it is working on (one cache is used by one thread
    /// at a time), so forward passes neither allocate nor lock. Owned and typed by the model.
    var scratch: AnyObject?
    /// keys[layer]: [capacity, kvHeads, headDim]
    let keys: [UnsafeMutablePointer<Float>]
    /// values[layer]: [capacity, kvHeads, headDim]
    let values: [UnsafeMutablePointer<Float>]

    public init(layers: Int, kvHeads: Int, headDim: Int, capacity: Int) {
        self.layers = layers
        self.kvHeads = kvHeads
        self.headDim = headDim
        self.capacity = capacity
        let n = capacity * kvHeads * headDim
        keys = (0..<layers).map { _ in .allocate(capacity: n) }
        values = (0..<layers).map { _ in .allocate(capacity: n) }
    }

    deinit {
        keys.forEach { $0.deallocate() }
        values.forEach { $0.deallocate() }
    }

    /// Floats per position in one layer.
    var rowSize: Int { kvHeads * headDim }

    /// Marks `n` more positions valid (after the model wrote them).
    func advance(by n: Int) {
        precondition(count + n <= capacity)
        count += n
    }

    /// Forgets every position from `n` on.
    public func truncate(to n: Int) {
        count = max(0, min(n, count))
    }

    public func reset() { count = 0 }
}
