#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// A read-only memory map of a whole file. Tensor views point into it, so it must outlive them;
/// readers hold it and hand out views tied to their own lifetime.
public final class MappedFile: @unchecked Sendable {
    public let path: String
    public let base: UnsafeRawPointer
    public let size: Int

    public init(path: String) throws(FormatError) {
        self.path = path
        let fd = open(path, O_RDONLY)
        guard fd >= 0 else { throw .cannotOpen(path: path, reason: String(cString: strerror(errno))) }
        defer { close(fd) }
        var st = stat()
        guard fstat(fd, &st) == 0 else { throw .cannotOpen(path: path, reason: String(cString: strerror(errno))) }
        guard (st.st_mode & S_IFMT) == S_IFREG else { throw .cannotOpen(path: path, reason: "not a regular file") }
        let size = Int(st.st_size)
        guard size > 0 else { throw .truncated(path: path, what: "file is empty", offset: 0) }
        guard let p = mmap(nil, size, PROT_READ, MAP_PRIVATE, fd, 0), p != MAP_FAILED else {
            throw .cannotOpen(path: path, reason: "mmap failed: " + String(cString: strerror(errno)))
        }
        self.base = UnsafeRawPointer(p)
        self.size = size
    }

    deinit {
        munmap(UnsafeMutableRawPointer(mutating: base), size)
    }
}

/// Errors reading model files. Each names the file and what was wrong.
public enum FormatError: Error, Equatable, CustomStringConvertible {
    case cannotOpen(path: String, reason: String)
    case badMagic(path: String, found: String)
    case unsupportedVersion(path: String, version: Int)
    case truncated(path: String, what: String, offset: Int)
    case absurdCount(path: String, what: String, count: UInt64)
    case invalidValueType(path: String, key: String, type: UInt32)
    case invalidHeader(path: String, reason: String)
    case tensorOutOfBounds(path: String, tensor: String)
    case invalidTensor(path: String, tensor: String, reason: String)
    case unsupportedTensorType(tensor: String, type: String)
    case missingTensor(String)
    case missingMetadata(String)
    case invalidMetadata(key: String, reason: String)
    case shapeMismatch(tensor: String, expected: [Int], found: [Int])

    public var description: String {
        switch self {
        case let .cannotOpen(path, reason): return "cannot open \(path): \(reason)"
        case let .badMagic(path, found): return "\(path) is not a GGUF file (magic \(found))"
        case let .unsupportedVersion(path, v): return "\(path): unsupported GGUF version \(v) (supported: 2, 3)"
        case let .truncated(path, what, offset): return "\(path) is truncated or corrupt: \(what) at byte \(offset)"
        case let .absurdCount(path, what, count): return "\(path) is corrupt: \(what) count \(count) cannot fit in the file"
        case let .invalidValueType(path, key, type): return "\(path): metadata key '\(key)' has unknown value type \(type)"
        case let .invalidHeader(path, reason): return "\(path): invalid header: \(reason)"
        case let .tensorOutOfBounds(path, tensor): return "\(path): tensor '\(tensor)' data lies past the end of the file"
        case let .invalidTensor(path, tensor, reason): return "\(path): tensor '\(tensor)': \(reason)"
        case let .unsupportedTensorType(tensor, type): return "tensor '\(tensor)' has type \(type), which Lantern does not support (supported: F32, F16, BF16, Q8_0, Q4_0, Q4_1)"
        case let .missingTensor(name): return "tensor '\(name)' not found"
        case let .missingMetadata(key): return "metadata key '\(key)' not found"
        case let .invalidMetadata(key, reason): return "metadata key '\(key)': \(reason)"
        case let .shapeMismatch(tensor, expected, found): return "tensor '\(tensor)' has shape \(found), expected \(expected)"
        }
    }
}
