import Foundation
import LanternTensor

/// A safetensors file: 8-byte little-endian header length, a JSON header mapping tensor names to
/// `{dtype, shape, data_offsets}`, then the raw data. Memory-mapped; views point into the map.
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

    public init(file: MappedFile) throws(FormatError) {
        self.file = file
        self.path = file.path
        var r = ByteReader(base: file.base, size: file.size, path: file.path)
        let headerLen = try r.read(UInt64.self, "header length")
        guard headerLen <= UInt64(file.size - 8) else { throw .truncated(path: path, what: "header of \(headerLen) bytes", offset: 0) }
        let headerData = Data(bytes: file.base + 8, count: Int(headerLen))
        let dataStart = 8 + Int(headerLen)
        guard let json = try? JSONSerialization.jsonObject(with: headerData) as? [String: Any] else {
            throw .invalidHeader(path: path, reason: "header is not a JSON object")
        }
        var entries: [String: Entry] = [:]
        var metadata: [String: String] = [:]
        for (name, value) in json {
            if name == "__metadata__" {
                for (k, v) in (value as? [String: Any]) ?? [:] { metadata[k] = "\(v)" }
                continue
            }
            guard let obj = value as? [String: Any], let dtype = obj["dtype"] as? String,
                  let shape = obj["shape"] as? [Int], let offs = obj["data_offsets"] as? [Int], offs.count == 2 else {
                throw .invalidTensor(path: path, tensor: name, reason: "header entry lacks dtype, shape or data_offsets")
            }
            guard offs[0] >= 0, offs[0] <= offs[1], offs[1] <= file.size - dataStart else {
                throw .tensorOutOfBounds(path: path, tensor: name)
            }
            guard shape.allSatisfy({ $0 >= 0 }) else { throw .invalidTensor(path: path, tensor: name, reason: "negative dimension") }
            if let size = Self.elementSize(dtype) {
                let bytes = elementCount(shape).map { $0.multipliedReportingOverflow(by: size) }
                guard let bytes, !bytes.overflow, bytes.partialValue == offs[1] - offs[0] else {
                    throw .invalidTensor(path: path, tensor: name, reason: "\(offs[1] - offs[0]) bytes for shape \(shape) of \(dtype)")
                }
            }
            entries[name] = Entry(name: name, dtype: dtype, shape: shape, range: (dataStart + offs[0])..<(dataStart + offs[1]))
        }
        self.entries = entries
        self.metadata = metadata
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
        guard let e = entries[name] else { throw .missingTensor(name) }
        let dtype: DType
        switch e.dtype {
        case "F32": dtype = .f32
        case "F16": dtype = .f16
        case "BF16": dtype = .bf16
        default: throw .unsupportedTensorType(tensor: name, type: e.dtype)
        }
        return TensorView(name: name, dtype: dtype, shape: e.shape, data: file.base + e.range.lowerBound, byteCount: e.range.count)
    }

    /// A float tensor's values as float32.
    public func floats(_ name: String) throws(FormatError) -> [Float] {
        try tensor(name).floats()
    }

    /// An integer tensor's values (I64 or I32) as Int.
    public func ints(_ name: String) throws(FormatError) -> [Int] {
        guard let e = entries[name] else { throw .missingTensor(name) }
        let p = file.base + e.range.lowerBound
        switch e.dtype {
        case "I64": return (0..<(e.range.count / 8)).map { Int(p.loadUnaligned(fromByteOffset: 8 * $0, as: Int64.self)) }
        case "I32": return (0..<(e.range.count / 4)).map { Int(p.loadUnaligned(fromByteOffset: 4 * $0, as: Int32.self)) }
        default: throw .unsupportedTensorType(tensor: name, type: e.dtype)
        }
    }

    /// The shape of a tensor, whatever its dtype.
    public func shape(_ name: String) throws(FormatError) -> [Int] {
        guard let e = entries[name] else { throw .missingTensor(name) }
        return e.shape
    }
}
