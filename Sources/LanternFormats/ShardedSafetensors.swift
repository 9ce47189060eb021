import Foundation

/// A checkpoint split over several safetensors files, described by `model.safetensors.index.json`:
/// `{"metadata": {"total_size": ...}, "weight_map": {"<tensor>": "<shard file name>", ...}}`.
///
/// Each shard is opened (memory-mapped) once. Loading is strict, in both directions: every tensor the
/// weight map lists must be in the shard it names, and no shard may hold a tensor the map does not
/// assign to it. Transformers writes such indexes itself, so an extra tensor means the index and the
/// shards come from different saves; reading it would hide that, so it is an error instead
/// (`FormatError.unlistedTensor`). Shard names must be plain file names beside the index, so an index
/// cannot point outside its folder.
public final class ShardedSafetensors: WeightStore {
    /// The index file's path.
    public let path: String
    /// Tensor name -> shard file name, as the index lists it.
    public let weightMap: [String: String]
    /// Shard file name -> the opened shard.
    public let shards: [String: SafetensorsFile]
    /// `metadata.total_size` when the index gives it as an integer (informational; not checked).
    public let totalSize: Int?

    public init(indexPath: String) throws(FormatError) {
        self.path = indexPath
        let json = try StrictJSON.parse(try readSmallFile(indexPath), path: indexPath)
        guard case let .object(top) = json else { throw .invalidJSON(path: indexPath, reason: "top level is not an object") }

        var weightMap: [String: String]?
        var totalSize: Int?
        for (key, value) in top {
            switch key {
            case "weight_map":
                guard weightMap == nil else { throw .invalidConfigValue(path: indexPath, key: key, reason: "appears twice") }
                guard case let .object(pairs) = value else {
                    throw .invalidConfigValue(path: indexPath, key: key, reason: "is \(value.summary), not an object")
                }
                var map: [String: String] = [:]
                for (tensor, shardValue) in pairs {
                    let k = "weight_map.\(tensor)"
                    guard map[tensor] == nil else { throw .invalidConfigValue(path: indexPath, key: k, reason: "tensor listed twice") }
                    guard case let .string(shard) = shardValue else {
                        throw .invalidConfigValue(path: indexPath, key: k, reason: "is \(shardValue.summary), not a shard file name")
                    }
                    guard !shard.isEmpty, !shard.contains("/"), shard != ".", shard != ".." else {
                        throw .invalidConfigValue(path: indexPath, key: k, reason: "shard '\(shard)' is not a file name in the index's folder")
                    }
                    map[tensor] = shard
                }
                weightMap = map
            case "metadata":
                guard case let .object(pairs) = value else {
                    throw .invalidConfigValue(path: indexPath, key: key, reason: "is \(value.summary), not an object")
                }
                for (k, v) in pairs where k == "total_size" {
                    if case let .integer(n) = v { totalSize = n }
                }
            default:
                break
            }
        }
        guard let weightMap else { throw .invalidConfigValue(path: indexPath, key: "weight_map", reason: "missing") }
        self.weightMap = weightMap
        self.totalSize = totalSize

        // Open each shard once, in a fixed order so the first error reported is reproducible.
        let folder = URL(fileURLWithPath: indexPath).deletingLastPathComponent()
        var byShard: [String: [String]] = [:]
        for (tensor, shard) in weightMap { byShard[shard, default: []].append(tensor) }
        // Every shard must exist before any is read: a missing file is the likelier mistake and the
        // clearer message than the unlisted tensors it would otherwise show up as.
        let order = byShard.keys.sorted()
        for shard in order {
            var isDir: ObjCBool = false
            let shardPath = folder.appendingPathComponent(shard).path
            guard FileManager.default.fileExists(atPath: shardPath, isDirectory: &isDir), !isDir.boolValue else {
                throw .missingShard(index: indexPath, shard: shard, tensor: byShard[shard, default: []].min() ?? "")
            }
        }
        var shards: [String: SafetensorsFile] = [:]
        for shard in order {
            let tensors = byShard[shard, default: []].sorted()
            let file = try SafetensorsFile(path: folder.appendingPathComponent(shard).path)
            for tensor in tensors where !file.contains(tensor) {
                throw .tensorNotInShard(index: indexPath, shard: shard, tensor: tensor)
            }
            for tensor in file.tensorNames where weightMap[tensor] != shard {
                throw .unlistedTensor(index: indexPath, shard: shard, tensor: tensor)
            }
            shards[shard] = file
        }
        self.shards = shards
    }

    public var tensorNames: [String] { weightMap.keys.sorted() }

    public func contains(_ name: String) -> Bool { weightMap[name] != nil }

    /// The named tensor from its shard; the view names the shard file and keeps it mapped.
    public func tensor(_ name: String) throws(FormatError) -> TensorView {
        guard let shard = weightMap[name], let file = shards[shard] else { throw .missingTensor(path: path, tensor: name) }
        return try file.tensor(name)
    }

    /// The shard holding `name` (for integer tensors and dtype strings, which views do not carry).
    public func shard(of name: String) -> SafetensorsFile? {
        weightMap[name].flatMap { shards[$0] }
    }
}

/// A JSON side file read whole. Such files are small; the cap keeps a mislabelled multi-gigabyte file
/// from being copied into memory.
func readSmallFile(_ path: String, limit: Int = 64 << 20) throws(FormatError) -> [UInt8] {
    var isDir: ObjCBool = false
    guard FileManager.default.fileExists(atPath: path, isDirectory: &isDir) else { throw .missingFile(path: path) }
    guard !isDir.boolValue else { throw .cannotOpen(path: path, reason: "is a directory") }
    guard let handle = FileHandle(forReadingAtPath: path) else { throw .cannotOpen(path: path, reason: "cannot be read") }
    defer { try? handle.close() }
    let data: Data?
    do { data = try handle.read(upToCount: limit + 1) } catch { throw .cannotOpen(path: path, reason: "\(error)") }
    let bytes = [UInt8](data ?? Data())
    guard bytes.count <= limit else { throw .cannotOpen(path: path, reason: "larger than \(limit) bytes; not a configuration file") }
    return bytes
}
