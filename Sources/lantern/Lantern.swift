import ArgumentParser
import Foundation
import Lantern

@main
struct LanternCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "lantern",
        abstract: "Run transformer language models on the CPU.",
        subcommands: [Generate.self, Chat.self, Tokenize.self, Detokenize.self, Forward.self, Inspect.self, PerplexityCommand.self, Params.self, AttentionCommand.self, Bench.self, RenderTemplate.self, Models.self, Fetch.self, Embed.self, Similarity.self, FillMask.self, Serve.self],
        defaultSubcommand: Generate.self)
}

extension ActivationPrecision: ExpressibleByArgument {}
extension KVType: ExpressibleByArgument {}

enum OutputFormat: String, ExpressibleByArgument, CaseIterable {
    case text, json
}

/// Options every model-running command shares.
struct ModelOptions: ParsableArguments {
    @Option(name: .long, help: "GGUF file, model folder or catalog name (`lantern models`; fetched on first use). Default: smollm2-135m.")
    var model: String?

    @Option(name: .long, help: "Worker threads (default: all cores).")
    var threads: Int = ProcessInfo.processInfo.activeProcessorCount

    @Option(name: .long, help: "Activation rounding for quantized weights: int8x2 (close to float32, default), mixed (two levels in outlier blocks only: near int8 speed, several times its accuracy) or int8 (fastest, like llama.cpp).")
    var activations: ActivationPrecision = .environmentDefault

    @Option(name: .long, help: "How the KV cache stores keys and values: f16, f32 or q8_0 (a quarter of f32). Default: f16 for quantized weights (as llama.cpp), f32 for float weights (as transformers).")
    var kvType: KVType?

    /// The path `--model` names (the default model without it), fetched first if it is a catalog name.
    func resolvedPath() throws -> String { try resolveModel(model, default: ModelCatalog.defaultModel) }

    func load() throws -> LoadedModel { try load(path: resolvedPath()) }

    func load(path: String) throws -> LoadedModel {
        guard threads >= 1 else { throw ValidationError("--threads must be at least 1") }
        return try LoadedModel(path: path, threads: threads, precision: activations)
    }
}

/// The one place a command turns a model argument into a path: an existing file or folder as given,
/// else a catalog name fetched into the cache on first use (progress on stderr), else a typed error
/// listing the catalog. `nil` (no argument) means `defaultEntry`.
func resolveModel(_ spec: String?, default defaultEntry: CatalogEntry) throws -> String {
    var fetcher = ModelFetcher()
    fetcher.progress = { stderr($0) }
    return try fetcher.resolve(spec, default: defaultEntry).path
}

/// `resolveModel` for an argument that is always given (`lantern inspect PATH`).
func resolveModel(_ spec: String) throws -> String {
    var fetcher = ModelFetcher()
    fetcher.progress = { stderr($0) }
    return try fetcher.resolve(spec).path
}

func stderr(_ line: String) {
    FileHandle.standardError.write(Data((line + "\n").utf8))
}

/// Writes text to stdout immediately (for streaming tokens).
func emit(_ text: String) {
    FileHandle.standardOutput.write(Data(text.utf8))
}

/// One JSON object on stdout, keys in the order given.
func printJSON(_ value: JSONValue) {
    print(value.serialized())
}

/// `reportingErrors` for async bodies.
func reportingErrors(format: OutputFormat, _ body: () async throws -> Void) async throws {
    do { try await body() } catch { try report(error, format: format) }
}

/// Runs `body`, turning any error into a message on stderr (or `{"error": ...}` on stdout for
/// --format json) and a non-zero exit, never a crash.
func reportingErrors(format: OutputFormat, _ body: () throws -> Void) throws {
    do { try body() } catch { try report(error, format: format) }
}

/// Exit codes and argument errors pass through to swift-argument-parser; anything else becomes the
/// message and `ExitCode.failure`.
private func report(_ error: any Error, format: OutputFormat) throws -> Never {
    if let e = error as? ExitCode { throw e }
    if let e = error as? ValidationError { throw e }
    let message = String(describing: error)
    if format == .json { printJSON(.object([("error", .string(message))])) }
    stderr("error: \(message)")
    throw ExitCode.failure
}
