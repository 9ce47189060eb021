import LanternTensor

/// How a model computes, fixed at load: the process's thread pool and the activation rounding of the
/// integer dot products. Nothing here is process-wide mutable state.
public struct ComputeOptions: Sendable {
    public let pool: ThreadPool
    public let precision: Kernels.ActivationPrecision

    public init(pool: ThreadPool, precision: Kernels.ActivationPrecision = .int8x2) {
        self.pool = pool
        self.precision = precision
    }

    /// A pool of `threads` workers (one per process is the intent: pass the same options to every model).
    public init(threads: Int, precision: Kernels.ActivationPrecision = .int8x2) {
        self.init(pool: ThreadPool(threads: max(1, threads)), precision: precision)
    }
}
