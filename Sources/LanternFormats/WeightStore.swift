import LanternTensor

/// A tensor's bytes inside a loaded file, with its shape in row-major order (outermost first, as
/// PyTorch writes it: a linear layer's weight is [out, in]).
///
/// Invariant: `data` holds `byteCount` bytes and stays valid while the view (or a matrix taken from
/// it) exists, because the view holds `owner`, the memory map the bytes live in. A view may therefore
/// outlive the `SafetensorsFile` or `GGUFFile` it came from.
public struct TensorView: @unchecked Sendable {
    public let name: String
    public let dtype: DType
    public let shape: [Int]
    public let data: UnsafeRawPointer
    public let byteCount: Int
    /// What keeps `data` mapped (a `MappedFile`); held so the bytes cannot be unmapped under the view.
    public let owner: AnyObject?
    /// The file the tensor was read from (the shard, for sharded checkpoints), for error messages.
    public let path: String

    init(name: String, dtype: DType, shape: [Int], data: UnsafeRawPointer, byteCount: Int, owner: AnyObject?, path: String) {
        self.name = name
        self.dtype = dtype
        self.shape = shape
        self.data = data
        self.byteCount = byteCount
        self.owner = owner
        self.path = path
    }

    public var elementCount: Int { shape.reduce(1, *) }

    /// The tensor as a 2-D weight matrix [shape[0], product of the rest]; 1-D tensors become [1, n].
    /// The matrix holds the same owner, so it too keeps the file mapped.
    public func matrix() -> WeightMatrix {
        let cols = shape.last ?? 1
        return WeightMatrix(dtype: dtype, rows: elementCount / max(cols, 1), cols: cols, data: data, owner: owner)
    }

    /// Every value expanded to float32 (for small tensors: norms, biases).
    public func floats() -> [Float] {
        guard elementCount > 0 else { return [] }
        return [Float](unsafeUninitializedCapacity: elementCount) { buf, n in
            Kernels.dequantize(dtype, data, count: elementCount, into: buf.baseAddress!)
            n = elementCount
        }
    }
}

/// Name -> tensor view. Formats know no architecture: names are the file's own.
public protocol WeightStore: AnyObject, Sendable {
    var tensorNames: [String] { get }
    /// The named tensor; throws `FormatError.missingTensor` or `.unsupportedTensorType` naming it.
    func tensor(_ name: String) throws(FormatError) -> TensorView
    func contains(_ name: String) -> Bool
}

extension WeightStore {
    /// The named tensor, checked against the expected shape; a mismatch names the file holding it.
    public func tensor(_ name: String, shape: [Int]) throws(FormatError) -> TensorView {
        let t = try tensor(name)
        guard t.shape == shape else { throw .shapeMismatch(path: t.path, tensor: name, expected: shape, found: t.shape) }
        return t
    }
}
