import Foundation
import LanternFormats
import LanternModels

extension ModelAnatomy {
    /// The size of a checkpoint on disk (a GGUF file or a Hugging Face folder): parameters counted from
    /// its tensor table (so the total is the checkpoint's element count), KV sizes from its
    /// configuration, and the bytes its tensors take as stored.
    public static func size(checkpoint path: String) throws -> (size: ModelSize, storedBytes: Int) {
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory) else {
            throw LanternError.notFound(path)
        }
        if isDirectory.boolValue {
            let folder = try ModelFolder(path: path)
            var size = try ModelAnatomy.size(configJSON: folder.configData)
            let table = tensorTable(folder.weights)
            size.parameters = count(tensors: table)
            let bytes = folder.weights.tensorNames.reduce(0) { $0 + ((try? folder.weights.tensor($1).byteCount) ?? 0) }
            return (size, bytes)
        }
        let file = try GGUFFile(path: path)
        var size = try ModelAnatomy.size(gguf: file)
        size.parameters = count(tensors: tensorTable(file))
        return (size, file.tensorInfos.reduce(0) { $0 + ($1.byteCount ?? 0) })
    }
}
