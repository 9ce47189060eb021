import Foundation
import LanternTensor

/// A safetensors file: 8-byte little-endian header length, a JSON header mapping tensor names to
/// `{dtype, shape, data_offsets}`, then the raw data. Memory-mapped; views point into the map and hold
/// it, so they stay valid after this object is released.
public final class SafetensorsFile: WeightStore, @unchecked Sendable {
    public struct Entry: Sendable {
        public let name: String
        /// The file's dtype string ("F32", "F16", "BF16", "I64", ...).
        public let dtype: String
        public let shape: [Int]
        /// Absolute byte range in the file.
        public let range: Range<Int>
    }

    public let path: String
    public let entries: [String: Entry]
    public let metadata: [String: String]
    private let file: MappedFile

    public convenience init(path: String) throws(FormatError) {
        try self.init(file: MappedFile(path: path))
    }

    /// The largest header accepted (the safetensors reference limit): bounds the copy and the parse.
    public static let maxHeaderBytes = 100_000_000

    /// Parses and checks the whole header before any view is handed out: every entry has a dtype, a
    /// shape of non-negative integers whose element count does not overflow, and a data range whose size
    /// matches dtype and shape; names are unique; and, as the safetensors reference requires, the data
    /// ranges tile the data section exactly (sorted by offset, no gap, no overlap, nothing after the last).
    /// Any violation is a `FormatError` naming the file and, where there is one, the tensor.
    public init(file: MappedFile) throws(FormatError) {
        self.file = file
        self.path = file.path
        let path = file.path
        var r = ByteReader(base: file.base, size: file.size, path: path)
        let headerLen = try r.read(UInt64.self, "header length")
        guard headerLen <= UInt64(file.size - 8) else { throw .truncated(path: path, what: "header of \(headerLen) bytes", offset: 0) }
        guard headerLen <= UInt64(Self.maxHeaderBytes) else {
            throw .invalidHeader(path: path, reason: "header of \(headerLen) bytes exceeds the \(Self.maxHeaderBytes)-byte limit")
        }
        let dataStart = 8 + Int(headerLen)
        let dataSize = file.size - dataStart
        let json: StrictJSON
        do throws(FormatError) {
            json = try StrictJSON.parse(UnsafeRawBufferPointer(start: file.base + 8, count: Int(headerLen)), path: path)
        } catch {
            if case let .invalidJSON(_, reason) = error { throw .invalidHeader(path: path, reason: "not JSON: \(reason)") }
            throw error
        }
        guard case let .object(members) = json else { throw .invalidHeader(path: path, reason: "header is not a JSON object") }

        var entries: [String: Entry] = [:]
        var metadata: [String: String]?
        for (name, value) in members {
            if name == "__metadata__" {
                guard metadata == nil else { throw .invalidHeader(path: path, reason: "__metadata__ appears twice") }
                guard case let .object(pairs) = value else { throw .invalidHeader(path: path, reason: "__metadata__ is not an object") }
                var m: [String: String] = [:]
                for (k, v) in pairs {
                    guard case let .string(s) = v else { throw .invalidHeader(path: path, reason: "__metadata__ value '\(k)' is \(v.summary), not a string") }
                    guard m[k] == nil else { throw .invalidHeader(path: path, reason: "__metadata__ key '\(k)' appears twice") }
                    m[k] = s
                }
                metadata = m
                continue
            }
            guard entries[name] == nil else { throw .invalidTensor(path: path, tensor: name, reason: "appears twice in the header") }
            let entry = try Self.entry(name, value, path: path, dataStart: dataStart, dataSize: dataSize)
            entries[name] = entry
        }
        try Self.checkTiling(entries.values, path: path, dataStart: dataStart, dataSize: dataSize)
        self.entries = entries
        self.metadata = metadata ?? [:]
    }

    /// One header entry, checked on its own (the tiling of all ranges is checked afterwards).
    private static func entry(_ name: String, _ value: StrictJSON, path: String, dataStart: Int, dataSize: Int) throws(FormatError) -> Entry {
        guard case let .object(fields) = value else { throw .invalidTensor(path: path, tensor: name, reason: "header entry is \(value.summary), not an object") }
        var dtype: String?, shape: [Int]?, offsets: [Int]?
        func ints(_ v: StrictJSON, _ key: String) throws(FormatError) -> [Int] {
            guard case let .array(items) = v else { throw .invalidTensor(path: path, tensor: name, reason: "\(key) is \(v.summary), not a list") }
            var out: [Int] = []
            for item in items {
                guard case let .integer(i) = item, i >= 0 else {
                    throw .invalidTensor(path: path, tensor: name, reason: "\(key) holds \(item.summary), not a non-negative integer")
                }
                out.append(i)
            }
            return out
        }
        var seen: Set<String> = []
        for (key, v) in fields {
            guard seen.insert(key).inserted else { throw .invalidTensor(path: path, tensor: name, reason: "key '\(key)' appears twice") }
            switch key {
            case "dtype":
                guard case let .string(s) = v else { throw .invalidTensor(path: path, tensor: name, reason: "dtype is \(v.summary), not a string") }
                dtype = s
            case "shape": shape = try ints(v, "shape")
            case "data_offsets": offsets = try ints(v, "data_offsets")
            default: break  // unknown keys are not data; the reference ignores them too
            }
        }
        guard let dtype, let shape, let offsets else {
            throw .invalidTensor(path: path, tensor: name, reason: "header entry lacks dtype, shape or data_offsets")
        }
        guard offsets.count == 2 else { throw .invalidTensor(path: path, tensor: name, reason: "data_offsets has \(offsets.count) values, expected 2") }
        let (begin, end) = (offsets[0], offsets[1])
        guard begin <= end else { throw .invalidTensor(path: path, tensor: name, reason: "data_offsets [\(begin), \(end)] end before they begin") }
        guard end <= dataSize else { throw .tensorOutOfBounds(path: path, tensor: name) }
        guard let count = elementCount(shape) else {
            throw .invalidTensor(path: path, tensor: name, reason: "element count of shape \(shape) overflows")
        }
        if let size = elementSize(dtype) {
            let bytes = count.multipliedReportingOverflow(by: size)
            guard !bytes.overflow, bytes.partialValue == end - begin else {
                throw .invalidTensor(path: path, tensor: name, reason: "\(end - begin) bytes for shape \(shape) of \(dtype)")
            }
        }
        return Entry(name: name, dtype: dtype, shape: shape, range: (dataStart + begin)..<(dataStart + end))
    }

    /// The data ranges, sorted by offset, must follow each other without gap or overlap and end exactly
    /// at the end of the file: then no two tensors alias the same bytes and no byte is unaccounted for.
    private static func checkTiling(_ entries: some Collection<Entry>, path: String, dataStart: Int, dataSize: Int) throws(FormatError) {
        let sorted = entries.sorted { ($0.range.lowerBound, $0.range.upperBound, $0.name) < ($1.range.lowerBound, $1.range.upperBound, $1.name) }
        var expected = dataStart
        var previous: Entry?
        for e in sorted {
            if e.range.lowerBound < expected, let previous {
                throw .invalidTensor(path: path, tensor: e.name, reason: "data_offsets [\(e.range.lowerBound - dataStart), \(e.range.upperBound - dataStart)] overlap those of '\(previous.name)' [\(previous.range.lowerBound - dataStart), \(previous.range.upperBound - dataStart)]")
            }
            guard e.range.lowerBound == expected else {
                throw .invalidTensor(path: path, tensor: e.name, reason: "data begins at \(e.range.lowerBound - dataStart), leaving a gap after byte \(expected - dataStart)")
            }
            expected = e.range.upperBound
            previous = e
        }
        guard expected == dataStart + dataSize else {
            throw .invalidHeader(path: path, reason: "\(dataStart + dataSize - expected) bytes after the last tensor's data")
        }
    }

    static func elementSize(_ dtype: String) -> Int? {
        switch dtype {
        case "F64", "I64", "U64": return 8
        case "F32", "I32", "U32": return 4
        case "F16", "BF16", "I16", "U16": return 2
        case "I8", "U8", "BOOL", "F8_E4M3", "F8_E5M2": return 1
        default: return nil
        }
    }

    public var tensorNames: [String] { entries.keys.sorted() }

    public func contains(_ name: String) -> Bool { entries[name] != nil }

    public func tensor(_ name: String) throws(FormatError) -> TensorView {
        guard let e = entries[name] else { throw .missingTensor(path: path, tensor: name) }
        let dtype: DType
        switch e.dtype {
        case "F32": dtype = .f32
        case "F16": dtype = .f16
        case "BF16": dtype = .bf16
        default: throw .unsupportedTensorType(path: path, tensor: name, type: e.dtype)
        }
        return TensorView(name: name, dtype: dtype, shape: e.shape, data: file.base + e.range.lowerBound, byteCount: e.range.count, owner: file, path: path)
    }

    /// A float tensor's values as float32.
    public func floats(_ name: String) throws(FormatError) -> [Float] {
        try tensor(name).floats()
    }

    /// An integer tensor's values (I64 or I32) as Int.
    public func ints(_ name: String) throws(FormatError) -> [Int] {
        guard let e = entries[name] else { throw .missingTensor(path: path, tensor: name) }
        let p = file.base + e.range.lowerBound
        switch e.dtype {
        case "I64": return (0..<(e.range.count / 8)).map { Int(p.loadUnaligned(fromByteOffset: 8 * $0, as: Int64.self)) }
        case "I32": return (0..<(e.range.count / 4)).map { Int(p.loadUnaligned(fromByteOffset: 4 * $0, as: Int32.self)) }
        default: throw .unsupportedTensorType(path: path, tensor: name, type: e.dtype)
        }
    }

    /// The shape of a tensor, whatever its dtype.
    public func shape(_ name: String) throws(FormatError) -> [Int] {
        guard let e = entries[name] else { throw .missingTensor(path: path, tensor: name) }
        return e.shape
    }
}
