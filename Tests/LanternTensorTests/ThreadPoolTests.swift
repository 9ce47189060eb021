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
