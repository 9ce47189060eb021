import Foundation

/// A model `lantern fetch NAME` knows, by short name. `--model NAME` takes these wherever it takes a path.
public struct CatalogEntry: Sendable {
    public enum Source: Sendable {
        case file(ModelSource)
        case folder(ModelFolderSource)
    }
    public var name: String               // "smollm2-135m"
    public var summary: String
    public var architecture: String       // general.architecture or model_type: "llama", "bert"
    public var format: String             // "GGUF Q4_1", "safetensors F32"
    public var source: Source

    public init(name: String, summary: String, architecture: String, format: String, source: Source) {
        self.name = name; self.summary = summary; self.architecture = architecture; self.format = format
        self.source = source
    }

    /// Bytes on disk once fetched: the file's size, or the sum of the folder's files.
    public var size: Int? {
        switch source {
        case let .file(s): return s.size
        case let .folder(s): return s.size
        }
    }
}

public enum ModelCatalog {
    public static let smollm2 = CatalogEntry(
        name: "smollm2-135m", summary: "SmolLM2-135M-Instruct, chat (the default model)",
        architecture: "llama", format: "GGUF Q4_1", source: .file(.defaultModel))
    public static let qwen25 = CatalogEntry(
        name: "qwen2.5-0.5b", summary: "Qwen2.5-Coder-0.5B-Instruct, chat (six wheels)",
        architecture: "qwen2", format: "GGUF Q4_K_M", source: .file(.qwen25Coder05B))
    public static let gemma3 = CatalogEntry(
        name: "gemma3-270m", summary: "Gemma 3 270M base (four wheels)",
        architecture: "gemma3", format: "GGUF Q4_K_M", source: .file(.gemma3_270m))
    public static let minilm = CatalogEntry(
        name: "minilm-l6", summary: "sentence-transformers/all-MiniLM-L6-v2, sentence embeddings (the default embedding model)",
        architecture: "bert", format: "safetensors F32", source: .folder(.defaultEmbeddingModel))

    public static let entries: [CatalogEntry] = [smollm2, qwen25, gemma3, minilm]

    /// What generating commands use without `--model`.
    public static var defaultModel: CatalogEntry { smollm2 }
    /// What embedding commands use without `--model`.
    public static var defaultEmbeddingModel: CatalogEntry { minilm }

    public static var names: [String] { entries.map(\.name) }

    /// The entry with this name (case-insensitive), or nil.
    public static func entry(named name: String) -> CatalogEntry? {
        entries.first { $0.name.caseInsensitiveCompare(name) == .orderedSame }
    }

    /// The entry with this name, or an error listing the known names.
    public static func lookup(_ name: String) throws(ModelLookupError) -> CatalogEntry {
        guard let e = entry(named: name) else { throw .unknownName(name, known: names) }
        return e
    }
}

/// Why `--model` (or `lantern fetch NAME`) named no model.
public enum ModelLookupError: Error, CustomStringConvertible, Equatable {
    /// `lantern fetch NAME` with a name the catalog does not have.
    case unknownName(String, known: [String])
    /// Neither an existing file or folder nor a catalog name.
    case notFound(String, known: [String])
    /// A catalog name whose fetch failed.
    case fetch(FetchError)

    public var description: String {
        switch self {
        case let .unknownName(name, known):
            return "'\(name)' is not a model in the catalog; known names: \(known.joined(separator: ", ")) (see `lantern models`)"
        case let .notFound(spec, known):
            return "\(spec): no such file or folder, and not a catalog model name (known names: \(known.joined(separator: ", ")); see `lantern models`)"
        case let .fetch(error):
            return error.description
        }
    }
}

extension ModelFetcher {
    /// The cached file or folder of a catalog entry, fetching it first if absent.
    public func ensure(_ entry: CatalogEntry) throws(FetchError) -> URL {
        switch entry.source {
        case let .file(s): return try ensure(s)
        case let .folder(s): return try ensure(s)
        }
    }

    /// Where a catalog entry is (or will be) in the cache.
    public func cachedPath(_ entry: CatalogEntry) -> URL {
        switch entry.source {
        case let .file(s): return cachedPath(s)
        case let .folder(s): return cachedPath(s)
        }
    }

    /// Whether the entry is in the cache. Only complete, verified fetches are renamed there, so presence
    /// is enough.
    public func isCached(_ entry: CatalogEntry) -> Bool {
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: cachedPath(entry).path, isDirectory: &isDirectory) else { return false }
        switch entry.source {
        case .file: return !isDirectory.boolValue
        case .folder: return isDirectory.boolValue
        }
    }

    /// What `--model SPEC` means, for every command: an existing file or folder wins; else a catalog
    /// name, fetched on first use (progress through `progress`) and its cached path returned; else an
    /// error that says the path does not exist and lists the catalog's names.
    public func resolve(_ spec: String) throws(ModelLookupError) -> URL {
        if !spec.isEmpty, FileManager.default.fileExists(atPath: spec) { return URL(fileURLWithPath: spec) }
        guard let entry = ModelCatalog.entry(named: spec) else { throw .notFound(spec, known: ModelCatalog.names) }
        do { return try ensure(entry) } catch { throw .fetch(error) }
    }

    /// `resolve(spec)`, or the cached (fetched if needed) `defaultEntry` when no `--model` was given.
    public func resolve(_ spec: String?, default defaultEntry: CatalogEntry) throws(ModelLookupError) -> URL {
        if let spec { return try resolve(spec) }
        do { return try ensure(defaultEntry) } catch { throw .fetch(error) }
    }
}
