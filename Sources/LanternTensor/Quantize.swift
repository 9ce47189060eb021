import Foundation

/// Bytes a converted weight matrix owns (a float32 checkpoint quantized at load). `WeightMatrix.owner`
/// holds it, so the matrix keeps its memory alive however it is copied.
public final class OwnedBytes: @unchecked Sendable {
    public let pointer: UnsafeMutableRawPointer
    public let count: Int
    public init(count: Int) {
        self.count = count
        pointer = .allocate(byteCount: max(count, 1), alignment: 64)
        pointer.initializeMemory(as: UInt8.self, repeating: 0, count: max(count, 1))
    }
    deinit { pointer.deallocate() }
}

extension Reference {
    /// Quantizes `count` floats (a multiple of 32) to Q8_0 blocks at `dst` (count / 32 * 34 bytes), as
    /// ggml's `quantize_row_q8_0_ref`: per block d = max|x| / 127 stored as f16, q = round(x / d) (half
    /// away from zero) with the float32 d. Each value moves by at most about d / 2 (plus d's f16 rounding).
    public static func quantizeQ8_0(_ x: UnsafePointer<Float>, count: Int, into dst: UnsafeMutableRawPointer) {
        precondition(count % 32 == 0)
        for b in 0..<(count / 32) {
            let xb = x + b * 32, block = dst + b * 34
            var amax: Float = 0
            for j in 0..<32 { amax = max(amax, abs(xb[j])) }
            let d = amax / 127
            let id: Float = d != 0 ? 1 / d : 0
            block.storeBytes(of: floatToHalf(d), as: UInt16.self)
            for j in 0..<32 {
                let q = Int8(max(-127, min(127, (xb[j] * id).rounded(.toNearestOrAwayFromZero))))
                block.storeBytes(of: q, toByteOffset: 2 + j, as: Int8.self)
            }
        }
    }
}

extension WeightMatrix {
    /// This matrix converted to Q8_0 in memory it owns (any source dtype; read row by row as float32).
    /// Precondition: `cols` is a multiple of 32.
    public func quantizedQ8_0() -> WeightMatrix {
        precondition(cols % 32 == 0, "Q8_0 needs rows of a multiple of 32 values, found \(cols)")
        let rowBytes = DType.q8_0.byteCount(cols)!
        let bytes = OwnedBytes(count: rows * rowBytes)
        var row = [Float](repeating: 0, count: cols)
        row.withUnsafeMutableBufferPointer { buf in
            for r in 0..<rows {
                dequantizeRow(r, into: buf.baseAddress!)
                Reference.quantizeQ8_0(buf.baseAddress!, count: cols, into: bytes.pointer + r * rowBytes)
            }
        }
        return WeightMatrix(dtype: .q8_0, rows: rows, cols: cols, data: UnsafeRawPointer(bytes.pointer), owner: bytes)
    }
}
