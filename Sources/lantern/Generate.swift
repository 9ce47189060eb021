import ArgumentParser
import Foundation
import Lantern
import LanternGeneration
import LanternModels

/// Sampling options shared by `generate` and `chat` (llama.cpp's names and defaults).
struct SamplingOptions: ParsableArguments {
    @Option(name: .long, help: "Most new tokens.") var maxTokens: Int = 256
    @Option(name: .long, help: "Temperature; 0 means greedy.") var temperature: Float = 0.8
    @Option(name: .long, help: "Keep the K most likely tokens (0 = off).") var topK: Int = 40
    @Option(name: .long, help: "Nucleus sampling mass (1 = off).") var topP: Float = 0.95
    @Option(name: .long, help: "Drop tokens below M x the top probability (0 = off).") var minP: Float = 0.05
    @Option(name: .long, help: "Repetition penalty over the last 64 tokens (1 = off).") var repeatPenalty: Float = 1.0
    @Option(name: .long, help: "Random seed (default: random).") var seed: UInt64?
    @Option(name: .long, help: "A string that ends the text (repeatable).") var stop: [String] = []
    @Option(name: .long, help: "Context length in tokens (default: prompt + max tokens, at most the model's).")
    var context: Int?

    func parameters() -> GenerateParameters {
        GenerateParameters(
            maxTokens: maxTokens,
            sampling: SamplingParameters(temperature: temperature, topK: topK, topP: topP, minP: minP,
                                         repeatPenalty: repeatPenalty, seed: seed),
            stop: stop)
    }

    func validate() throws {
        guard (0...(1 << 24)).contains(maxTokens) else { throw ValidationError("--max-tokens must be between 0 and \(1 << 24)") }
        if let context, !(1...(1 << 24)).contains(context) { throw ValidationError("--context must be between 1 and \(1 << 24)") }
        do { try parameters().sampling.validate() } catch { throw ValidationError(error.description) }
    }
}

struct Generate: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Continue a prompt (raw text; special tokens such as <|im_start|> are parsed).")

    @Argument(help: "The prompt (for encoder-decoder models, the encoder's input).") var prompt: String = "Once upon a time"
    @Option(name: .long, help: "The prompt as comma-separated token ids instead of text.") var tokens: String?
    @OptionGroup var modelOptions: ModelOptions
    @OptionGroup var sampling: SamplingOptions
    @Option(name: .long, help: "text streams tokens as they come; json prints one object at the end.")
    var format: OutputFormat = .text

    func run() async throws {
        try await reportingErrors(format: format) {
            let loaded = try modelOptions.load()
            let promptTokens: [Int]
            if let tokens {
                promptTokens = try parseTokenIDs(tokens)
            } else {
                guard loaded.hasTokenizer else { throw LanternError.noTokenizer(loaded.path) }
                promptTokens = loaded.encodePrompt(prompt)
            }
            var encoderDecoder = false
            if case .encoderDecoder = loaded.network { encoderDecoder = true }
            let context = sampling.context ?? ((encoderDecoder ? 0 : promptTokens.count) + sampling.maxTokens + 1)
            let model = try LanternModel(loaded: loaded, options: LoadOptions(
                threads: modelOptions.threads, precision: modelOptions.activations, contextLength: context, parallel: 1))
            defer { model.engine.shutdown() }
            if format == .text && tokens == nil { emit(prompt) }
            let start = Date()
            var text = "", ids: [Int] = []
            var summary: GenerationSummary?
            for try await event in try model.generate(tokens: promptTokens, parameters: sampling.parameters()) {
                switch event {
                case let .token(t):
                    ids.append(t.id)
                    text += t.text
                    if format == .text { emit(t.text) }
                case let .finished(s):
                    summary = s
                    text += s.trailingText
                    if format == .text { emit(s.trailingText) }
                }
            }
            let seconds = Date().timeIntervalSince(start)
            let reason = summary?.finishReason ?? .length
            switch format {
            case .text:
                emit("\n")
                stderr(String(format: "[%d prompt tokens, %d new tokens in %.2f s, %.1f tokens/s, finish: %@]",
                              promptTokens.count, ids.count, seconds, Double(ids.count) / max(seconds, 1e-9), reason.rawValue))
            case .json:
                printJSON(.object([
                    ("prompt_tokens", .ints(promptTokens)),
                    ("tokens", .ints(ids)),
                    ("text", .string(text)),
                    ("finish_reason", .string(reason.rawValue)),
                ]))
            }
        }
    }
}

/// Runs a generator to the end, printing each step's text as it comes in text mode; returns the whole text.
func stream(_ generator: Generator, format: OutputFormat) throws -> String {
    var text = ""
    while let step = try generator.next() {
        text += step.text
        if format == .text { emit(step.text) }
    }
    return text
}
