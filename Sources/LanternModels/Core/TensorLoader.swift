import LanternFormats
import LanternTensor

/// Reads tensors from a store and remembers which were used, so loading can insist that every tensor
/// in the file is consumed or explicitly ignored (DESIGN rule 3). Shapes are checked on every read and
/// errors name the tensor. Formats never transpose or reorder: the few layouts that need it (GPT-2's
/// Conv1D, BLOOM's per-head fused QKV) are converted here, once, into memory the layer owns.
public final class TensorLoader {
    public let store: any WeightStore
    public private(set) var used: Set<String> = []

    public init(_ store: any WeightStore) { self.store = store }

    public func tensor(_ name: String, shape: [Int]) throws(FormatError) -> TensorView {
        let t = try store.tensor(name, shape: shape)
        used.insert(name)
        return t
    }

    public func floats(_ name: String, shape: [Int]) throws(FormatError) -> [Float] {
        try tensor(name, shape: shape).floats()
    }

    public func matrix(_ name: String, rows: Int, cols: Int) throws(FormatError) -> WeightMatrix {
        let w = try tensor(name, shape: [rows, cols])
        guard !w.dtype.isQuantized || cols % w.dtype.blockSize == 0 else {
            throw .invalidTensor(path: "", tensor: name, reason: "row length \(cols) is not whole blocks")
        }
        return w.matrix()
    }

    /// A layer stored as PyTorch does, weight [out, in].
    public func linear(_ name: String, out: Int, in inFeatures: Int, bias: String? = nil) throws(FormatError) -> Linear {
        let w = try matrix(name, rows: out, cols: inFeatures)
        let b = try bias.map { (n: String) throws(FormatError) in try floats(n, shape: [out]) }
        return Linear(w, bias: b)
    }

    /// A layer stored transposed, weight [in, out] (GPT-2's Conv1D), made [out, in] float32 once.
    public func linearTransposed(_ name: String, out: Int, in inFeatures: Int, bias: String? = nil) throws(FormatError) -> Linear {
        let values = try floats(name, shape: [inFeatures, out])
        let owned = OwnedFloats(count: out * inFeatures)
        for i in 0..<inFeatures { for o in 0..<out { owned.pointer[o * inFeatures + i] = values[i * out + o] } }
        let b = try bias.map { (n: String) throws(FormatError) in try floats(n, shape: [out]) }
        return Linear(owning: owned, rows: out, cols: inFeatures, bias: b)
    }

    /// Splits a fused projection whose output rows are [part 0 | part 1 | ...] into one layer per part
    /// (views into the file; no copy). `weight` is [sum(parts), in] as PyTorch stores it.
    public func split(_ weight: WeightMatrix, bias: [Float]?, parts: [Int]) -> [Linear] {
        var first = 0
        return parts.map { n in
            let view = WeightMatrix(dtype: weight.dtype, rows: n, cols: weight.cols, data: weight.row(first))
            defer { first += n }
            return Linear(view, bias: bias.map { Array($0[first..<(first + n)]) })
        }
    }

    /// Reorders a fused per-head projection [heads][3][headDim] (BLOOM) into q, k, v layers (float32 copies).
    public func splitPerHead(_ name: String, bias: String, heads: Int, headDim: Int, in inFeatures: Int) throws(FormatError) -> [Linear] {
        let rows = 3 * heads * headDim
        let w = try matrix(name, rows: rows, cols: inFeatures)
        let b = try floats(bias, shape: [rows])
        let row = UnsafeMutablePointer<Float>.allocate(capacity: inFeatures)
        defer { row.deallocate() }
        return (0..<3).map { part in
            let owned = OwnedFloats(count: heads * headDim * inFeatures)
            var partBias = [Float](repeating: 0, count: heads * headDim)
            for h in 0..<heads {
                for d in 0..<headDim {
                    let src = (h * 3 + part) * headDim + d, dst = h * headDim + d
                    w.dequantizeRow(src, into: owned.pointer + dst * inFeatures)
                    partBias[dst] = b[src]
                }
            }
            return Linear(owning: owned, rows: heads * headDim, cols: inFeatures, bias: partBias)
        }
    }

    public func rmsNorm(_ name: String, dim: Int, eps: Float) throws(FormatError) -> Norm {
        Norm(.rms, weight: try floats(name, shape: [dim]), eps: eps)
    }

    /// LayerNorm with weight `<prefix>weight` and, unless `bias` is false, `<prefix>bias`.
    public func layerNorm(_ weight: String, bias: String?, dim: Int, eps: Float) throws(FormatError) -> Norm {
        Norm(.layer, weight: try floats(weight, shape: [dim]),
             bias: try bias.map { (n: String) throws(FormatError) in try floats(n, shape: [dim]) }, eps: eps)
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
