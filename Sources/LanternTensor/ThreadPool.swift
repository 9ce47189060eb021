import Dispatch

/// Splits index ranges across worker threads.
///
/// Placeholder implementation on top of `DispatchQueue.concurrentPerform`; the kernel work replaces it
/// with one persistent pool of threads.
public final class ThreadPool: @unchecked Sendable {
    public let threads: Int

    public init(threads: Int) {
        self.threads = max(1, threads)
    }

    /// Calls `body(range)` for `threads` contiguous pieces of `0..<count` in parallel and waits for all.
    public func parallelFor(_ count: Int, _ body: (Range<Int>) -> Void) {
        if threads == 1 || count <= 1 {
            body(0..<count)
            return
        }
        let pieces = min(threads, count)
        withoutActuallyEscaping(body) { body in
            let task = UncheckedBox(body)
            DispatchQueue.concurrentPerform(iterations: pieces) { i in
                let lo = count * i / pieces, hi = count * (i + 1) / pieces
                if lo < hi { task.value(lo..<hi) }
            }
        }
    }
}

/// Carries a non-Sendable value into worker threads; the caller guarantees the accesses do not race
/// (each worker touches a disjoint range).
struct UncheckedBox<T>: @unchecked Sendable {
    let value: T
    init(_ value: T) { self.value = value }
}
