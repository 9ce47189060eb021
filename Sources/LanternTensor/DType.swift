/// Element types of weight tensors, with the block layouts GGUF uses.
///
/// Quantized types store `blockSize` consecutive values of one row in `blockBytes` bytes; a row's length
/// must be a multiple of `blockSize`. Layouts (little-endian, as in GGUF):
/// - `q8_0`: f16 scale d, 32 x int8 q; x = d * q (34 bytes)
/// - `q4_0`: f16 scale d, 16 bytes of nibbles; x = d * (q - 8) (18 bytes)
/// - `q4_1`: f16 scale d, f16 min m, 16 bytes of nibbles; x = d * q + m (20 bytes)
/// - `q5_0`: f16 d, 4 bytes qh (bit j = high bit of element j), 16 bytes of nibbles; x = d * (q - 16) (22 bytes)
/// - `q5_1`: f16 d, f16 m, 4 bytes qh, 16 bytes of nibbles; x = d * q + m (24 bytes)
/// In the 4- and 5-bit layouts, byte j holds element j in its low nibble and element j + 16 in its high nibble.
///
/// K-quants ("super-blocks" of 256 values in 16 or 8 sub-blocks with their own small integer scales):
/// - `q2_k`: 16 bytes scales (low nibble scale, high nibble min of each 16 values), 64 bytes of 2-bit q,
///   f16 d, f16 dmin; x = d * sc * q - dmin * m (84 bytes)
/// - `q3_k`: 32 bytes hmask, 64 bytes of 2-bit low q, 12 bytes of 16 packed 6-bit scales, f16 d;
///   x = d * (sc - 32) * (q_low - (hbit ? 0 : 4)) (110 bytes)
/// - `q4_k`: f16 d, f16 dmin, 12 bytes of 8 packed 6-bit (scale, min) pairs, 128 bytes of nibbles;
///   x = d * sc * q - dmin * m per 32 values (144 bytes)
/// - `q5_k`: as q4_k plus 32 bytes qh (bit j of byte l: high bit of value l of sub-block j) before the
///   nibbles (176 bytes)
/// - `q6_k`: 128 bytes low nibbles, 64 bytes of 2-bit high parts, 16 int8 scales (one per 16 values), f16 d;
///   x = d * sc * (q - 32) (210 bytes)
/// Element order inside the K-quant blocks follows ggml (see `Reference.dequantize`).
public enum DType: String, Sendable, CaseIterable, Hashable {
    case f32, f16, bf16, q8_0, q4_0, q4_1
    case q5_0, q5_1, q2_k, q3_k, q4_k, q5_k, q6_k

    /// Number of values in one block (1 for plain float types).
    public var blockSize: Int {
        switch self {
        case .f32, .f16, .bf16: return 1
        case .q8_0, .q4_0, .q4_1, .q5_0, .q5_1: return 32
        case .q2_k, .q3_k, .q4_k, .q5_k, .q6_k: return 256
        }
    }

    /// Bytes taken by one block.
    public var blockBytes: Int {
        switch self {
        case .f32: return 4
        case .f16, .bf16: return 2
        case .q8_0: return 34
        case .q4_0: return 18
        case .q4_1: return 20
        case .q5_0: return 22
        case .q5_1: return 24
        case .q2_k: return 84
        case .q3_k: return 110
        case .q4_k: return 144
        case .q5_k: return 176
        case .q6_k: return 210
        }
    }

    /// True for the 256-value super-block types.
    public var isKQuant: Bool { blockSize == 256 }

    /// True for block-quantized types.
    public var isQuantized: Bool { blockSize > 1 }

    /// Bytes taken by `count` values, or nil when `count` is not a whole number of blocks or overflows.
    public func byteCount(_ count: Int) -> Int? {
        guard count >= 0, count % blockSize == 0 else { return nil }
        let (bytes, overflow) = (count / blockSize).multipliedReportingOverflow(by: blockBytes)
        return overflow ? nil : bytes
    }
}
