import LanternFormats

/// Maps a checkpoint's architecture name to the model type that runs it.
public enum ModelRegistry {
    /// `general.architecture` values of GGUF files Lantern can run.
    public static let ggufArchitectures: Set<String> = ["llama"]

    /// The file's `general.architecture`.
    public static func architecture(of file: GGUFFile) throws(FormatError) -> String {
        try file.string("general.architecture")
    }

    /// Builds the model a GGUF file describes, or throws `ModelError.unsupportedArchitecture`.
    public static func load(gguf file: GGUFFile, architecture: String, compute: ComputeOptions) throws -> any CausalLanguageModel {
        switch architecture {
        case "llama": return try Llama.load(gguf: file, architecture: architecture, compute: compute)
        default: throw ModelError.unsupportedArchitecture(architecture)
        }
    }
}
