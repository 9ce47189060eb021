import LanternTensor

/// How a model computes, fixed at load: the process's thread pool and the activation rounding of the
/// integer dot products. Nothing here is process-wide mutable state.
public struct ComputeOptions: Sendable {
    public let pool: ThreadPool
    public let precision: Kernels.ActivationPrecision
    /// Converts float weights of the blocks' linear layers to this type at load (only `.q8_0`, and only
    /// architectures that honour it: BERT). nil keeps weights as stored.
    public let quantizeWeights: DType?

    public init(pool: ThreadPool, precision: Kernels.ActivationPrecision = .int8x2, quantizeWeights: DType? = nil) {
        self.pool = pool
        self.precision = precision
        self.quantizeWeights = quantizeWeights
    }

    /// A pool of `threads` workers (one per process is the intent: pass the same options to every model).
    public init(threads: Int, precision: Kernels.ActivationPrecision = .int8x2, quantizeWeights: DType? = nil) {
        self.init(pool: ThreadPool(threads: max(1, threads)), precision: precision, quantizeWeights: quantizeWeights)
    }
}
