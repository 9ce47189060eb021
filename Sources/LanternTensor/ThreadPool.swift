#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif
import Foundation
import CKernels

/// A persistent pool of worker threads that splits index ranges; created once, used for every op.
///
/// `parallelFor` publishes a job with one atomic store, runs piece 0 on the calling thread and waits for
/// the workers' pieces. Workers spin briefly after each job (decode issues matmuls microseconds apart),
/// then sleep on a condition variable. No allocation and no locks in a call unless a worker sleeps.
///
/// Invariant: one job at a time. A `parallelFor` issued while another is running (from another thread,
/// or nested inside a body) runs its body serially on its own thread instead of waiting.
public final class ThreadPool: @unchecked Sendable {
    public let threads: Int
    private let shared: PoolShared
    /// Epoch of the last published job; only touched by the thread that owns the `busy` flag.
    private var epoch: Int64 = 0

    /// - Parameter threads: total threads including the caller (at least 1, at most 255).
    public init(threads: Int) {
        self.threads = min(255, max(1, threads))
        shared = PoolShared()
        for k in 1..<self.threads {
            let shared = self.shared
            let thread = Thread { shared.workerLoop(index: k) }
            thread.name = "lantern-worker-\(k)"
            thread.start()
        }
    }

    /// A pool using every processor the system reports.
    public convenience init() {
        self.init(threads: ProcessInfo.processInfo.activeProcessorCount)
    }

    deinit { shared.shutdown() }

    /// Calls `body(range)` for up to `threads` contiguous, disjoint pieces of `0..<count` in parallel and
    /// returns when all have finished. Piece k goes to thread k (the caller runs piece 0).
    public func parallelFor(_ count: Int, _ body: (Range<Int>) -> Void) {
        let pieces = min(threads, count)
        if pieces <= 1 {
            if count > 0 { body(0..<count) }
            return
        }
        if lt_atomic_add(shared.word(PoolShared.busy), 1) != 0 {
            // Another job is in flight: doing this one serially is always correct.
            lt_atomic_add(shared.word(PoolShared.busy), -1)
            body(0..<count)
            return
        }
        withoutActuallyEscaping(body) { body in
            shared.body = body
            shared.count = count
            lt_atomic_store(shared.word(PoolShared.remaining), Int64(pieces - 1))
            epoch += 1
            // Publishes body/count (written above) to workers that load this word.
            lt_atomic_store(shared.word(PoolShared.job), epoch << 8 | Int64(pieces))
            if lt_atomic_load(shared.word(PoolShared.sleepers)) > 0 { shared.wakeAll() }
            body(0..<(count / pieces))
            var spins = 0
            while lt_atomic_load_acquire(shared.word(PoolShared.remaining)) != 0 {
                spins += 1
                if spins < 1 << 16 { lt_cpu_relax() } else { sched_yield() }
            }
            shared.body = nil
        }
        lt_atomic_add(shared.word(PoolShared.busy), -1)
    }
}

/// State shared by the pool and its workers (the workers keep it alive).
final class PoolShared: @unchecked Sendable {
    // Indices of the atomic words in `words`, each on its own 64-byte cache line.
    static let job = 0        // epoch << 8 | pieces of the current job
    static let remaining = 8  // worker pieces of the current job not yet finished
    static let sleepers = 16  // workers blocked (or about to block) on `cond`
    static let stop = 24      // 1 once the pool is gone
    static let busy = 32      // 1 while a job is in flight

    /// Pause iterations a worker spins before sleeping (tens of microseconds).
    static let spinLimit = 4000

    let words: UnsafeMutablePointer<Int64>
    let mutex: UnsafeMutablePointer<pthread_mutex_t>
    let cond: UnsafeMutablePointer<pthread_cond_t>
    /// The current job; written by the caller before publishing `job`, read by workers after seeing it.
    var body: ((Range<Int>) -> Void)?
    var count = 0

    init() {
        words = .allocate(capacity: 40)
        words.initialize(repeating: 0, count: 40)
        mutex = .allocate(capacity: 1)
        cond = .allocate(capacity: 1)
        pthread_mutex_init(mutex, nil)
        pthread_cond_init(cond, nil)
    }

    deinit {
        pthread_cond_destroy(cond)
        pthread_mutex_destroy(mutex)
        cond.deallocate()
        mutex.deallocate()
        words.deallocate()
    }

    @inline(__always)
    func word(_ index: Int) -> UnsafeMutablePointer<Int64> { words + index }

    func wakeAll() {
        pthread_mutex_lock(mutex)
        pthread_cond_broadcast(cond)
        pthread_mutex_unlock(mutex)
    }

    func shutdown() {
        lt_atomic_store(word(Self.stop), 1)
        wakeAll()
    }

    func workerLoop(index k: Int) {
        var seen: Int64 = 0
        while true {
            var job = lt_atomic_load_acquire(word(Self.job))
            var spins = 0
            while job == seen {
                if lt_atomic_load(word(Self.stop)) != 0 { return }
                if spins < Self.spinLimit {
                    spins += 1
                    lt_cpu_relax()
                } else {
                    // Sleep. The caller stores `job` before reading `sleepers`, and we bump `sleepers`
                    // before re-reading `job` (both sequentially consistent), so a wake-up cannot be lost.
                    pthread_mutex_lock(mutex)
                    lt_atomic_add(word(Self.sleepers), 1)
                    while lt_atomic_load(word(Self.job)) == seen && lt_atomic_load(word(Self.stop)) == 0 {
                        pthread_cond_wait(cond, mutex)
                    }
                    lt_atomic_add(word(Self.sleepers), -1)
                    pthread_mutex_unlock(mutex)
                    spins = 0
                }
                job = lt_atomic_load_acquire(word(Self.job))
            }
            seen = job
            let pieces = Int(job & 0xFF)
            // Only workers with a piece touch the job: the caller waits for exactly those, so body/count
            // cannot change under them.
            if k < pieces {
                if let body { body((count * k / pieces)..<(count * (k + 1) / pieces)) }
                lt_atomic_add(word(Self.remaining), -1)
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
