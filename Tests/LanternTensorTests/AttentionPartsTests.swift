import Testing
import Foundation
import CKernels
@testable import LanternTensor

// Split-K and row-tile attention: lt_attend_kv_lse (a part's log-sum-exp), lt_attend_merge (parts of a row
// merged), lt_attend_kv_rows (a tile of query rows over one cache).

private func store(_ type: KVType, _ x: [Float]) -> [UInt8] {
    var out = [UInt8](repeating: 0, count: type.bytes(values: x.count))
    out.withUnsafeMutableBytes { lt_kv_store_at(0, type.code, x, Int64(x.count), $0.baseAddress!) }
    return out
}

/// A paged cache of `rows` positions x `kvHeads` heads, stored as `type`, with a shuffled block table.
private struct Cache {
    let type: KVType, headDim: Int, kvHeads: Int, block: Int
    let keys: [UInt8], values: [UInt8], table: [Int32]
    let decodedKeys: [Float], decodedValues: [Float]
    var rowBytes: Int { type.bytes(values: kvHeads * headDim) }
    var rowValues: Int { kvHeads * headDim }

    init(type: KVType, headDim: Int, kvHeads: Int, block: Int, positions: Int, rng: inout SeededRandom) {
        self.type = type; self.headDim = headDim; self.kvHeads = kvHeads; self.block = block
        let blocks = (positions + block - 1) / block
        var t = (0..<Int32(blocks + 1)).map { $0 }
        for i in stride(from: t.count - 1, to: 0, by: -1) { t.swapAt(i, Int(rng.next() % UInt64(i + 1))) }
        table = t
        let n = (blocks + 1) * block * kvHeads * headDim
        let k = randomFloats(n, rng: &rng, scale: 2), v = randomFloats(n, rng: &rng)
        keys = store(type, k); values = store(type, v)
        // The values the kernels read (stored, then widened).
        decodedKeys = decodeKV(type, keys, values: n); decodedValues = decodeKV(type, values, values: n)
    }

    /// One part (keys first..<n) of head `head` at `level`: output, probabilities, log-sum-exp.
    func part(level: Int, q: [Float], head: Int, first: Int, n: Int, scale: Float, slope: Float) -> (out: [Float], p: [Float], lse: Float) {
        var out = [Float](repeating: .nan, count: headDim), p = [Float](repeating: .nan, count: n - first)
        var lse: Float = .nan
        let offset = head * type.bytes(values: headDim)
        keys.withUnsafeBytes { k in
            values.withUnsafeBytes { v in
                lt_attend_kv_lse_at(Int32(level), type.code, q, k.baseAddress! + offset, v.baseAddress! + offset, table,
                                    Int64(block), Int64(rowBytes), Int64(first), Int64(n), Int64(headDim), scale, slope,
                                    nil, &p, &out, &lse)
            }
        }
        return (out, p, lse)
    }
}

/// The log-sum-exp a part reports is log(sum_j exp(s_j)) of its scores (computed here in double from the
/// stored rows), on every level and element type.
@Test func partLogSumExpIsTheScoresLogSumExp() {
    var rng = SeededRandom(seed: 301)
    for type in [KVType.f32, .f16, .q8_0] {
        for headDim in [64, 128, 96] where type.unsupported(headDim: headDim) == nil {
            let cache = Cache(type: type, headDim: headDim, kvHeads: 2, block: 16, positions: 700, rng: &rng)
            let q = randomFloats(headDim, rng: &rng, scale: 0.5)
            for (first, n) in [(0, 1), (0, 37), (100, 612), (512, 700)] {
                var s = [Double]()
                for j in first..<n {
                    let row = Int(cache.table[j / 16]) * 16 + j % 16
                    var d = 0.0
                    for i in 0..<headDim { d += Double(q[i]) * Double(cache.decodedKeys[row * cache.rowValues + headDim + i]) }
                    s.append(d * 0.125 + 0.01 * Double(j))
                }
                let m = s.max()!
                let want = m + log(s.map { exp($0 - m) }.reduce(0, +))
                for level in supportedLevels {
                    let got = cache.part(level: level, q: q, head: 1, first: first, n: n, scale: 0.125, slope: 0.01).lse
                    #expect(abs(Double(got) - want) <= 1e-5 * max(1, abs(want)), "\(type) hd \(headDim) \(first)..<\(n) level \(level): \(got) vs \(want)")
                }
            }
        }
    }
}

/// A row cut into parts and merged equals the row attended whole: the output within 2e-6 + 2e-6 |x|,
/// the merged log-sum-exp within 1e-5, and the parts' probabilities rescaled by the merge weights within
/// 1e-6 of the whole row's.
@Test func mergedPartsEqualTheWholeRow() {
    var rng = SeededRandom(seed: 302)
    for type in [KVType.f32, .f16, .q8_0] {
        let headDim = 64
        let cache = Cache(type: type, headDim: headDim, kvHeads: 3, block: 16, positions: 1500, rng: &rng)
        for (first, n, cuts) in [(0, 1500, [512, 1024]), (0, 513, [512]), (7, 900, [100, 101, 512]), (600, 1400, [1024])] {
            let q = randomFloats(headDim, rng: &rng, scale: 1)
            for level in supportedLevels {
                let whole = cache.part(level: level, q: q, head: 2, first: first, n: n, scale: 0.125, slope: 0)
                let bounds = [first] + cuts + [n]
                let parts = (0..<(bounds.count - 1)).map {
                    cache.part(level: level, q: q, head: 2, first: bounds[$0], n: bounds[$0 + 1], scale: 0.125, slope: 0)
                }
                let outs = parts.flatMap(\.out), lses = parts.map(\.lse)
                var merged = [Float](repeating: .nan, count: headDim), weights = [Float](repeating: .nan, count: parts.count)
                let lse = lt_attend_merge(Int64(parts.count), outs, Int64(headDim), lses, Int64(headDim), &merged, &weights)
                let what = "\(type) \(first)..<\(n) cut at \(cuts) level \(level)"
                #expect(zip(merged, whole.out).allSatisfy { abs($0 - $1) <= 2e-6 + 2e-6 * abs($1) }, "\(what): output")
                #expect(abs(lse - whole.lse) <= 1e-5 * max(1, abs(whole.lse)), "\(what): lse \(lse) vs \(whole.lse)")
                let rescaled = zip(parts, weights).flatMap { part, w in part.p.map { $0 * w } }
                #expect(zip(rescaled, whole.p).allSatisfy { abs($0 - $1) <= 1e-6 }, "\(what): probabilities")
                #expect(abs(weights.reduce(0, +) - 1) <= 1e-6)
            }
        }
    }
    // One part merges to itself exactly.
    let out: [Float] = [1.5, -2.25, 3e-7, 0], lse: [Float] = [17.25]
    var merged = [Float](repeating: .nan, count: 4)
    #expect(lt_attend_merge(1, out, 4, lse, 4, &merged, nil) == 17.25)
    #expect(merged == out)
}

/// A tile of query rows gives, row by row, the bits of each row attended alone at the same level: every
/// element type, head sizes with a 512-bit path (64, 128, 96) and without one (80, 40), tiles longer than
/// the kernel's 8-row register tile, rows of different lengths (a causal prompt: consecutive ends) and of
/// equal lengths (an encoder), windows (first > 0), an ALiBi slope; every row count of the register tile
/// (1 ... 8, each compiled separately), full and partial 16-key tiles.
@Test func rowTileMatchesEachRowAloneBitForBit() {
    var rng = SeededRandom(seed: 303)
    for type in [KVType.f32, .f16, .q8_0] {
        for headDim in [64, 128, 96, 80, 40] where type.unsupported(headDim: headDim) == nil {
            let cache = Cache(type: type, headDim: headDim, kvHeads: 2, block: 16, positions: 600, rng: &rng)
            for (rows, first, firstEnd, step) in [(2, 0, 1, 1), (5, 0, 30, 1), (11, 0, 500, 1), (8, 64, 65, 1), (9, 3, 200, 0), (3, 100, 600, 0),
                                                  (1, 0, 33, 0), (4, 0, 40, 1), (6, 0, 16, 0), (7, 10, 300, 1)] {
                let q = randomFloats(rows * headDim * 3, rng: &rng, scale: 1)
                let qStride = headDim * 3, sStride = 600, oStride = headDim + 5
                let ends = (0..<rows).map { Int64(firstEnd + $0 * step) }
                for level in supportedLevels {
                    for slope: Float in [0, -0.02] {
                        var scores = [Float](repeating: .nan, count: rows * sStride)
                        var out = [Float](repeating: .nan, count: rows * oStride), lse = [Float](repeating: .nan, count: rows)
                        let offset = type.bytes(values: headDim)
                        cache.keys.withUnsafeBytes { k in
                            cache.values.withUnsafeBytes { v in
                                lt_attend_kv_rows_at(Int32(level), type.code, Int64(rows), q, Int64(qStride), k.baseAddress! + offset,
                                                     v.baseAddress! + offset, cache.table, 16, Int64(cache.rowBytes), Int64(first),
                                                     ends, Int64(headDim), 0.125, slope, &scores, Int64(sStride), &out,
                                                     Int64(oStride), &lse)
                            }
                        }
                        for r in 0..<rows {
                            let alone = cache.part(level: level, q: Array(q[(r * qStride)..<(r * qStride + headDim)]), head: 1,
                                                   first: first, n: Int(ends[r]), scale: 0.125, slope: slope)
                            let what = "\(type) hd \(headDim) rows \(rows) first \(first) row \(r) level \(level) slope \(slope)"
                            let o = Array(out[(r * oStride)..<(r * oStride + headDim)])
                            #expect(o.map(\.bitPattern) == alone.out.map(\.bitPattern), "\(what): output")
                            #expect(lse[r].bitPattern == alone.lse.bitPattern, "\(what): lse")
                            let p = Array(scores[(r * sStride)..<(r * sStride + Int(ends[r]) - first)])
                            #expect(p.map(\.bitPattern) == alone.p.map(\.bitPattern), "\(what): probabilities")
                        }
                    }
                }
            }
        }
    }
}
