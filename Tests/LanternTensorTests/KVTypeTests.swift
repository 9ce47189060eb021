import Testing
import Foundation
import CKernels
@testable import LanternTensor

// KV cache element types (f32, f16, q8_0): storing rows and attention that reads them directly.

private func store(_ type: KVType, _ x: [Float], level: Int) -> [UInt8] {
    var out = [UInt8](repeating: 0xEE, count: type.bytes(values: x.count))
    out.withUnsafeMutableBytes { lt_kv_store_at(Int32(level), type.code, x, Int64(x.count), $0.baseAddress!) }
    return out
}

/// lt_f32_to_f16 rounds as IEEE (Swift's Float16 init: nearest, ties to even) on normal, subnormal,
/// tie, overflow and infinite inputs, and the F16C store path writes the same bits as the scalar one.
@Test func halfConversionMatchesIEEE() {
    var rng = SeededRandom(seed: 91)
    var inputs: [Float] = [0, -0, 1, -1, 65504, 65519.99, 65520, -65520, 1e-8, -3e-5, 6.1e-5, 5.96e-8, 2.98e-8, 2.99e-8,
                           .infinity, -.infinity, .greatestFiniteMagnitude, .leastNonzeroMagnitude]
    // Exact ties between two halves (odd and even mantissas), normal and subnormal.
    for m in [0x3C00, 0x3C01, 0x0001, 0x0002, 0x03FF, 0x7BFE] as [UInt16] {
        let a = Float(Float16(bitPattern: m)), b = Float(Float16(bitPattern: m + 1))
        inputs.append((a + b) / 2)
    }
    for _ in 0..<20_000 { inputs.append(Float(bitPattern: UInt32(truncatingIfNeeded: rng.next()) & 0xBFFF_FFFF)) }  // |x| < 2^1
    for _ in 0..<20_000 { inputs.append(Float(bitPattern: UInt32(truncatingIfNeeded: rng.next()))) }
    inputs = inputs.filter { !$0.isNaN }
    for x in inputs {
        let expected = Float16(x).bitPattern
        #expect(lt_f32_to_f16(x) == expected, "\(x): \(String(lt_f32_to_f16(x), radix: 16)) vs \(String(expected, radix: 16))")
    }
    let n = inputs.count / 8 * 8 + 5   // a tail the vector path leaves to the scalar one
    let x = Array(inputs.prefix(n))
    let scalar = store(.f16, x, level: 0)
    for level in supportedLevels { #expect(store(.f16, x, level: level) == scalar, "level \(level)") }
    #expect(decodeKV(.f16, scalar, values: n).map(\.bitPattern) == x.map { Float(Float16($0)).bitPattern })
}

/// q8_0 rows: d = max|x| / 127 per 32 values (stored as f16), q = round(x / d); decoded values are within
/// half a step (plus the scale's f16 rounding, 2^-11 relative) of the input; a zero block stays zero.
@Test func q8RowsRoundTrip() {
    var rng = SeededRandom(seed: 92)
    var x = randomFloats(32 * 7, rng: &rng, scale: 3)
    for i in 64..<96 { x[i] = 0 }                        // a zero block
    x[100] = 40                                          // one large value in a block
    let stored = store(.q8_0, x, level: 0)
    for level in supportedLevels { #expect(store(.q8_0, x, level: level) == stored) }
    let back = decodeKV(.q8_0, stored, values: x.count)
    for b in 0..<7 {
        let block = x[(32 * b)..<(32 * b + 32)]
        let amax = block.map(abs).max()!
        let step = amax / 127
        for i in block.indices {
            #expect(abs(back[i] - x[i]) <= step / 2 + amax * 0x1p-10 + 1e-7, "block \(b) value \(i): \(back[i]) vs \(x[i])")
        }
    }
    #expect(back[64..<96].allSatisfy { $0 == 0 })
}

/// Attention over f16 and q8_0 rows on every instruction-set level:
/// - against the double-precision reference run on the decoded rows: the same bound as the float32
///   kernel test (2e-5 + 1e-6 per output), so the kernels add nothing beyond float rounding;
/// - against the reference on the original float32 rows, the error the storage itself costs. With these
///   inputs (|q|, |k| <= 2, |v| <= 1, scale 0.125, head sizes to 256) a stored value is off by at most
///   2^-11 (f16) or 1/254 of its block's max (q8_0); a score then moves by at most
///   scale * sum|q_i| * max|dk| and the output by max|dv| + 2 * max|dscore| * max|v|. The test checks
///   that bound, computed from the actual inputs.
@Test func attentionOverStoredRowsMatchesReference() {
    var rng = SeededRandom(seed: 93)
    for type in [KVType.f16, .q8_0] {
        for (headDim, kvHeads, block) in [(64, 3, 16), (128, 2, 16), (256, 1, 4), (32, 2, 1), (96, 1, 16), (80, 2, 8)] {
            if type.unsupported(headDim: headDim) != nil { continue }
            for count in [1, 5, 16, 33] {
                let blocks = (count + block - 1) / block
                let table: [Int32] = (0..<Int32(blocks + 2)).reversed().map { $0 }
                let rows = (blocks + 2) * block, rowValues = kvHeads * headDim
                let keys = randomFloats(rows * rowValues, rng: &rng, scale: 2), values = randomFloats(rows * rowValues, rng: &rng)
                let q = randomFloats(headDim, rng: &rng, scale: 2)
                let head = kvHeads - 1                                  // the last head of each row
                let storedK = store(type, keys, level: 0), storedV = store(type, values, level: 0)
                let decodedK = decodeKV(type, storedK, values: keys.count), decodedV = decodeKV(type, storedV, values: values.count)
                let rowBytes = type.bytes(values: rowValues), headOffset = head * type.bytes(values: headDim)
                for first in Set([0, count / 2, count - 1]).sorted() {
                    var onDecoded = [Float](repeating: .nan, count: headDim), onOriginal = onDecoded
                    table.withUnsafeBufferPointer { t in
                        Reference.attend(query: q, keys: Array(decodedK[(head * headDim)...]), values: Array(decodedV[(head * headDim)...]),
                                         table: t.baseAddress, block: block, stride: rowValues, first: first, count: count,
                                         headDim: headDim, scale: 0.125, slope: 0, bias: nil, into: &onDecoded)
                        Reference.attend(query: q, keys: Array(keys[(head * headDim)...]), values: Array(values[(head * headDim)...]),
                                         table: t.baseAddress, block: block, stride: rowValues, first: first, count: count,
                                         headDim: headDim, scale: 0.125, slope: 0, bias: nil, into: &onOriginal)
                    }
                    let dk = zip(keys, decodedK).map { abs($0 - $1) }.max()!, dv = zip(values, decodedV).map { abs($0 - $1) }.max()!
                    let dScore = 0.125 * q.map(abs).reduce(0, +) * dk
                    let storageBound = dv + 2 * dScore * values.map(abs).max()! + 1e-5
                    for level in supportedLevels {
                        var out = [Float](repeating: .nan, count: headDim), scores = [Float](repeating: .nan, count: count - first)
                        storedK.withUnsafeBytes { k in
                            storedV.withUnsafeBytes { v in
                                table.withUnsafeBufferPointer { t in
                                    lt_attend_kv_at(Int32(level), type.code, q, k.baseAddress! + headOffset, v.baseAddress! + headOffset,
                                                    t.baseAddress, Int64(block), Int64(rowBytes), Int64(first), Int64(count),
                                                    Int64(headDim), 0.125, 0, nil, &scores, &out)
                                }
                            }
                        }
                        let what = "\(type) level \(level) hd \(headDim) n \(count) first \(first)"
                        #expect(zip(out, onDecoded).allSatisfy { abs($0 - $1) <= 2e-5 + 1e-6 }, "\(what): vs decoded rows")
                        let worst = zip(out, onOriginal).map { abs($0 - $1) }.max()!
                        #expect(worst <= storageBound, "\(what): \(worst) over the storage bound \(storageBound)")
                        #expect(abs(scores.reduce(0, +) - 1) <= 1e-5)
                    }
                }
            }
        }
    }
}

/// The float32 entry point and the typed one with f32 rows give the same bits (one code path).
@Test func f32RowsThroughTypedEntryAreUnchanged() {
    var rng = SeededRandom(seed: 94)
    let hd = 64, n = 37, stride = 192
    let q = randomFloats(hd, rng: &rng), k = randomFloats(n * stride, rng: &rng), v = randomFloats(n * stride, rng: &rng)
    for level in supportedLevels {
        var a = [Float](repeating: 0, count: hd), b = a, s1 = [Float](repeating: 0, count: n), s2 = s1
        lt_attend_ext_f32_at(Int32(level), q, k, v, nil, 16, Int64(stride), 0, Int64(n), Int64(hd), 0.125, 0, nil, &s1, &a)
        lt_attend_kv_at(Int32(level), KVType.f32.code, q, k, v, nil, 16, Int64(stride * 4), 0, Int64(n), Int64(hd), 0.125, 0, nil, &s2, &b)
        #expect(a.map(\.bitPattern) == b.map(\.bitPattern), "level \(level)")
    }
}

/// Sizes: f16 is half of f32, q8_0 is 34 bytes per 32 values; unsupported head sizes are named.
@Test func kvTypeSizes() {
    #expect(KVType.f32.bytes(values: 192) == 768)
    #expect(KVType.f16.bytes(values: 192) == 384)
    #expect(KVType.q8_0.bytes(values: 192) == 204)
    #expect(lt_kv_bytes(KVType.q8_0.code, 192) == 204)
    #expect(KVType.q8_0.unsupported(headDim: 80)?.contains("80") == true)
    #expect(KVType.f16.unsupported(headDim: 80) == nil)
}
