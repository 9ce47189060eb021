import ArgumentParser
import Foundation
import Lantern

@main
struct LanternCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "lantern",
        abstract: "Run transformer language models on the CPU.",
        subcommands: [Generate.self, Chat.self, Tokenize.self, Detokenize.self, Forward.self, Inspect.self, Bench.self, RenderTemplate.self, Fetch.self, Embed.self, Similarity.self, FillMask.self, Serve.self],
        defaultSubcommand: Generate.self)
}

extension ActivationPrecision: ExpressibleByArgument {}

enum OutputFormat: String, ExpressibleByArgument, CaseIterable {
    case text, json
}

/// Options every model-running command shares.
struct ModelOptions: ParsableArguments {
    @Option(name: .long, help: "GGUF model file (default: SmolLM2-135M-Instruct Q4_1, fetched on first use).")
    var model: String?

    @Option(name: .long, help: "Worker threads (default: all cores).")
    var threads: Int = ProcessInfo.processInfo.activeProcessorCount

    @Option(name: .long, help: "Activation rounding for quantized weights: int8x2 (close to float32, default) or int8 (fastest, like llama.cpp).")
    var activations: ActivationPrecision = .environmentDefault

    func load() throws -> LoadedModel {
        guard threads >= 1 else { throw ValidationError("--threads must be at least 1") }
        if let model { return try LoadedModel(path: model, threads: threads, precision: activations) }
        return try LoadedModel.openDefault(threads: threads, precision: activations) { line in stderr(line) }
    }
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
    do {
        try await body()
    } catch let e as ExitCode {
        throw e
    } catch let e as ValidationError {
        throw e
    } catch {
        let message = String(describing: error)
        if format == .json { printJSON(.object([("error", .string(message))])) }
        stderr("error: \(message)")
        throw ExitCode.failure
    }
}

/// Runs `body`, turning any error into a message on stderr (or `{"error": ...}` on stdout for
/// --format json) and a non-zero exit, never a crash.
func reportingErrors(format: OutputFormat, _ body: () throws -> Void) throws {
    do {
        try body()
    } catch let e as ExitCode {
        throw e
    } catch let e as ValidationError {
        throw e
    } catch {
        let message = String(describing: error)
        if format == .json { printJSON(.object([("error", .string(message))])) }
        stderr("error: \(message)")
        throw ExitCode.failure
    }
}
