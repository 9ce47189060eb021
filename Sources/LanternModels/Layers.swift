import LanternFormats
import LanternTensor

/// A linear layer y = W x (+ b) over weights in any DType. W: [out, in].
public struct Linear: Sendable {
    public let weight: WeightMatrix   // [outFeatures, inFeatures]
    public let bias: [Float]?         // [outFeatures]

    public var inFeatures: Int { weight.cols }
    public var outFeatures: Int { weight.rows }

    public init(_ weight: WeightMatrix, bias: [Float]? = nil) {
        self.weight = weight
        self.bias = bias
    }

    /// y[tokens, out] = x[tokens, in] W^T (+ b)
    public func callAsFunction(_ x: UnsafePointer<Float>, tokens: Int, into y: UnsafeMutablePointer<Float>, pool: ThreadPool) {
        Kernels.matmul(weight, x, tokens: tokens, y, pool: pool)
        if let bias {
            for t in 0..<tokens {
                bias.withUnsafeBufferPointer { Kernels.add(y + t * outFeatures, $0.baseAddress!, count: outFeatures) }
            }
        }
    }
}

/// RMSNorm: x / sqrt(mean(x^2) + eps) * weight.
public struct RMSNorm: Sendable {
    public let weight: [Float]   // [dim]
    public let eps: Float

    public init(weight: [Float], eps: Float) {
        self.weight = weight
        self.eps = eps
    }

    public func callAsFunction(_ x: UnsafePointer<Float>, tokens: Int, into y: UnsafeMutablePointer<Float>) {
        weight.withUnsafeBufferPointer {
            Kernels.rmsNorm(x, weight: $0.baseAddress!, tokens: tokens, n: $0.count, eps: eps, y)
        }
    }
}

/// Reads tensors from a store and remembers which were used, so loading can insist that every tensor
/// in the file is consumed or explicitly ignored (DESIGN rule 3).
public final class TensorLoader {
    public let store: any WeightStore
    public private(set) var used: Set<String> = []

    public init(_ store: any WeightStore) { self.store = store }

    public func tensor(_ name: String, shape: [Int]) throws(FormatError) -> TensorView {
        let t = try store.tensor(name, shape: shape)
        used.insert(name)
        return t
    }

    public func linear(_ name: String, out: Int, in inFeatures: Int, bias: String? = nil) throws(FormatError) -> Linear {
        let w = try tensor(name, shape: [out, inFeatures])
        guard w.dtype.isQuantized == false || inFeatures % w.dtype.blockSize == 0 else {
            throw .invalidTensor(path: "", tensor: name, reason: "row length \(inFeatures) is not whole blocks")
        }
        let b = try bias.map { (n: String) throws(FormatError) in try tensor(n, shape: [out]).floats() }
        return Linear(w.matrix(), bias: b)
    }

    public func norm(_ name: String, dim: Int, eps: Float) throws(FormatError) -> RMSNorm {
        RMSNorm(weight: try tensor(name, shape: [dim]).floats(), eps: eps)
    }

    public func has(_ name: String) -> Bool { store.contains(name) }

    /// Marks a tensor the model deliberately does not read (if the file has it).
    public func ignore(_ name: String) { used.insert(name) }

    /// Throws for the first tensor in the store that was neither used nor matched by `ignoring`.
    public func checkAllUsed(ignoring: (String) -> Bool = { _ in false }) throws(FormatError) {
        for name in store.tensorNames where !used.contains(name) && !ignoring(name) {
            throw .invalidTensor(path: "", tensor: name, reason: "present in the file but not used by the model")
        }
    }
}
