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

    func bool(_ k: String, default value: Bool) throws(FormatError) -> Bool {
        guard let v = file.metadata[key(k)] else { return value }
        guard let b = v.bool else { throw .invalidMetadata(path: file.path, key: key(k), reason: "expected a bool, found \(v.typeName)") }
        return b
    }

    /// Rows of the token table (llama.cpp's converters pad the vocabulary to the model's), else
    /// `<arch>.vocab_size`, else the tokenizer's token count.
    func vocabularySize(table: String = "token_embd.weight") throws(FormatError) -> Int {
        if let rows = file.info(table)?.shape.first { return rows }
        return try int("vocab_size", default: file.metadata["tokenizer.ggml.tokens"]?.array?.count ?? 0)
    }
}
