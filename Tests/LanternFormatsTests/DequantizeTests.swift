import Foundation
import Testing
import LanternTensor
@testable import LanternFormats

/// Each supported tensor type, written and dequantized by llama.cpp's `gguf` Python package
/// (tools/make_dequant_fixture.py), read back through our GGUF reader and dequantized by our kernels.
@Suite struct DequantizeTests {
    struct Expected: Decodable { let shape: [Int]; let dequantized: [String: [Float]] }

    static let dir = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .appendingPathComponent("Fixtures/dequant")

    @Test(arguments: DType.allCases)
    func matchesTheGGUFPackage(dtype: DType) throws {
        let expected = try JSONDecoder().decode(Expected.self, from: Data(contentsOf: Self.dir.appendingPathComponent("expected.json")))
        let file = try GGUFFile(path: Self.dir.appendingPathComponent("types.gguf").path)
        let t = try file.tensor(dtype.rawValue)
        #expect(t.dtype == dtype)
        #expect(t.shape == expected.shape)
        let want = try #require(expected.dequantized[dtype.rawValue])
        // Exact: both sides compute d * q (+ m) in float32 from the same stored bits.
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
    }
}
