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
