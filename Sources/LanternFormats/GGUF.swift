import LanternTensor

/// A tensor type id as GGUF stores it (ggml's `ggml_type`), with the layout facts needed to check
/// offsets and sizes even for types Lantern cannot compute with.
public struct GGMLType: Sendable, Hashable, CustomStringConvertible {
    public let id: UInt32

    /// (name, values per block, bytes per block) of every ggml type id known to us.
    static let table: [UInt32: (String, Int, Int)] = [
        0: ("F32", 1, 4), 1: ("F16", 1, 2), 2: ("Q4_0", 32, 18), 3: ("Q4_1", 32, 20),
        6: ("Q5_0", 32, 22), 7: ("Q5_1", 32, 24), 8: ("Q8_0", 32, 34), 9: ("Q8_1", 32, 36),
        10: ("Q2_K", 256, 84), 11: ("Q3_K", 256, 110), 12: ("Q4_K", 256, 144), 13: ("Q5_K", 256, 176),
        14: ("Q6_K", 256, 210), 15: ("Q8_K", 256, 292), 16: ("IQ2_XXS", 256, 66), 17: ("IQ2_XS", 256, 74),
        18: ("IQ3_XXS", 256, 98), 19: ("IQ1_S", 256, 50), 20: ("IQ4_NL", 32, 18), 21: ("IQ3_S", 256, 110),
        22: ("IQ2_S", 256, 82), 23: ("IQ4_XS", 256, 136), 24: ("I8", 1, 1), 25: ("I16", 1, 2),
        26: ("I32", 1, 4), 27: ("I64", 1, 8), 28: ("F64", 1, 8), 29: ("IQ1_M", 256, 56), 30: ("BF16", 1, 2),
        34: ("TQ1_0", 256, 54), 35: ("TQ2_0", 256, 66), 39: ("MXFP4", 32, 17),
    ]

    public var name: String { Self.table[id]?.0 ?? "unknown type \(id)" }
    public var description: String { name }

    /// The Lantern dtype, or nil when Lantern cannot compute with this type.
    public var dtype: DType? {
        switch id {
        case 0: return .f32
        case 1: return .f16
        case 2: return .q4_0
        case 3: return .q4_1
        case 6: return .q5_0
        case 7: return .q5_1
        case 8: return .q8_0
        case 10: return .q2_k
        case 11: return .q3_k
        case 12: return .q4_k
        case 13: return .q5_k
        case 14: return .q6_k
        case 30: return .bf16
        default: return nil
        }
    }

    /// Bytes for `count` values, or nil if the type is unknown, the count is not whole blocks, or it overflows.
    func byteCount(_ count: Int) -> Int? {
        guard let (_, block, bytes) = Self.table[id], count % block == 0 else { return nil }
        let (r, o) = (count / block).multipliedReportingOverflow(by: bytes)
        return o ? nil : r
    }
}

/// Where one tensor lives in a GGUF file. `dims` are GGUF's order (fastest-varying first).
public struct GGUFTensorInfo: Sendable {
    public let name: String
    public let dims: [Int]
    public let type: GGMLType
    /// Absolute byte offset in the file.
    public let offset: Int
    public let byteCount: Int?

    /// Row-major shape, outermost first (GGUF dims reversed).
    public var shape: [Int] { dims.reversed() }
}

/// A GGUF file (versions 2 and 3): metadata, tensor infos and memory-mapped tensor data.
///
/// Every count, length and offset read from the file is checked against the file size before use, so a
/// truncated or corrupt file is a `FormatError`, never a crash or a huge allocation.
public final class GGUFFile: WeightStore, @unchecked Sendable {
    public let path: String
    public let version: Int
    /// Metadata in file order.
    public let metadataKeys: [String]
    public let metadata: [String: GGUFValue]
    /// Tensor infos in file order.
    public let tensorInfos: [GGUFTensorInfo]
    public let alignment: Int
    public let dataOffset: Int
    private let file: MappedFile
    private let index: [String: Int]

    public convenience init(path: String) throws(FormatError) {
        try self.init(file: MappedFile(path: path))
    }

    public init(file: MappedFile) throws(FormatError) {
        self.file = file
        self.path = file.path
        var r = ByteReader(base: file.base, size: file.size, path: file.path)
        let magic = try r.read(UInt32.self, "magic")
        guard magic == 0x4655_4747 else {
            let bytes = withUnsafeBytes(of: magic.littleEndian) { Array($0) }
            let shown = bytes.map { (0x20..<0x7F).contains($0) ? String(UnicodeScalar($0)) : "\\x" + String($0, radix: 16) }.joined()
            throw .badMagic(path: file.path, found: "\"\(shown)\"")
        }
        let version = try r.read(UInt32.self, "version")
        guard version == 2 || version == 3 else { throw .unsupportedVersion(path: file.path, version: Int(version)) }
        self.version = Int(version)
        // Each tensor info takes at least 8 (name len) + 4 + 4 + 8 bytes; each key/value pair at least 8 + 4 + 1.
        let tensorCount = try r.count("tensor", minBytesEach: 24, limit: GGUFLimits.maxTensors)
        let kvCount = try r.count("metadata key/value", minBytesEach: 13, limit: GGUFLimits.maxMetadataPairs)

        var keys: [String] = []
        var meta: [String: GGUFValue] = [:]
        keys.reserveCapacity(kvCount)
        for _ in 0..<kvCount {
            let key = try r.string(maxBytes: GGUFLimits.maxNameBytes, what: "metadata key length")
            guard meta[key] == nil else { throw .duplicateKey(path: file.path, key: key) }
            let type = try r.read(UInt32.self, "value type of '\(key)'")
            meta[key] = try r.value(type: type, key: key, depth: 0)
            keys.append(key)
        }
        self.metadataKeys = keys
        self.metadata = meta

        var alignment = 32
        if let a = meta["general.alignment"] {
            guard let v = a.int, v > 0, v & (v - 1) == 0, v <= 1 << 20 else {
                throw .invalidMetadata(path: file.path, key: "general.alignment", reason: "must be a power of two, found \(a)")
            }
            alignment = v
        }
        self.alignment = alignment

        var raw: [(String, [Int], GGMLType, UInt64)] = []
        raw.reserveCapacity(tensorCount)
        for _ in 0..<tensorCount {
            let name = try r.string(maxBytes: GGUFLimits.maxNameBytes, what: "tensor name length")
            let nDims = try r.read(UInt32.self, "dimension count of '\(name)'")
            guard nDims >= 1 && nDims <= 4 else {
                throw .invalidTensor(path: file.path, tensor: name, reason: "\(nDims) dimensions (1 to 4 allowed)")
            }
            var dims: [Int] = []
            for _ in 0..<nDims {
                let d = try r.read(UInt64.self, "dimension of '\(name)'")
                guard d <= UInt64(Int32.max) else { throw .invalidTensor(path: file.path, tensor: name, reason: "dimension \(d) is absurd") }
                dims.append(Int(d))
            }
            let type = GGMLType(id: try r.read(UInt32.self, "type of '\(name)'"))
            // An unknown type has no known size, so its bytes could not be bounds-checked: refuse it here
            // (as llama.cpp does) rather than hand out a tensor whose extent is a guess.
            guard GGMLType.table[type.id] != nil else {
                throw .unsupportedTensorType(path: file.path, tensor: name, type: type.name)
            }
            let offset = try r.read(UInt64.self, "offset of '\(name)'")
            raw.append((name, dims, type, offset))
        }
        let dataOffset = (r.offset + alignment - 1) / alignment * alignment
        self.dataOffset = dataOffset

        var infos: [GGUFTensorInfo] = []
        var index: [String: Int] = [:]
        for (name, dims, type, rel) in raw {
            guard index[name] == nil else { throw .invalidTensor(path: file.path, tensor: name, reason: "appears twice") }
            guard let count = elementCount(dims) else {
                throw .invalidTensor(path: file.path, tensor: name, reason: "element count overflows")
            }
            guard rel <= UInt64(file.size) else { throw .tensorOutOfBounds(path: file.path, tensor: name) }
            let offset = dataOffset + Int(rel)
            guard rel % UInt64(alignment) == 0 else {
                throw .invalidTensor(path: file.path, tensor: name, reason: "offset \(rel) is not aligned to \(alignment)")
            }
            let bytes = type.byteCount(count)
            if let (_, block, _) = GGMLType.table[type.id], bytes == nil {
                let reason = count % block != 0 ? "\(count) values are not a whole number of \(type) blocks"
                                                : "byte size of \(count) \(type) values overflows"
                throw .invalidTensor(path: file.path, tensor: name, reason: reason)
            }
            if let bytes, offset > file.size || bytes > file.size - offset {
                throw .tensorOutOfBounds(path: file.path, tensor: name)
            }
            index[name] = infos.count
            infos.append(GGUFTensorInfo(name: name, dims: dims, type: type, offset: offset, byteCount: bytes))
        }
        // No two tensors may share bytes (zero-sized ones occupy none): sorted by offset, each must begin
        // at or after the end of the one before.
        var previous: GGUFTensorInfo?
        for info in infos.sorted(by: { ($0.offset, $0.byteCount ?? 0) < ($1.offset, $1.byteCount ?? 0) }) {
            let bytes = info.byteCount ?? 0
            guard bytes > 0 else { continue }
            if let p = previous, info.offset < p.offset + (p.byteCount ?? 0) {
                throw .tensorsOverlap(path: file.path, tensor: info.name, other: p.name)
            }
            previous = info
        }
        self.tensorInfos = infos
        self.index = index
    }

    public var tensorNames: [String] { tensorInfos.map(\.name) }

    public func contains(_ name: String) -> Bool { index[name] != nil }

    public func info(_ name: String) -> GGUFTensorInfo? { index[name].map { tensorInfos[$0] } }

    public func tensor(_ name: String) throws(FormatError) -> TensorView {
        guard let i = index[name] else { throw .missingTensor(path: path, tensor: name) }
        let info = tensorInfos[i]
        guard let dtype = info.type.dtype, let bytes = info.byteCount else {
            throw .unsupportedTensorType(path: path, tensor: name, type: info.type.name)
        }
        if dtype.isQuantized, let cols = info.dims.first, cols % dtype.blockSize != 0 {
            throw .invalidTensor(path: path, tensor: name, reason: "row length \(cols) is not a multiple of \(dtype.blockSize)")
        }
        return TensorView(name: name, dtype: dtype, shape: info.shape, data: file.base + info.offset, byteCount: bytes, owner: file, path: path)
    }

    // MARK: typed metadata access

    public func string(_ key: String) throws(FormatError) -> String {
        guard let v = metadata[key] else { throw .missingMetadata(path: path, key: key) }
        guard let s = v.string else { throw .invalidMetadata(path: path, key: key, reason: "expected a string, found \(v.typeName)") }
        return s
    }

    public func int(_ key: String) throws(FormatError) -> Int {
        guard let v = metadata[key] else { throw .missingMetadata(path: path, key: key) }
        guard let i = v.int else { throw .invalidMetadata(path: path, key: key, reason: "expected an integer, found \(v.typeName)") }
        return i
    }

    public func double(_ key: String) throws(FormatError) -> Double {
        guard let v = metadata[key] else { throw .missingMetadata(path: path, key: key) }
        guard let d = v.double else { throw .invalidMetadata(path: path, key: key, reason: "expected a number, found \(v.typeName)") }
        return d
    }
}

/// Sane maxima for what a GGUF header may claim, far above any real model (the largest vocabularies
/// have about 260,000 tokens; the largest checkpoints about 2,000 tensors and 100 metadata keys). A header
/// count is first checked against the bytes left in the file; these bound what a file that is merely
/// large (or a page of zeros read as counts) could make the reader allocate, since each metadata value
/// takes more memory parsed than on disk.
public enum GGUFLimits {
    public static let maxTensors = 1 << 20
    public static let maxMetadataPairs = 1 << 16
    /// Elements of one metadata array (a vocabulary, its scores, its merges).
    public static let maxArrayCount = 1 << 24
    /// Metadata values in the whole file, nested array elements included.
    public static let maxMetadataValues = 1 << 25
    /// A metadata key or tensor name.
    public static let maxNameBytes = 1 << 16
    /// A string value (a chat template is the longest in practice: tens of kilobytes).
    public static let maxStringBytes = 1 << 26
}

/// Bounds-checked little-endian reader over the mapped bytes.
struct ByteReader {
    let base: UnsafeRawPointer
    let size: Int
    let path: String
    var offset = 0

    mutating func read<T: FixedWidthInteger>(_: T.Type, _ what: @autoclosure () -> String) throws(FormatError) -> T {
        let n = MemoryLayout<T>.size
        guard size - offset >= n else { throw .truncated(path: path, what: what(), offset: offset) }
        let v = T(littleEndian: base.loadUnaligned(fromByteOffset: offset, as: T.self))
        offset += n
        return v
    }

    /// Metadata elements read so far (every scalar, string and array, nested ones included), against
    /// `GGUFLimits.maxMetadataValues`.
    var metadataValues = 0

    /// A 64-bit count, checked so that `count * minBytesEach` still fits in the rest of the file, and
    /// against `limit`.
    mutating func count(_ what: String, minBytesEach: Int, limit: Int) throws(FormatError) -> Int {
        let c = try read(UInt64.self, "\(what) count")
        let remaining = UInt64(size - offset)
        guard c <= remaining / UInt64(max(minBytesEach, 1)) else { throw .absurdCount(path: path, what: what, count: c) }
        guard c <= UInt64(limit) else { throw .limitExceeded(path: path, what: "\(what) count", value: c, limit: UInt64(limit)) }
        return Int(c)
    }

    /// A length-prefixed string; the length must fit in the rest of the file and in `maxBytes`.
    mutating func string(maxBytes: Int = GGUFLimits.maxStringBytes, what: String = "string length") throws(FormatError) -> String {
        let start = offset
        let len = try read(UInt64.self, what)
        guard len <= UInt64(size - offset) else { throw .truncated(path: path, what: "string of \(len) bytes", offset: start) }
        guard len <= UInt64(maxBytes) else { throw .limitExceeded(path: path, what: what, value: len, limit: UInt64(maxBytes)) }
        let buf = UnsafeRawBufferPointer(start: base + offset, count: Int(len))
        offset += Int(len)
        guard let s = String(validating: buf.bindMemory(to: UInt8.self), as: UTF8.self) else {
            // GGUF vocabularies occasionally hold byte strings that are not UTF-8; keep them readable.
            return String(decoding: buf.bindMemory(to: UInt8.self), as: UTF8.self)
        }
        return s
    }

    mutating func value(type: UInt32, key: String, depth: Int) throws(FormatError) -> GGUFValue {
        metadataValues += 1
        guard metadataValues <= GGUFLimits.maxMetadataValues else {
            throw .limitExceeded(path: path, what: "metadata values (at '\(key)')", value: UInt64(metadataValues),
                                 limit: UInt64(GGUFLimits.maxMetadataValues))
        }
        switch type {
        case 0: return .uint8(try read(UInt8.self, key))
        case 1: return .int8(try read(Int8.self, key))
        case 2: return .uint16(try read(UInt16.self, key))
        case 3: return .int16(try read(Int16.self, key))
        case 4: return .uint32(try read(UInt32.self, key))
        case 5: return .int32(try read(Int32.self, key))
        case 6: return .float32(Float(bitPattern: try read(UInt32.self, key)))
        case 7:
            let b = try read(UInt8.self, key)
            guard b <= 1 else { throw .invalidMetadata(path: path, key: key, reason: "bool value \(b)") }
            return .bool(b == 1)
        case 8: return .string(try string())
        case 9:
            guard depth < 8 else { throw .invalidMetadata(path: path, key: key, reason: "arrays nested too deeply") }
            let elemType = try read(UInt32.self, "array type of '\(key)'")
            let minBytes: Int
            switch elemType {
            case 0, 1, 7: minBytes = 1
            case 2, 3: minBytes = 2
            case 4, 5, 6: minBytes = 4
            case 8, 10, 11, 12: minBytes = 8
            case 9: minBytes = 12
            default: throw .invalidValueType(path: path, key: key, type: elemType)
            }
            let n = try count("array '\(key)'", minBytesEach: minBytes, limit: GGUFLimits.maxArrayCount)
            var items: [GGUFValue] = []
            items.reserveCapacity(n)
            for _ in 0..<n { items.append(try value(type: elemType, key: key, depth: depth + 1)) }
            return .array(items)
        case 10: return .uint64(try read(UInt64.self, key))
        case 11: return .int64(try read(Int64.self, key))
        case 12: return .float64(Double(bitPattern: try read(UInt64.self, key)))
        default: throw .invalidValueType(path: path, key: key, type: type)
        }
    }
}

/// Product of the dimensions, or nil if it overflows (corrupt headers can claim absurd shapes).
func elementCount(_ dims: [Int]) -> Int? {
    var count = 1
    for d in dims {
        let (c, overflow) = count.multipliedReportingOverflow(by: d)
        if overflow { return nil }
        count = c
    }
    return count
}
