import LanternFormats
import LanternTensor

/// A linear layer y = W x (+ b) over weights in any DType. W: [out, in].
public struct Linear: Sendable {
    public let weight: WeightMatrix   // [outFeatures, inFeatures]
    public let bias: [Float]?         // [outFeatures]
    /// Keeps memory alive that `weight` points into when the layer owns it (a transposed or reordered copy).
    let storage: OwnedFloats?

    public var inFeatures: Int { weight.cols }
    public var outFeatures: Int { weight.rows }

    /// Quantized weights get their row-interleaved copy here, once at load (`WeightMatrix.packedForMatmul`).
    public init(_ weight: WeightMatrix, bias: [Float]? = nil) {
        self.weight = weight.packedForMatmul()
        self.bias = bias
        self.storage = nil
    }

    /// A float32 layer over values the layer owns, [rows, cols] row-major.
    init(owning values: OwnedFloats, rows: Int, cols: Int, bias: [Float]?) {
        self.weight = WeightMatrix(dtype: .f32, rows: rows, cols: cols, data: UnsafeRawPointer(values.pointer))
        self.bias = bias
        self.storage = values
    }

    /// The same layer, keeping `other`'s owned memory alive (a view into a fused layer's copy).
    public func retaining(_ other: Linear) -> Linear {
        Linear(weight: weight, bias: bias, storage: other.storage ?? storage)
    }

    private init(weight: WeightMatrix, bias: [Float]?, storage: OwnedFloats?) {
        self.weight = weight
        self.bias = bias
        self.storage = storage
    }

    /// y[tokens, out] = x[tokens, in] W^T (+ b)
    public func callAsFunction(_ x: UnsafePointer<Float>, tokens: Int, into y: UnsafeMutablePointer<Float>,
                               _ compute: ComputeOptions) {
        Kernels.matmul(weight, x, tokens: tokens, y, pool: compute.pool, workspace: .current, precision: compute.precision)
        addBias(y, tokens: tokens)
    }
}

extension Linear {
    /// a, b (and c) over the same input x [tokens, in]: one quantization of x and one parallel pass
    /// (`Kernels.matmul` of several matrices); each output equals the layer's own call, bit for bit.
    static func shared(_ a: Linear, into ya: UnsafeMutablePointer<Float>, _ b: Linear, into yb: UnsafeMutablePointer<Float>,
                       _ c: Linear? = nil, into yc: UnsafeMutablePointer<Float>? = nil, x: UnsafePointer<Float>, tokens: Int,
                       _ compute: ComputeOptions) {
        Kernels.matmul(a.weight, ya, b.weight, yb, c?.weight, yc, x: x, tokens: tokens, pool: compute.pool,
                       workspace: .current, precision: compute.precision)
        a.addBias(ya, tokens: tokens)
        b.addBias(yb, tokens: tokens)
        if let c, let yc { c.addBias(yc, tokens: tokens) }
    }

    private func addBias(_ y: UnsafeMutablePointer<Float>, tokens: Int) {
        guard let bias else { return }
        bias.withUnsafeBufferPointer { b in
            for t in 0..<tokens { Kernels.add(y + t * outFeatures, b.baseAddress!, count: outFeatures) }
        }
    }
}

/// Float32 values a layer owns (weights transposed or reordered at load).
final class OwnedFloats: @unchecked Sendable {
    let pointer: UnsafeMutablePointer<Float>
    let count: Int
    init(count: Int) {
        self.count = count
        pointer = .allocate(capacity: max(count, 1))
        pointer.initialize(repeating: 0, count: max(count, 1))
    }
    deinit { pointer.deallocate() }
}

/// Normalisation of each row: RMSNorm (LLaMA, T5's "T5LayerNorm", Gemma) or LayerNorm with or without bias.
public struct Norm: Sendable {
    public enum Kind: Sendable { case rms, layer }
    public let kind: Kind
    public let weight: [Float]   // [dim]
    public let bias: [Float]?    // [dim], LayerNorm only
    public let eps: Float

    public init(_ kind: Kind, weight: [Float], bias: [Float]? = nil, eps: Float) {
        self.kind = kind
        self.weight = weight
        self.bias = bias
        self.eps = eps
    }

    public var dimension: Int { weight.count }

    /// y[tokens, dim] = norm(x[tokens, dim]); x and y may alias.
    public func callAsFunction(_ x: UnsafePointer<Float>, tokens: Int, into y: UnsafeMutablePointer<Float>) {
        weight.withUnsafeBufferPointer { w in
            switch kind {
            case .rms:
                Kernels.rmsNorm(x, weight: w.baseAddress!, tokens: tokens, n: w.count, eps: eps, y)
            case .layer:
                if let bias {
                    bias.withUnsafeBufferPointer { b in
                        Kernels.layerNorm(x, weight: w.baseAddress!, bias: b.baseAddress!, tokens: tokens, n: w.count, eps: eps, y)
                    }
                } else {
                    Kernels.layerNorm(x, weight: w.baseAddress!, bias: nil, tokens: tokens, n: w.count, eps: eps, y)
                }
            }
        }
    }
}
