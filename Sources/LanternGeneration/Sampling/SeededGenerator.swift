/// A small, fast, seedable random number generator: xoshiro256** 1.0 (Blackman & Vigna, 2018),
/// its 256-bit state filled from the 64-bit seed by splitmix64, as the authors recommend.
///
/// Why not the standard library: `SystemRandomNumberGenerator` cannot be seeded, and the stdlib's
/// `Float.random(in:using:)` / `Int.random(in:using:)` are allowed to change how many words they consume
/// and how they map them between Swift releases. Sampling must give the same tokens for the same seed on
/// every platform and every toolchain, so everything here is spelled out with fixed-width integer
/// arithmetic only: `next()`, `nextDouble()` and `nextFloat()` are bit-for-bit reproducible.
///
/// Invariant: the state is never all zero (splitmix64 cannot produce four zero words in a row
/// from consecutive outputs, and xoshiro never reaches the zero state from a non-zero one).
public struct SeededGenerator: RandomNumberGenerator, Sendable, Equatable {
    private var s0: UInt64
    private var s1: UInt64
    private var s2: UInt64
    private var s3: UInt64

    /// The seed this generator started from; keep it to replay a run.
    public let seed: UInt64

    public init(seed: UInt64) {
        self.seed = seed
        var sm = seed
        s0 = SeededGenerator.splitmix64(&sm)
        s1 = SeededGenerator.splitmix64(&sm)
        s2 = SeededGenerator.splitmix64(&sm)
        s3 = SeededGenerator.splitmix64(&sm)
    }

    /// splitmix64 (Steele, Lea & Flood), used only to expand the seed into the xoshiro state.
    private static func splitmix64(_ x: inout UInt64) -> UInt64 {
        x &+= 0x9E37_79B9_7F4A_7C15
        var z = x
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }

    @inline(__always)
    private static func rotl(_ x: UInt64, _ k: UInt64) -> UInt64 {
        (x << k) | (x >> (64 &- k))
    }

    /// The next 64 random bits (xoshiro256**).
    public mutating func next() -> UInt64 {
        let result = SeededGenerator.rotl(s1 &* 5, 7) &* 9
        let t = s1 << 17
        s2 ^= s0
        s3 ^= s1
        s1 ^= s2
        s0 ^= s3
        s2 ^= t
        s3 = SeededGenerator.rotl(s3, 45)
        return result
    }

    /// A uniform Double in [0, 1): the top 53 bits of one `next()` times 2^-53.
    /// Every value is an exact multiple of 2^-53, so 1.0 can never be returned.
    public mutating func nextDouble() -> Double {
        Double(next() >> 11) * 0x1.0p-53
    }

    /// A uniform Float in [0, 1): the top 24 bits of one `next()` times 2^-24.
    public mutating func nextFloat() -> Float {
        Float(next() >> 40) * 0x1.0p-24
    }
}
