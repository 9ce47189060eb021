import Foundation
import CKernels

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
    /// The same values row-interleaved for the matmul kernels (see `packedForMatmul()`), or nil.
    public let packed: PackedWeights?

    public init(dtype: DType, rows: Int, cols: Int, data: UnsafeRawPointer, owner: AnyObject? = nil) {
        precondition(cols % dtype.blockSize == 0, "row length \(cols) is not a multiple of the \(dtype) block size")
        self.dtype = dtype
        self.rows = rows
        self.cols = cols
        self.data = data
        self.rowBytes = dtype.byteCount(cols)!
        self.owner = owner
        self.packed = nil
    }

    private init(_ base: WeightMatrix, packed: PackedWeights) {
        dtype = base.dtype
        rows = base.rows
        cols = base.cols
        data = base.data
        rowBytes = base.rowBytes
        owner = base.owner
        self.packed = packed
    }

    /// This matrix with a row-interleaved copy that `Kernels.matmul` uses instead of the stored rows
    /// (`lt_pack_r16` in ckernels.h: 16 rows per block, so one vpdpbusd adds sixteen rows' dots, or one
    /// vpmaddubsw eight rows' pairs on AVX2; prefill and batched decode run 2-5x faster than on the stored
    /// layout). The stored rows stay for row look-ups. Unchanged when the type has no packed form
    /// (K-quants, floats), rows are not a multiple of 16, the CPU has no fast packed kernel (x86-64 with
    /// AVX2), or `LANTERN_PACK_WEIGHTS=0` is set.
    /// Costs one pass over the weights; memory stays about the same when the rows come from a file mapping
    /// (`ReleasablePages`), whose pages are given back.
    public func packedForMatmul() -> WeightMatrix {
        guard packed == nil, PackedWeights.enabled else { return self }
        let bytes = Int(lt_pack_r16_bytes(dtype.kernelCode, Int64(cols), Int64(rows)))
        guard bytes > 0 else { return self }
        let p = PackedWeights(byteCount: bytes)
        // The stored rows are read afterwards only by row look-ups (a tied embedding): a file mapping gets
        // their pages back as each chunk is packed, so memory stays about the file's size, never twice it.
        let chunkRows = 1024, groupBytes = bytes / (rows / 16)
        var r = 0
        while r < rows {
            let n = min(chunkRows, rows - r)
            guard lt_pack_r16(dtype.kernelCode, Int64(cols), data + r * rowBytes, Int64(rowBytes), Int64(n),
                              p.pointer + r / 16 * groupBytes) == 1 else { return self }
            (owner as? ReleasablePages)?.releasePages(data + r * rowBytes, count: n * rowBytes)
            r += n
        }
        return WeightMatrix(self, packed: p)
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

/// Storage that can give pages back to the OS when their bytes are no longer needed in memory; reading
/// them again must still work (a read-only file mapping re-reads them from the file).
public protocol ReleasablePages: AnyObject {
    func releasePages(_ start: UnsafeRawPointer, count: Int)
}

/// Row-interleaved weights owned by a `WeightMatrix` (64-byte aligned, freed with the last copy).
public final class PackedWeights: @unchecked Sendable {
    public let pointer: UnsafeMutableRawPointer
    public let byteCount: Int

    init(byteCount: Int) {
        self.byteCount = byteCount
        pointer = .allocate(byteCount: max(byteCount, 1), alignment: 64)
    }
    deinit { pointer.deallocate() }

    /// Whether `packedForMatmul` packs: the CPU has the fast kernel and `LANTERN_PACK_WEIGHTS` is not `0`
    /// (the switch exists to measure both layouts; results agree within float rounding).
    static let enabled: Bool = lt_qgemm_r16_fast() != 0 && ProcessInfo.processInfo.environment["LANTERN_PACK_WEIGHTS"] != "0"
}
