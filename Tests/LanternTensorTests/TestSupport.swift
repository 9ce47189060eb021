import CKernels
@testable import LanternTensor

/// SplitMix64: deterministic random numbers so failures reproduce.
struct SeededRandom {
    var state: UInt64
    init(seed: UInt64) { state = seed }
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
    /// Uniform in [-1, 1).
    mutating func float() -> Float { Float(next() >> 40) / Float(1 << 23) - 1 }
    mutating func byte() -> UInt8 { UInt8(truncatingIfNeeded: next()) }
}

/// Random bytes of a `[rows, cols]` matrix of `dtype` with plausible scales (|d| ~ 0.01 .. 0.1).
func randomMatrixBytes(_ dtype: DType, rows: Int, cols: Int, rng: inout SeededRandom) -> [UInt8] {
    var bytes: [UInt8] = []
    let count = rows * cols
    func appendHalf(_ v: Float) { let h = floatToHalf(v); bytes.append(UInt8(h & 0xFF)); bytes.append(UInt8(h >> 8)) }
    switch dtype {
    case .f32:
        for _ in 0..<count { withUnsafeBytes(of: rng.float()) { bytes.append(contentsOf: $0) } }
    case .f16:
        for _ in 0..<count { appendHalf(rng.float()) }
    case .bf16:
        for _ in 0..<count { let b = rng.float().bitPattern >> 16; bytes.append(UInt8(b & 0xFF)); bytes.append(UInt8(b >> 8)) }
    case .q8_0, .q4_0, .q4_1:
        for _ in 0..<(count / 32) {
            appendHalf(0.01 + 0.09 * abs(rng.float()) * (rng.next() & 1 == 0 ? 1 : -1))
            if dtype == .q4_1 { appendHalf(0.5 * rng.float()) }
            for _ in 0..<(dtype == .q8_0 ? 32 : 16) { bytes.append(rng.byte()) }   // includes q8 = -128
        }
    case .q5_0, .q5_1, .q2_k, .q3_k, .q4_k, .q5_k, .q6_k:
        // Random bits everywhere, then plausible f16 scales at the layout's offsets.
        for _ in 0..<(count / dtype.blockSize) {
            let start = bytes.count
            for _ in 0..<dtype.blockBytes { bytes.append(rng.byte()) }
            func setHalf(_ offset: Int, _ v: Float) {
                let h = floatToHalf(v)
                bytes[start + offset] = UInt8(h & 0xFF); bytes[start + offset + 1] = UInt8(h >> 8)
            }
            func scale() -> Float { (0.01 + 0.09 * abs(rng.float())) * (rng.next() & 1 == 0 ? 1 : -1) }
            switch dtype {
            case .q5_0: setHalf(0, scale())
            case .q5_1: setHalf(0, scale()); setHalf(2, 0.5 * rng.float())
            case .q2_k: setHalf(80, scale() / 8); setHalf(82, scale() / 8)
            case .q3_k: setHalf(108, scale() / 16)
            case .q4_k, .q5_k: setHalf(0, scale() / 32); setHalf(2, scale() / 32)
            default: setHalf(208, scale() / 64)   // .q6_k
            }
        }
    }
    precondition(bytes.count == dtype.byteCount(count)!)
    return bytes
}

func randomFloats(_ count: Int, rng: inout SeededRandom, scale: Float = 1) -> [Float] {
    (0..<count).map { _ in scale * rng.float() }
}

/// sum_k |W[r, k] x[t, k]|, the natural scale for a dot product's rounding error.
func absDot(_ w: UnsafePointer<Float>, _ x: UnsafePointer<Float>, count: Int) -> Float {
    var s: Float = 0
    for k in 0..<count { s += abs(w[k] * x[k]) }
    return s
}

/// Instruction-set levels this CPU can run (0 = scalar ... 3 = AVX-512 VNNI).
let supportedLevels = Array(0...Int(lt_cpu_level()))

/// Floats of a stored row, decoded independently of the kernels (Swift's Float16 for halves).
func decodeKV(_ type: KVType, _ bytes: [UInt8], values: Int) -> [Float] {
    func half(_ o: Int) -> Float { Float(Float16(bitPattern: UInt16(bytes[o]) | UInt16(bytes[o + 1]) << 8)) }
    switch type {
    case .f32: return (0..<values).map { i in bytes.withUnsafeBytes { $0.loadUnaligned(fromByteOffset: 4 * i, as: Float.self) } }
    case .f16: return (0..<values).map { half(2 * $0) }
    case .q8_0: return (0..<values).map { i in half(34 * (i / 32)) * Float(Int8(bitPattern: bytes[34 * (i / 32) + 2 + i % 32])) }
    }
}

