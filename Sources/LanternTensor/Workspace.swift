#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// Scratch memory for `Kernels.matmul` (the q8-quantized activations), reused across calls so the decode
/// loop does not allocate. It grows to the largest request and never shrinks.
///
/// Invariant: used by one thread at a time. `MatmulWorkspace.current` gives each thread its own.
public final class MatmulWorkspace: @unchecked Sendable {
    private var buffer: UnsafeMutableRawPointer?
    private var capacity = 0

    public init() {}

    deinit { buffer?.deallocate() }

    /// At least `bytes` bytes of 64-byte aligned scratch; contents are undefined. Valid until the next call.
    public func scratch(bytes: Int) -> UnsafeMutableRawPointer {
        if let buffer, capacity >= bytes { return buffer }
        buffer?.deallocate()
        capacity = max(bytes, capacity * 2, 4096)
        let fresh = UnsafeMutableRawPointer.allocate(byteCount: capacity, alignment: 64)
        buffer = fresh
        return fresh
    }

    /// q8 activation blocks for `tokens` rows of `cols` values (layout in ckernels.h):
    /// qs: [tokens, cols] int8, d and s: [tokens, cols / 32] float; with `levels == 2` also the residual
    /// level qs2: [tokens, cols] int8 and d2: [tokens, cols / 32] float.
    func q8Activations(tokens: Int, cols: Int, levels: Int = 1) -> Q8Activations {
        precondition(levels == 1 || levels == 2)
        let nb = cols / 32
        let qsBytes = (tokens * cols + 63) & ~63
        let scaleBytes = (tokens * nb * 4 + 63) & ~63
        let base = scratch(bytes: levels * qsBytes + (levels + 1) * scaleBytes)
        let scales = base + levels * qsBytes
        return Q8Activations(
            qs: base.assumingMemoryBound(to: Int8.self),
            d: scales.assumingMemoryBound(to: Float.self),
            s: (scales + scaleBytes).assumingMemoryBound(to: Float.self),
            qs2: levels == 2 ? (base + qsBytes).assumingMemoryBound(to: Int8.self) : nil,
            d2: levels == 2 ? (scales + 2 * scaleBytes).assumingMemoryBound(to: Float.self) : nil,
            blocksPerRow: nb)
    }

    /// This thread's workspace, created on first use and freed when the thread exits.
    public static var current: MatmulWorkspace {
        let key = threadKey
        if let raw = pthread_getspecific(key) {
            return Unmanaged<MatmulWorkspace>.fromOpaque(raw).takeUnretainedValue()
        }
        let workspace = MatmulWorkspace()
        pthread_setspecific(key, Unmanaged.passRetained(workspace).toOpaque())
        return workspace
    }

    private static let threadKey: pthread_key_t = {
        var key = pthread_key_t()
        let status = pthread_key_create(&key) { raw in
            #if canImport(Darwin)
            Unmanaged<MatmulWorkspace>.fromOpaque(raw).release()
            #else
            if let raw { Unmanaged<MatmulWorkspace>.fromOpaque(raw).release() }
            #endif
        }
        precondition(status == 0, "pthread_key_create failed: \(status)")
        return key
    }()
}

/// Pointers to q8 activation blocks inside a workspace (layout in ckernels.h).
struct Q8Activations {
    let qs: UnsafeMutablePointer<Int8>   // [tokens, cols]
    let d: UnsafeMutablePointer<Float>   // [tokens, cols / 32]
    let s: UnsafeMutablePointer<Float>   // [tokens, cols / 32], both levels' sums
    let qs2: UnsafeMutablePointer<Int8>?   // [tokens, cols], residual level; nil for single-level
    let d2: UnsafeMutablePointer<Float>?   // [tokens, cols / 32]
    let blocksPerRow: Int
}
