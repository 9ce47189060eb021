import Foundation
import Testing
import LanternTensor
@testable import LanternFormats

/// Each supported tensor type, written and dequantized by llama.cpp's `gguf` Python package
/// (tools/make_dequant_fixture.py), read back through our GGUF reader and dequantized by our kernels.
@Suite struct DequantizeTests {
    /// `shapes` per type (K-quants need 256-value rows); `shape` is the shape of the others.
    struct Expected: Decodable { let shape: [Int]; let shapes: [String: [Int]]?; let dequantized: [String: [Float]] }

    static let dir = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .appendingPathComponent("Fixtures/dequant")

    @Test(arguments: DType.allCases)
    func matchesTheGGUFPackage(dtype: DType) throws {
        let expected = try JSONDecoder().decode(Expected.self, from: Data(contentsOf: Self.dir.appendingPathComponent("expected.json")))
        let file = try GGUFFile(path: Self.dir.appendingPathComponent("types.gguf").path)
        let t = try file.tensor(dtype.rawValue)
        #expect(t.dtype == dtype)
        #expect(t.shape == expected.shapes?[dtype.rawValue] ?? expected.shape)
        let want = try #require(expected.dequantized[dtype.rawValue])
        // Exact: both sides compute d * q (+ m) in float32 from the same stored bits (K-quants: d * sc and
        // dmin * m are exact in float32, so is their product with q; one rounding for the difference).
        #expect(t.floats() == want)
        // Row-wise access (embedding look-ups) gives the same values.
        let m = t.matrix()
        var row = [Float](repeating: .nan, count: m.cols)
        row.withUnsafeMutableBufferPointer { m.dequantizeRow(2, into: $0.baseAddress!) }
        #expect(row == Array(want[(2 * m.cols)...]))
    }

    @Test func blockLayoutSizes() {
        #expect(DType.q8_0.blockBytes == 2 + 32)
        #expect(DType.q4_0.blockBytes == 2 + 16)
        #expect(DType.q4_1.blockBytes == 2 + 2 + 16)
        #expect(DType.q4_1.byteCount(64) == 40)
        #expect(DType.q4_1.byteCount(33) == nil)
        #expect(DType.f16.byteCount(3) == 6)
        #expect(DType.q4_k.blockBytes == 144 && DType.q5_k.blockBytes == 176 && DType.q6_k.blockBytes == 210)
        #expect(DType.q3_k.blockBytes == 110 && DType.q2_k.blockBytes == 84)
        #expect(DType.q5_0.blockBytes == 22 && DType.q5_1.blockBytes == 24)
        #expect(DType.q4_k.byteCount(512) == 288 && DType.q6_k.byteCount(300) == nil)
    }

    /// GGUF type ids of the K-quant and 5-bit types map to their dtypes, with matching layout sizes.
    @Test func kQuantTypeIDs() {
        let ids: [UInt32: DType] = [6: .q5_0, 7: .q5_1, 10: .q2_k, 11: .q3_k, 12: .q4_k, 13: .q5_k, 14: .q6_k]
        for (id, dtype) in ids {
            let t = GGMLType(id: id)
            #expect(t.dtype == dtype)
            #expect(t.byteCount(512) == dtype.byteCount(512))
        }
    }
}
