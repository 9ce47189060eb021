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
        case .q5_0, .q5_1:
            let one = dtype == .q5_1
            for b in 0..<(count / 32) {
                let block = src + b * dtype.blockBytes
                let d = halfToFloat(block.loadUnaligned(as: UInt16.self))
                let m = one ? halfToFloat(block.loadUnaligned(fromByteOffset: 2, as: UInt16.self)) : 0
                let qh = block.loadUnaligned(fromByteOffset: one ? 4 : 2, as: UInt32.self)
                for j in 0..<32 {
                    let q = Int(q5Value(block + (one ? 8 : 6), qh, j))
                    dst[b * 32 + j] = one ? d * Float(q) + m : d * Float(q - 16)
                }
            }
        case .q2_k, .q3_k, .q4_k, .q5_k, .q6_k:
            for b in 0..<(count / 256) {
                let block = src + b * dtype.blockBytes
                for e in 0..<256 {
                    let (scale, q, offset) = kQuantValue(dtype, block, e)
                    dst[b * 256 + e] = scale * Float(q) - offset
                }
            }
        }
    }
}

extension Reference {
    /// The 5-bit value j (0..<32) of a Q5_0 / Q5_1 block: nibble from `qs` (16 bytes), high bit from `qh`.
    @inline(__always)
    static func q5Value(_ qs: UnsafeRawPointer, _ qh: UInt32, _ j: Int) -> UInt8 {
        let byte = qs.load(fromByteOffset: j % 16, as: UInt8.self)
        return (j < 16 ? byte & 0x0F : byte >> 4) | UInt8((qh >> UInt32(j)) & 1) << 4
    }

    /// Scale and min (6 bits each) of sub-block j (0..<8) of a Q4_K / Q5_K super-block, from its 12 packed bytes.
    @inline(__always)
    static func kScaleMin(_ p: UnsafeRawPointer, _ j: Int) -> (Int, Int) {
        func b(_ i: Int) -> Int { Int(p.load(fromByteOffset: i, as: UInt8.self)) }
        if j < 4 { return (b(j) & 63, b(j + 4) & 63) }
        return ((b(j + 4) & 0x0F) | (b(j - 4) >> 6) << 4, (b(j + 4) >> 4) | (b(j) >> 6) << 4)
    }

    /// Signed 6-bit scale i (0..<16, already minus 32) of a Q3_K super-block, from its 12 packed bytes.
    @inline(__always)
    static func q3kScale(_ p: UnsafeRawPointer, _ i: Int) -> Int {
        let low = Int(p.load(fromByteOffset: i % 8, as: UInt8.self)) >> (i < 8 ? 0 : 4) & 0x0F
        let high = Int(p.load(fromByteOffset: 8 + i % 4, as: UInt8.self)) >> (2 * (i / 4)) & 3
        return (low | high << 4) - 32
    }

    /// Value e (0..<256) of a K-quant super-block as its parts: x = d * sc * q - dmin * m, with d, dmin the
    /// block's float scales and sc, m the integer scale and min of the value's sub-block (16 or 32 values).
    /// The integer parts are what the integer kernels use; dmin and m are 0 for Q3_K and Q6_K.
    static func kQuantParts(_ dtype: DType, _ block: UnsafeRawPointer, _ e: Int)
        -> (d: Float, sc: Int, q: Int, dmin: Float, m: Int) {
        func byte(_ i: Int) -> Int { Int(block.load(fromByteOffset: i, as: UInt8.self)) }
        func half(_ i: Int) -> Float { halfToFloat(block.loadUnaligned(fromByteOffset: i, as: UInt16.self)) }
        let (h, j, l) = (e / 128, e % 128 / 32, e % 32)   // half, 32-group in the half, index in the group
        switch dtype {
        case .q2_k:
            let sc = byte(e / 16)
            return (half(80), sc & 0x0F, byte(16 + h * 32 + l) >> (2 * j) & 3, half(82), sc >> 4)
        case .q3_k:
            let low = byte(32 + h * 32 + l) >> (2 * j) & 3
            let hbit = byte(l) >> (h * 4 + j) & 1
            return (half(108), q3kScale(block + 96, e / 16), low - (hbit == 1 ? 0 : 4), 0, 0)
        case .q4_k, .q5_k:
            let sub = e / 32   // sub-blocks 2c and 2c + 1 share the nibble bytes of 64-value chunk c
            let (sc, m) = kScaleMin(block + 4, sub)
            let qsStart = dtype == .q4_k ? 16 : 48
            var q = byte(qsStart + sub / 2 * 32 + l) >> (4 * (sub % 2)) & 0x0F
            if dtype == .q5_k { q |= (byte(16 + l) >> sub & 1) << 4 }
            return (half(0), sc, q, half(2), m)
        default: // .q6_k: value 128h + 32j + l
            let low = byte(64 * h + 32 * (j & 1) + l) >> (4 * (j >> 1)) & 0x0F
            let high = byte(128 + 32 * h + l) >> (2 * j) & 3
            return (half(208), Int(Int8(bitPattern: UInt8(byte(192 + e / 16)))), (low | high << 4) - 32, 0, 0)
        }
    }

    /// Value e of a K-quant super-block as (scale, q, offset), x = scale * q - offset, rounded as ggml
    /// (and the `gguf` package) do: scale = d * sc and offset = dmin * m in float32 (both exact), then one
    /// rounding for the product (exact too) and one for the difference.
    static func kQuantValue(_ dtype: DType, _ block: UnsafeRawPointer, _ e: Int) -> (Float, Int, Float) {
        let p = kQuantParts(dtype, block, e)
        return (p.d * Float(p.sc), p.q, p.dmin * Float(p.m))
    }
}
