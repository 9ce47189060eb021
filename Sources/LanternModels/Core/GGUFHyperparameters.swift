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

    /// The sizes every decoder-only GGUF states the same way (llama.cpp's `<arch>.*` keys): width,
    /// feed-forward width, layers, query and key/value heads, head dimension (key_length, else
    /// width / heads) and vocabulary (vocab_size, else the token list's length).
    func decoderShape() throws(FormatError) -> DecoderShape {
        let hidden = try int("embedding_length"), heads = try int("attention.head_count")
        return DecoderShape(
            hiddenSize: hidden, intermediateSize: try int("feed_forward_length"), layers: try int("block_count"),
            heads: heads, kvHeads: try int("attention.head_count_kv", default: heads),
            headDim: try int("attention.key_length", default: hidden / max(heads, 1)),
            vocabularySize: try int("vocab_size", default: file.metadata["tokenizer.ggml.tokens"]?.array?.count ?? 0))
    }
}

/// A decoder's sizes as read from a checkpoint, before any architecture-specific keys.
struct DecoderShape {
    var hiddenSize, intermediateSize, layers, heads, kvHeads, headDim, vocabularySize: Int

    /// The limits every decoder's sizes obey (see `ConfigurationLimits`), plus the grouped-query rule;
    /// `extra` adds an architecture's own sizes.
    static func validate(hiddenSize: Int, intermediateSize: Int, layers: Int, heads: Int, kvHeads: Int, headDim: Int,
                         vocabularySize: Int, maxContextLength: Int,
                         extra: [(name: String, value: Int, limit: Int)]) throws(ModelError) {
        try ConfigurationLimits.check([
            ("hidden size", hiddenSize, 1 << 16), ("feed-forward size", intermediateSize, 1 << 18),
            ("layer count", layers, 1 << 10), ("attention heads", heads, 1 << 10), ("key/value heads", kvHeads, 1 << 10),
            ("head dimension", headDim, 1 << 12), ("vocabulary size", vocabularySize, 1 << 22),
            ("context length", maxContextLength, 1 << 24)] + extra)
        guard heads % kvHeads == 0 else {
            throw .invalidConfiguration("\(heads) attention heads are not a multiple of \(kvHeads) key/value heads")
        }
    }
}
