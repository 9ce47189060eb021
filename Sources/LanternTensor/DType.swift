/// Element types of weight tensors, with the block layouts GGUF uses.
///
/// Quantized types store `blockSize` consecutive values of one row in `blockBytes` bytes; a row's length
/// must be a multiple of `blockSize`. Layouts (little-endian, as in GGUF):
/// - `q8_0`: f16 scale d, 32 x int8 q; x = d * q (34 bytes)
/// - `q4_0`: f16 scale d, 16 bytes of nibbles; x = d * (q - 8) (18 bytes)
/// - `q4_1`: f16 scale d, f16 min m, 16 bytes of nibbles; x = d * q + m (20 bytes)
/// In both 4-bit layouts, byte j holds element j in its low nibble and element j + 16 in its high nibble.
public enum DType: String, Sendable, CaseIterable, Hashable {
    case f32, f16, bf16, q8_0, q4_0, q4_1

    /// Number of values in one block (1 for plain float types).
    public var blockSize: Int {
        switch self {
        case .f32, .f16, .bf16: return 1
        case .q8_0, .q4_0, .q4_1: return 32
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
        }
    }

    /// True for block-quantized types.
    public var isQuantized: Bool { blockSize > 1 }

    /// Bytes taken by `count` values, or nil when `count` is not a whole number of blocks or overflows.
    public func byteCount(_ count: Int) -> Int? {
        guard count >= 0, count % blockSize == 0 else { return nil }
        let (bytes, overflow) = (count / blockSize).multipliedReportingOverflow(by: blockBytes)
        return overflow ? nil : bytes
    }
}
