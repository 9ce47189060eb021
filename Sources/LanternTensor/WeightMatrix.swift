/// A read-only 2-D weight matrix `[rows, cols]` stored row-major in its file's element type
/// (usually a view into memory-mapped file bytes).
///
/// Invariant: `cols` is a multiple of `dtype.blockSize`; `data` holds `rows * rowBytes` bytes and stays
/// valid for as long as whoever created the view (e.g. a `GGUFFile`) is alive.
public struct WeightMatrix: @unchecked Sendable {
    public let dtype: DType
    public let rows: Int       // output features
    public let cols: Int       // input features
    public let data: UnsafeRawPointer
    public let rowBytes: Int

    public init(dtype: DType, rows: Int, cols: Int, data: UnsafeRawPointer) {
        precondition(cols % dtype.blockSize == 0, "row length \(cols) is not a multiple of the \(dtype) block size")
        self.dtype = dtype
        self.rows = rows
        self.cols = cols
        self.data = data
        self.rowBytes = dtype.byteCount(cols)!
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
