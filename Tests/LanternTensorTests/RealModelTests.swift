import Testing
import Foundation
import Lantern
@testable import LanternTensor

/// Just enough GGUF (v2/v3) to find tensors: header, skipped metadata, tensor infos, aligned data start.
struct MiniGGUF {
    struct Tensor { let name: String; let dims: [Int]; let ggmlType: UInt32; let offset: Int }
    let data: Data
    let tensors: [Tensor]
    let dataStart: Int

    struct Malformed: Error {}

    init(url: URL) throws {
        let data = try Data(contentsOf: url, options: .alwaysMapped)
        var pos = 0
        func read<T: FixedWidthInteger>(_: T.Type) throws -> T {
            guard pos + MemoryLayout<T>.size <= data.count else { throw Malformed() }
            let v = data.withUnsafeBytes { $0.loadUnaligned(fromByteOffset: pos, as: T.self) }
            pos += MemoryLayout<T>.size
            return T(littleEndian: v)
        }
        func string() throws -> String {
            let n = Int(try read(UInt64.self))
            guard n >= 0, pos + n <= data.count else { throw Malformed() }
            defer { pos += n }
            return String(decoding: data[pos..<(pos + n)], as: UTF8.self)
        }
        func skip(type: UInt32) throws {
            switch type {
            case 0, 1, 7: pos += 1
            case 2, 3: pos += 2
            case 4, 5, 6: pos += 4
            case 10, 11, 12: pos += 8
            case 8: _ = try string()
            case 9:
                let inner = try read(UInt32.self), count = try read(UInt64.self)
                for _ in 0..<count { try skip(type: inner) }
            default: throw Malformed()
            }
        }
        guard try read(UInt32.self) == 0x4655_4747 else { throw Malformed() }   // "GGUF"
        _ = try read(UInt32.self)
        let tensorCount = try read(UInt64.self), kvCount = try read(UInt64.self)
        var alignment = 32
        for _ in 0..<kvCount {
            let key = try string(), type = try read(UInt32.self)
            if key == "general.alignment" && type == 4 { alignment = Int(try read(UInt32.self)) } else { try skip(type: type) }
        }
        var tensors: [Tensor] = []
        for _ in 0..<tensorCount {
            let name = try string()
            let nDims = try read(UInt32.self)
            var dims: [Int] = []
            for _ in 0..<nDims { dims.append(Int(try read(UInt64.self))) }
            let type = try read(UInt32.self)
            tensors.append(Tensor(name: name, dims: dims, ggmlType: type, offset: Int(try read(UInt64.self))))
        }
        self.data = data
        self.tensors = tensors
        dataStart = (pos + alignment - 1) / alignment * alignment
    }
}

/// SmolLM2 through the fetcher's cache (fetched when absent); a failed fetch cancels the test, saying why.
let smolLMPath: Result<String, any Error> = Result { try ModelFetcher().ensure(.defaultModel).path }

/// Real SmolLM2 weights: the Q8_0 tied embedding/output matrix and Q4_1 projections, first and last rows,
/// through `Kernels.matmul` (2 threads, 1 and 5 tokens, both activation precisions) vs the float reference:
/// |error| <= 1e-2 (`.int8`) or 1e-4 (`.int8x2`) * sum_k |W x| + 1e-5.
@Test func realSmolLM2RowsMatchReference() throws {
    let path: String
    switch smolLMPath {
    case let .success(p): path = p
    case let .failure(error): try Test.cancel("SmolLM2 could not be fetched: \(error)")
    }
    let file = try MiniGGUF(url: URL(fileURLWithPath: path))
    let types: [UInt32: DType] = [0: .f32, 1: .f16, 2: .q4_0, 3: .q4_1, 8: .q8_0, 30: .bf16]
    let wanted = ["token_embd.weight", "blk.0.attn_q.weight", "blk.0.ffn_down.weight", "blk.29.ffn_up.weight"]
    let pool = ThreadPool(threads: 2)
    var rng = SeededRandom(seed: 99)
    var checked = 0
    try file.data.withUnsafeBytes { raw in
        for name in wanted {
            guard let t = file.tensors.first(where: { $0.name == name }), t.dims.count == 2,
                  let dtype = types[t.ggmlType] else { continue }
            let cols = t.dims[0], rows = t.dims[1]
            let base = raw.baseAddress! + file.dataStart + t.offset
            let rowBytes = try #require(dtype.byteCount(cols))
            #expect(file.dataStart + t.offset + rows * rowBytes <= raw.count, "\(name) runs past the file")
            // A slice of 13 rows at the start and 13 at the end (odd, not a multiple of the 4-row tile).
            for start in [0, rows - 13] {
                let w = WeightMatrix(dtype: dtype, rows: 13, cols: cols, data: base + start * rowBytes)
                for (tokens, precision) in [(1, Kernels.ActivationPrecision.int8), (5, .int8), (1, .int8x2), (5, .int8x2)] {
                    let x = randomFloats(tokens * cols, rng: &rng, scale: 3)
                    var y = [Float](repeating: .nan, count: tokens * 13), expected = y
                    Kernels.matmul(w, x, tokens: tokens, &y, pool: pool, workspace: .current, precision: precision)
                    Reference.matmul(w, x, tokens: tokens, &expected)
                    let row = UnsafeMutablePointer<Float>.allocate(capacity: cols); defer { row.deallocate() }
                    let relative: Float = !dtype.isQuantized ? 1e-5 : precision == .int8 ? 1e-2 : 1e-4
                    for r in 0..<13 {
                        w.dequantizeRow(r, into: row)
                        for t in 0..<tokens {
                            let bound = relative * x.withUnsafeBufferPointer { absDot(row, $0.baseAddress! + t * cols, count: cols) } + 1e-5
                            #expect(abs(y[t * 13 + r] - expected[t * 13 + r]) <= bound, "\(name) \(precision) row \(start + r) token \(t)")
                        }
                    }
                }
            }
            checked += 1
        }
    }
    #expect(checked == wanted.count, "expected tensors missing from the file")
}
