import LanternFormats

/// Maps a checkpoint's architecture name to the model type that runs it.
public enum ModelRegistry {
    /// `general.architecture` values of GGUF files Lantern can run.
    public static let ggufArchitectures: Set<String> = ["llama"]

    /// Builds the model a GGUF file describes, or throws `ModelError.unsupportedArchitecture`.
    public static func load(gguf file: GGUFFile, threads: Int) throws -> any CausalLanguageModel {
        let arch = (try? file.string("general.architecture")) ?? "(missing general.architecture)"
        switch arch {
        case "llama": return try LlamaModel(gguf: file, threads: threads)
        default: throw ModelError.unsupportedArchitecture(arch)
        }
    }
}
