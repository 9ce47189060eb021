import Foundation

/// A model folder as `save_pretrained` (transformers, sentence-transformers) writes it: `config.json`,
/// the weights as safetensors (one file or an index with shards), and optional side files.
///
/// Formats knows no architecture, so only what every folder shares is decoded here: `model_type`
/// (the key the model registry dispatches on) and `architectures`. The per-model configuration is
/// decoded later, in LanternModels, from `configData`. Tokenizer and pooling files are only located;
/// their readers live elsewhere. Everything that must be present is checked when the folder is
/// opened, so a broken folder fails here with the file and the problem named, not mid-load.
public struct ModelFolder: Sendable {
    /// The folder itself.
    public let path: String
    /// `config.json`, raw, for the typed per-model configuration.
    public let configPath: String
    public let configData: Data
    /// `model_type` from config.json (non-empty).
    public let modelType: String
    /// `architectures` from config.json, when present.
    public let architectures: [String]?
    /// `generation_config.json`, when present.
    public let generationConfig: GenerationConfig?
    public let generationConfigPath: String?
    /// All weights as one store: a `SafetensorsFile` or a `ShardedSafetensors`.
    public let weights: any WeightStore
    /// `model.safetensors` or `model.safetensors.index.json`, whichever was opened.
    public let weightsPath: String
    /// Side files, when present (paths only; others read them).
    public let tokenizerPath: String?
    public let tokenizerConfigPath: String?
    public let vocabPath: String?
    public let modulesPath: String?
    /// `1_Pooling/config.json` (sentence-transformers).
    public let poolingConfigPath: String?

    /// The names, in order of preference. A single `model.safetensors` wins over an index, as in transformers.
    public static let singleWeightsName = "model.safetensors"
    public static let shardIndexName = "model.safetensors.index.json"

    public init(path: String) throws(FormatError) {
        let fm = FileManager.default
        var isDir: ObjCBool = false
        guard fm.fileExists(atPath: path, isDirectory: &isDir), isDir.boolValue else { throw .notAFolder(path: path) }
        let folder = URL(fileURLWithPath: path, isDirectory: true)
        func file(_ name: String) -> String? {
            let p = folder.appendingPathComponent(name).path
            var d: ObjCBool = false
            return fm.fileExists(atPath: p, isDirectory: &d) && !d.boolValue ? p : nil
        }
        self.path = path

        let configPath = folder.appendingPathComponent("config.json").path
        guard let found = file("config.json") else { throw .missingFile(path: configPath) }
        let configData = Data(try readSmallFile(found))
        let head: ConfigHead
        do { head = try JSONDecoder().decode(ConfigHead.self, from: configData) } catch { throw FormatError.decoding(error, path: configPath) }
        guard let modelType = head.modelType else {
            throw .invalidConfigValue(path: configPath, key: "model_type", reason: "missing (it names the architecture to build)")
        }
        guard !modelType.isEmpty else { throw .invalidConfigValue(path: configPath, key: "model_type", reason: "is empty") }
        self.configPath = configPath
        self.configData = configData
        self.modelType = modelType
        self.architectures = head.architectures

        if let g = file("generation_config.json") {
            self.generationConfig = try GenerationConfig.read(path: g)
            self.generationConfigPath = g
        } else {
            self.generationConfig = nil
            self.generationConfigPath = nil
        }

        if let single = file(Self.singleWeightsName) {
            self.weights = try SafetensorsFile(path: single)
            self.weightsPath = single
        } else if let index = file(Self.shardIndexName) {
            self.weights = try ShardedSafetensors(indexPath: index)
            self.weightsPath = index
        } else {
            throw .noWeights(folder: path, reason: Self.whyNoWeights(folder: folder))
        }

        self.tokenizerPath = file("tokenizer.json")
        self.tokenizerConfigPath = file("tokenizer_config.json")
        self.vocabPath = file("vocab.txt")
        self.modulesPath = file("modules.json")
        self.poolingConfigPath = file("1_Pooling/config.json")
    }

    /// A reason that tells the user what to do: name the weight files that are there but unreadable.
    static func whyNoWeights(folder: URL) -> String {
        let names = ((try? FileManager.default.contentsOfDirectory(atPath: folder.path)) ?? []).sorted()
        let torch = names.filter { $0.hasSuffix(".bin") || $0.hasSuffix(".pt") || $0.hasSuffix(".pth") || $0 == "pytorch_model.bin.index.json" }
        if !torch.isEmpty {
            return "found only PyTorch weights (\(torch.joined(separator: ", "))); Lantern reads safetensors only "
                + "(\(singleWeightsName) or \(shardIndexName)): convert the checkpoint to safetensors"
        }
        let gguf = names.filter { $0.hasSuffix(".gguf") }
        if !gguf.isEmpty {
            return "no \(singleWeightsName) or \(shardIndexName); open the GGUF file (\(gguf.joined(separator: ", "))) directly instead"
        }
        return "no \(singleWeightsName) or \(shardIndexName)"
    }

    /// The keys every config.json shares; the rest is the architecture's business.
    private struct ConfigHead: Decodable {
        let modelType: String?
        let architectures: [String]?
        enum CodingKeys: String, CodingKey {
            case modelType = "model_type"
            case architectures
        }
    }
}
