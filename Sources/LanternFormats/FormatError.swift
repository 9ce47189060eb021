/// Errors reading model files and folders. Each names the file (the shard and the index for sharded
/// checkpoints) and what was wrong, so a user can find the broken byte or key without a debugger.
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
    case unsupportedTensorType(path: String, tensor: String, type: String)
    case missingTensor(path: String, tensor: String)
    case missingMetadata(path: String, key: String)
    case invalidMetadata(path: String, key: String, reason: String)
    case shapeMismatch(path: String, tensor: String, expected: [Int], found: [Int])
    /// A count or length the file claims is above the sane maximum for its kind (`what`), even if the
    /// file were long enough to hold it: no real model has that many, and honouring it would let a small
    /// corrupt header size a huge allocation.
    case limitExceeded(path: String, what: String, value: UInt64, limit: UInt64)
    /// Two tensors' data ranges share bytes.
    case tensorsOverlap(path: String, tensor: String, other: String)
    /// A metadata key appears more than once (which one counts would be a guess).
    case duplicateKey(path: String, key: String)

    // Sharded safetensors (`model.safetensors.index.json`): `index` is the index file's path, `shard`
    // the shard's file name as the weight map writes it.
    /// The weight map names a shard file that does not exist next to the index.
    case missingShard(index: String, shard: String, tensor: String)
    /// The weight map places a tensor in a shard that does not hold it.
    case tensorNotInShard(index: String, shard: String, tensor: String)
    /// A shard holds a tensor the weight map does not assign to it (strict loading: nothing unlisted).
    case unlistedTensor(index: String, shard: String, tensor: String)

    // Model folders.
    /// The path does not exist or is not a directory.
    case notAFolder(path: String)
    /// A file the folder must have is absent; `path` is where it was looked for.
    case missingFile(path: String)
    /// The file is not valid JSON, or its top level is not an object.
    case invalidJSON(path: String, reason: String)
    /// A key of a JSON configuration file is missing or has the wrong type or value; `key` is dotted
    /// (`weight_map.lm_head.weight`, `eos_token_id.1`).
    case invalidConfigValue(path: String, key: String, reason: String)
    /// The folder has no weights Lantern can read.
    case noWeights(folder: String, reason: String)

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
        case let .unsupportedTensorType(path, tensor, type):
            return "\(path): tensor '\(tensor)' has type \(type), which Lantern does not support (supported: F32, F16, BF16, Q8_0, Q4_0, Q4_1)"
        case let .missingTensor(path, name): return "\(path): tensor '\(name)' not found"
        case let .missingMetadata(path, key): return "\(path): metadata key '\(key)' not found"
        case let .invalidMetadata(path, key, reason): return "\(path): metadata key '\(key)': \(reason)"
        case let .shapeMismatch(path, tensor, expected, found): return "\(path): tensor '\(tensor)' has shape \(found), expected \(expected)"
        case let .limitExceeded(path, what, value, limit): return "\(path) is corrupt: \(what) \(value) exceeds the limit of \(limit)"
        case let .tensorsOverlap(path, tensor, other): return "\(path) is corrupt: the data of tensor '\(tensor)' overlaps that of '\(other)'"
        case let .duplicateKey(path, key): return "\(path) is corrupt: metadata key '\(key)' appears twice"
        case let .missingShard(index, shard, tensor): return "\(index): shard '\(shard)' (listed for tensor '\(tensor)') does not exist"
        case let .tensorNotInShard(index, shard, tensor): return "\(index): tensor '\(tensor)' is mapped to shard '\(shard)', which does not hold it"
        case let .unlistedTensor(index, shard, tensor): return "\(index): shard '\(shard)' holds tensor '\(tensor)', which the weight map does not assign to it"
        case let .notAFolder(path): return "\(path) is not a model folder (missing or not a directory)"
        case let .missingFile(path): return "\(path) not found"
        case let .invalidJSON(path, reason): return "\(path) is not valid JSON: \(reason)"
        case let .invalidConfigValue(path, key, reason): return "\(path): key '\(key)': \(reason)"
        case let .noWeights(folder, reason): return "\(folder): no readable weights: \(reason)"
        }
    }
}
