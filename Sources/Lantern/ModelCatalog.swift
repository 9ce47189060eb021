import Foundation

/// The models `lantern fetch NAME` knows, by short name. `--model NAME` takes these wherever it takes a path.
public struct CatalogEntry: Sendable {
    public enum Source: Sendable {
        case file(ModelSource)
        case folder(ModelFolderSource)
    }
    public var name: String
    public var summary: String
    /// Bytes on disk once fetched.
    public var size: Int
    public var source: Source
}

public enum ModelCatalog {
    public static let entries: [CatalogEntry] = [
        CatalogEntry(name: "smollm2-135m", summary: "SmolLM2-135M-Instruct, Q4_1 GGUF (LLaMA family; the default model)",
                     size: 98_362_432, source: .file(.defaultModel)),
        CatalogEntry(name: "qwen2.5-0.5b", summary: "Qwen2.5-Coder-0.5B-Instruct, Q4_K_M GGUF (qwen2)",
                     size: 491_400_064, source: .file(.qwen25Coder05B)),
        CatalogEntry(name: "gemma3-270m", summary: "Gemma 3 270M base, Q4_K_M GGUF (gemma3)",
                     size: 253_113_024, source: .file(.gemma3_270m)),
        CatalogEntry(name: "minilm-l6", summary: "sentence-transformers/all-MiniLM-L6-v2, safetensors folder (BERT; the default embedding model)",
                     size: 91_575_989, source: .folder(.defaultEmbeddingModel)),
    ]

    /// The entry with this name (case-insensitive), or nil.
    public static func entry(named name: String) -> CatalogEntry? {
        entries.first { $0.name.caseInsensitiveCompare(name) == .orderedSame }
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
}
