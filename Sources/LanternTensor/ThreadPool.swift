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
/// `parallelFor` cuts the range into a few chunks per thread and gives each thread a contiguous run of
/// them; each thread claims its own chunks from the front of its run (a counter on its own cache line, so
/// claims cost no traffic between cores), then takes chunks from the back of the others' runs, so a
/// worker that the OS has descheduled (other processes on a small machine) delays nothing: the others
/// take its chunks. Each thread reports the chunks it ran with one atomic add per job.
/// Workers spin briefly after each job (decode issues matmuls microseconds apart), then sleep on a
/// condition variable. No locks in a call unless a worker sleeps; no allocation in the
/// `context:function:` variant (the closure variant allocates one small wrapper per call).
///
/// Invariant: one job at a time. A `parallelFor` issued while another is running (from another thread,
/// or nested inside a body) runs its body serially on its own thread instead of waiting.
public final class ThreadPool: @unchecked Sendable {
    public let threads: Int
    private let shared: PoolShared
    /// Epoch of the last published job; only touched by the thread that owns the `busy` flag.
    private var epoch: Int64 = 0

    /// Chunks per thread: enough that the last ones are short when threads finish unevenly, few enough
    /// to keep each chunk long (a packed 16-row group or a 4-row tile is a matmul's unit of work). A
    /// shared claim counter made finer chunks cost more than they saved (each claim moved a cache line
    /// between cores); claims from a thread's own run do not.
    static let chunksPerThread = 8

    /// - Parameter threads: total threads including the caller (at least 1, at most 1024).
    public init(threads: Int) {
        self.threads = min(1024, max(1, threads))
        shared = PoolShared(threads: self.threads)
        for k in 1..<self.threads {
            let shared = self.shared
            let thread = Thread { shared.workerLoop(slot: k) }
            thread.name = "lantern-worker-\(k)"
            thread.start()
        }
    }

    /// A pool using every processor the system reports.
    public convenience init() {
        self.init(threads: ProcessInfo.processInfo.activeProcessorCount)
    }

    deinit { shared.shutdown() }

    /// A chunk of work for the allocation-free `parallelFor`: `function(context, lowerBound, upperBound)`.
    public typealias ChunkFunction = @convention(c) (UnsafeMutableRawPointer?, Int, Int) -> Void

    /// Calls `body(range)` for contiguous, disjoint pieces that together cover `0..<count`, in parallel
    /// on up to `threads` threads (the caller included), and returns when all have finished.
    /// The number and size of the pieces is unspecified (a few per thread).
    ///
    /// Handing a non-escaping closure to other threads needs `withoutActuallyEscaping`, whose
    /// verification wrapper costs one small heap allocation per call; hot kernels use the
    /// `context:function:` variant instead, which allocates nothing.
    public func parallelFor(_ count: Int, _ body: (Range<Int>) -> Void) {
        let chunks = chunkCount(count)
        guard chunks > 1, acquire() else {
            if count > 0 { body(0..<count) }
            return
        }
        withoutActuallyEscaping(body) { body in
            shared.closure = PoolJob(body: body)
            publishAndRun(count: count, chunks: chunks)
            shared.closure = nil
        }
        release()
    }

    /// `parallelFor` without closures or allocation: calls `function(context, lo, hi)` for contiguous,
    /// disjoint pieces `lo..<hi` covering `0..<count`. `context` usually points at a struct of
    /// arguments on the caller's stack; it stays valid because this call returns only when all
    /// pieces are done.
    public func parallelFor(_ count: Int, context: UnsafeMutableRawPointer?, _ function: ChunkFunction) {
        let chunks = chunkCount(count)
        guard chunks > 1, acquire() else {
            if count > 0 { function(context, 0, count) }
            return
        }
        shared.function = function
        shared.context = context
        publishAndRun(count: count, chunks: chunks)
        shared.function = nil
        shared.context = nil
        release()
    }

    private func chunkCount(_ count: Int) -> Int {
        threads == 1 ? min(count, 1) : min(count, threads * Self.chunksPerThread)
    }

    /// Takes the pool for one job; false when another job is in flight (the caller then works alone).
    private func acquire() -> Bool {
        if lt_atomic_add(shared.word(PoolShared.busy), 1) == 0 { return true }
        lt_atomic_add(shared.word(PoolShared.busy), -1)
        return false
    }

    private func release() {
        lt_atomic_add(shared.word(PoolShared.busy), -1)
    }

    /// Publishes the job already stored in `shared`, runs chunks on this thread, waits for the rest.
    private func publishAndRun(count: Int, chunks: Int) {
        shared.count = count
        epoch = epoch % 0x7FFF_FFFF + 1   // 1 ... 2^31 - 1, so `epoch << 32` stays positive
        shared.chunks = chunks
        lt_atomic_store(shared.word(PoolShared.done), 0)
        for slot in 0..<threads {
            let lo = Int64(chunks * slot / threads), hi = Int64(chunks * (slot + 1) / threads)
            lt_atomic_store(shared.run(slot), epoch << 32 | lo << 16 | hi)
        }
        // Publishes the job fields (written before this) to workers that load this word.
        lt_atomic_store(shared.word(PoolShared.job), epoch)
        if lt_atomic_load(shared.word(PoolShared.sleepers)) > 0 { shared.wakeAll() }
        shared.runChunks(slot: 0, epoch: epoch)
        var spins = 0
        while lt_atomic_load_acquire(shared.word(PoolShared.done)) != chunks {
            spins += 1
            if spins < 1 << 12 { lt_cpu_relax() } else { sched_yield() }
        }
    }
}

/// State shared by the pool and its workers (the workers keep it alive).
final class PoolShared: @unchecked Sendable {
    // Indices of the atomic words in `words`, each on its own 64-byte cache line.
    static let job = 0        // epoch of the current job
    static let done = 16      // chunks of the current job finished
    static let sleepers = 24  // workers blocked (or about to block) on `cond`
    static let stop = 32      // 1 once the pool is gone
    static let busy = 40      // 1 while a job is in flight

    /// Pause iterations a worker spins before sleeping (tens of microseconds).
    static let spinLimit = 4000

    let words: UnsafeMutablePointer<Int64>
    let mutex: UnsafeMutablePointer<pthread_mutex_t>
    let cond: UnsafeMutablePointer<pthread_cond_t>
    /// The current job; written by the caller before publishing `job`, read by workers only after
    /// claiming a chunk of it, and not changed until every claimed chunk is done.
    var closure: PoolJob?
    var function: ThreadPool.ChunkFunction?
    var context: UnsafeMutableRawPointer?
    var count = 0
    var chunks = 0
    let threads: Int

    /// Words before the per-thread runs; run `slot` is word `runBase + 8 * slot`.
    static let runBase = 48

    init(threads: Int) {
        self.threads = threads
        let n = Self.runBase + 8 * threads
        words = .allocate(capacity: n)
        words.initialize(repeating: 0, count: n)
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

    /// The chunks thread `slot` has left of the current job: epoch << 32 | first << 16 | end (the chunks
    /// first..<end; the owner takes the first, others take the last).
    @inline(__always)
    func run(_ slot: Int) -> UnsafeMutablePointer<Int64> { words + Self.runBase + 8 * slot }

    func wakeAll() {
        pthread_mutex_lock(mutex)
        pthread_cond_broadcast(cond)
        pthread_mutex_unlock(mutex)
    }

    func shutdown() {
        lt_atomic_store(word(Self.stop), 1)
        wakeAll()
    }

    /// Runs chunks of job `epoch` until none are left: this thread's own run from the front, then the
    /// other threads' runs from the back. Every claim is a compare-and-swap on a run word, which carries
    /// the epoch, so a late worker can never claim a chunk of a newer job while holding on to an older one.
    func runChunks(slot: Int, epoch: Int64) {
        var ran: Int64 = 0
        let own = run(slot)
        while true {
            let w = lt_atomic_load(own)
            guard w >> 32 == epoch else { break }
            let first = Int((w >> 16) & 0xFFFF), end = Int(w & 0xFFFF)
            guard first < end else { break }
            guard lt_atomic_cas(own, w, w + 0x10000) else { continue }
            run(chunk: first)
            ran += 1
        }
        for k in 1..<threads {
            let other = run((slot + k) % threads)
            while true {
                let w = lt_atomic_load(other)
                guard w >> 32 == epoch else { break }
                let first = Int((w >> 16) & 0xFFFF), end = Int(w & 0xFFFF)
                guard first < end else { break }
                guard lt_atomic_cas(other, w, w - 1) else { continue }
                run(chunk: end - 1)
                ran += 1
            }
        }
        if ran > 0 { lt_atomic_add(word(Self.done), ran) }
    }

    /// Runs one chunk. A separate, non-inlined function so this thread's reference to the closure is
    /// released before the chunk is counted as done: the caller's `withoutActuallyEscaping` checks
    /// that nobody still holds the closure once every chunk is done.
    @inline(never)
    private func run(chunk index: Int) {
        let lo = count * index / chunks, hi = count * (index + 1) / chunks
        if let function {
            function(context, lo, hi)
        } else if let closure {
            closure.body(lo..<hi)
        }
    }

    func workerLoop(slot: Int) {
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
            runChunks(slot: slot, epoch: job)
        }
    }
}

/// The body of a `parallelFor` call. A struct keeps the closure at its natural abstraction; storing a
/// bare closure in an optional property made Swift allocate a reabstraction thunk on every call.
struct PoolJob {
    let body: (Range<Int>) -> Void
}
