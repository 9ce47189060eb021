/// Plain-Swift reference dequantization: the ground truth every fast kernel is tested against.
public enum Reference {
    /// Expands `count` values of `dtype` starting at `src` into float32.
    /// Precondition: `count` is a multiple of `dtype.blockSize` and `src` holds that many bytes.
    public static func dequantize(_ dtype: DType, _ src: UnsafeRawPointer, count: Int, into dst: UnsafeMutablePointer<Float>) {
        precondition(count % dtype.blockSize == 0)
        switch dtype {
        case .f32:
            for i in 0..<count { dst[i] = src.loadUnaligned(fromByteOffset: 4 * i, as: Float.self) }
        case .f16:
            for i in 0..<count { dst[i] = halfToFloat(src.loadUnaligned(fromByteOffset: 2 * i, as: UInt16.self)) }
        case .bf16:
            for i in 0..<count { dst[i] = bf16ToFloat(src.loadUnaligned(fromByteOffset: 2 * i, as: UInt16.self)) }
        case .q8_0:
            for b in 0..<(count / 32) {
                let block = src + b * 34
                let d = halfToFloat(block.loadUnaligned(as: UInt16.self))
                for j in 0..<32 {
                    dst[b * 32 + j] = d * Float(Int8(bitPattern: block.load(fromByteOffset: 2 + j, as: UInt8.self)))
                }
            }
        case .q4_0:
            for b in 0..<(count / 32) {
                let block = src + b * 18
                let d = halfToFloat(block.loadUnaligned(as: UInt16.self))
                for j in 0..<16 {
                    let byte = block.load(fromByteOffset: 2 + j, as: UInt8.self)
                    dst[b * 32 + j] = d * Float(Int(byte & 0x0F) - 8)
                    dst[b * 32 + j + 16] = d * Float(Int(byte >> 4) - 8)
                }
            }
        case .q4_1:
            for b in 0..<(count / 32) {
                let block = src + b * 20
                let d = halfToFloat(block.loadUnaligned(as: UInt16.self))
                let m = halfToFloat(block.loadUnaligned(fromByteOffset: 2, as: UInt16.self))
                for j in 0..<16 {
                    let byte = block.load(fromByteOffset: 4 + j, as: UInt8.self)
                    dst[b * 32 + j] = d * Float(byte & 0x0F) + m
                    dst[b * 32 + j + 16] = d * Float(byte >> 4) + m
                }
            }
        }
    }
}
