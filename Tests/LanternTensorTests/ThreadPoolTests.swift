import Foundation
import Testing
@testable import LanternTensor

/// Every index is visited exactly once, for many consecutive jobs (exercises spinning and sleeping
/// workers), for counts below, at and above the thread count.
@Test(arguments: [1, 2, 3, 5])
func parallelForCoversEachIndexOnce(threads: Int) async throws {
    let pool = ThreadPool(threads: threads)
    let hits = UnsafeMutablePointer<Int>.allocate(capacity: 1000); defer { hits.deallocate() }
    for round in 0..<300 {
        let count = [0, 1, 2, 3, 7, 64, 1000][round % 7]
        hits.initialize(repeating: 0, count: 1000)
        pool.parallelFor(count) { range in for i in range { hits[i] += 1 } }
        #expect((0..<count).allSatisfy { hits[$0] == 1 }, "round \(round) count \(count)")
        if round % 50 == 49 { try await Task.sleep(for: .milliseconds(5)) }   // let workers fall asleep
    }
}

/// A nested call runs serially instead of deadlocking.
@Test func nestedParallelForRunsSerially() {
    let pool = ThreadPool(threads: 2)
    let hits = UnsafeMutablePointer<Int>.allocate(capacity: 100); defer { hits.deallocate() }
    hits.initialize(repeating: 0, count: 100)
    pool.parallelFor(10) { outer in
        for i in outer { pool.parallelFor(10) { inner in for j in inner { hits[i * 10 + j] += 1 } } }
    }
    #expect((0..<100).allSatisfy { hits[$0] == 1 })
}

/// The allocation-free variant visits each index once, passes the context through, and runs inline
/// when the pool is busy (nested).
@Test func contextParallelForCoversEachIndexOnce() {
    struct Job { var hits: UnsafeMutablePointer<Int>; var pool: ThreadPool? }
    let pool = ThreadPool(threads: 3)
    let hits = UnsafeMutablePointer<Int>.allocate(capacity: 500); defer { hits.deallocate() }
    for count in [0, 1, 2, 11, 500] {
        hits.initialize(repeating: 0, count: 500)
        var job = Job(hits: hits, pool: nil)
        withUnsafeMutablePointer(to: &job) { job in
            pool.parallelFor(count, context: job) { context, lo, hi in
                let job = context!.assumingMemoryBound(to: Job.self).pointee
                for i in lo..<hi { job.hits[i] += 1 }
            }
        }
        #expect((0..<count).allSatisfy { hits[$0] == 1 } && (count..<500).allSatisfy { hits[$0] == 0 }, "count \(count)")
    }
    hits.initialize(repeating: 0, count: 500)
    var nested = Job(hits: hits, pool: pool)
    withUnsafeMutablePointer(to: &nested) { job in
        pool.parallelFor(10, context: job) { context, lo, hi in
            let job = context!.assumingMemoryBound(to: Job.self)
            for i in lo..<hi {
                var inner = Job(hits: job.pointee.hits + i * 10, pool: nil)
                withUnsafeMutablePointer(to: &inner) { inner in
                    job.pointee.pool!.parallelFor(10, context: inner) { context, lo, hi in
                        let inner = context!.assumingMemoryBound(to: Job.self).pointee
                        for j in lo..<hi { inner.hits[j] += 1 }
                    }
                }
            }
        }
    }
    #expect((0..<100).allSatisfy { hits[$0] == 1 })
}

/// Several threads sharing one pool: each call still covers its own range exactly once (calls that
/// find the pool busy run serially on their own thread).
@Test func concurrentCallersShareOnePool() async {
    let pool = ThreadPool(threads: 2)
    await withTaskGroup(of: Bool.self) { group in
        for caller in 0..<4 {
            group.addTask {
                let hits = UnsafeMutablePointer<Int>.allocate(capacity: 257); defer { hits.deallocate() }
                var ok = true
                for round in 0..<200 {
                    let count = 1 + (caller * 37 + round * 11) % 257
                    hits.initialize(repeating: 0, count: 257)
                    pool.parallelFor(count) { range in for i in range { hits[i] += 1 } }
                    ok = ok && (0..<count).allSatisfy { hits[$0] == 1 }
                }
                return ok
            }
        }
        for await ok in group { #expect(ok) }
    }
}

/// A thread that stalls (or has not woken up yet) loses its chunks to the others: while the worker sleeps
/// in whatever chunk it claims first, the caller runs its own run of chunks and then takes the worker's
/// from the back, so it ends up running more than its own half, and every index is still visited once.
@Test func stalledWorkerChunksAreTakenByTheCaller() {
    let pool = ThreadPool(threads: 2)
    let caller = pthread_self()
    let count = 64
    let owner = UnsafeMutablePointer<Int>.allocate(capacity: count); defer { owner.deallocate() }
    owner.initialize(repeating: -1, count: count)
    pool.parallelFor(count) { _ in }   // the worker is awake and spinning when the job below arrives
    pool.parallelFor(count) { range in
        let onCaller = pthread_equal(pthread_self(), caller) != 0
        if !onCaller { usleep(50_000) }
        for i in range { owner[i] = onCaller ? 0 : 1 }
    }
    let byCaller = (0..<count).filter { owner[$0] == 0 }.count
    #expect((0..<count).allSatisfy { owner[$0] >= 0 })
    #expect(byCaller > count / 2, "caller ran \(byCaller) of \(count) indices")
}
