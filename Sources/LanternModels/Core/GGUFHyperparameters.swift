import LanternFormats

/// Typed access to a GGUF file's `<architecture>.*` hyper-parameters: an absent key takes its default,
/// a present key of the wrong type is an error naming it (never a silent fallback).
struct GGUFHyperparameters {
    let file: GGUFFile
    let architecture: String

    init(_ file: GGUFFile, architecture: String) {
        self.file = file
        self.architecture = architecture
    }

    func key(_ k: String) -> String { "\(architecture).\(k)" }

    func int(_ k: String) throws(FormatError) -> Int { try file.int(key(k)) }

    func int(_ k: String, default value: Int) throws(FormatError) -> Int {
        file.metadata[key(k)] == nil ? value : try file.int(key(k))
    }

    func double(_ k: String, default value: Double) throws(FormatError) -> Double {
        file.metadata[key(k)] == nil ? value : try file.double(key(k))
    }

    func string(_ k: String) throws(FormatError) -> String? {
        file.metadata[key(k)] == nil ? nil : try file.string(key(k))
    }
}
