/// A read-only 2-D weight matrix `[rows, cols]` stored row-major in its file's element type
/// (usually a view into memory-mapped file bytes).
///
/// Invariant: `cols` is a multiple of `dtype.blockSize`; `data` holds `rows * rowBytes` bytes and stays
/// valid for as long as `owner` (when set) is alive: the matrix holds its owner, so a matrix taken
/// from a file keeps that file's mapping alive. Without an owner, the caller keeps the bytes alive.
public struct WeightMatrix: @unchecked Sendable {
    public let dtype: DType
    public let rows: Int       // output features
    public let cols: Int       // input features
    public let data: UnsafeRawPointer
    public let rowBytes: Int
    /// Whatever keeps `data` valid (e.g. the memory map it points into); held, never read.
    public let owner: AnyObject?

    public init(dtype: DType, rows: Int, cols: Int, data: UnsafeRawPointer, owner: AnyObject? = nil) {
        precondition(cols % dtype.blockSize == 0, "row length \(cols) is not a multiple of the \(dtype) block size")
        self.dtype = dtype
        self.rows = rows
        self.cols = cols
        self.data = data
        self.rowBytes = dtype.byteCount(cols)!
        self.owner = owner
    }

    /// Start of row `r`.
    @inline(__always)
    public func row(_ r: Int) -> UnsafeRawPointer { data + r * rowBytes }

    /// Writes row `r` as float32 into `dst[0..<cols]` (used for embedding look-ups).
    public func dequantizeRow(_ r: Int, into dst: UnsafeMutablePointer<Float>) {
        precondition(r >= 0 && r < rows)
        Kernels.dequantize(dtype, row(r), count: cols, into: dst)
    }
}
