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
    @Flag(name: .long, help: "Show each token's probability under the model (coloured on a terminal, numbers otherwise) and the most likely alternatives per step; json adds `logprobs`.")
    var showProbs = false
    @Option(name: .long, help: "Alternatives listed per step with --show-probs (0...20).") var top: Int = 5

    func validate() throws {
        guard (0...20).contains(top) else { throw ValidationError("--top must be in 0...20") }
    }

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
                threads: modelOptions.threads, precision: modelOptions.activations, contextLength: context, parallel: 1,
                kvType: modelOptions.kvType))
            defer { model.engine.shutdown() }
            if format == .text && tokens == nil { emit(prompt) }
            let start = Date()
            var text = "", ids: [Int] = []
            var summary: GenerationSummary?
            var steps: [TokenProbabilities] = []
            let colour = showProbs && format == .text && isatty(1) == 1
            for try await event in try model.generate(tokens: promptTokens, parameters: sampling.parameters(),
                                                      logprobs: showProbs ? top : nil) {
                switch event {
                case let .token(t):
                    ids.append(t.id)
                    text += t.text
                    if let logprob = t.logprob {
                        steps.append(TokenProbabilities(id: t.id, logprob: logprob, top: t.top, loaded: loaded))
                    }
                    if format == .text { emit(colour ? TokenProbabilities.coloured(t.text, probability: exp(Double(t.logprob ?? 0))) : t.text) }
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
                if showProbs { TokenProbabilities.printTable(steps, colour: colour) }
                stderr(String(format: "[%d prompt tokens, %d new tokens in %.2f s, %.1f tokens/s, finish: %@]",
                              promptTokens.count, ids.count, seconds, Double(ids.count) / max(seconds, 1e-9), reason.rawValue))
            case .json:
                var fields: [(String, JSONValue)] = [
                    ("prompt_tokens", .ints(promptTokens)),
                    ("tokens", .ints(ids)),
                    ("text", .string(text)),
                    ("finish_reason", .string(reason.rawValue)),
                ]
                if showProbs { fields.append(("logprobs", .array(steps.map(\.json)))) }
                printJSON(.object(fields))
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

/// One generated token's log-probability and the most likely alternatives (the engine's TokenLogprobs,
/// the numbers the server's `logprobs` report), with their text as the server renders it.
struct TokenProbabilities {
    struct Entry { let id: Int; let token: String; let logprob: Float }
    let chosen: Entry
    let top: [Entry]

    init(id: Int, logprob: Float, top: [TokenLogprob], loaded: LoadedModel) {
        func text(_ id: Int) -> String { String(decoding: loaded.logprobTokenBytes(id), as: UTF8.self) }
        chosen = Entry(id: id, token: text(id), logprob: logprob)
        self.top = top.map { Entry(id: $0.id, token: text($0.id), logprob: $0.logprob) }
    }

    var json: JSONValue {
        func entry(_ e: Entry) -> [(String, JSONValue)] {
            [("token", .string(e.token)), ("id", .int(e.id)), ("logprob", e.logprob.isFinite ? .float(e.logprob) : .null)]
        }
        return .object(entry(chosen) + [("top_logprobs", .array(top.map { .object(entry($0)) }))])
    }

    /// ANSI colour by probability: green >= 0.8, yellow >= 0.5, orange >= 0.2, red below (256-colour codes).
    static func colourCode(_ p: Double) -> Int { p >= 0.8 ? 40 : p >= 0.5 ? 184 : p >= 0.2 ? 208 : 196 }

    static func coloured(_ text: String, probability p: Double) -> String {
        text.isEmpty ? text : "\u{1B}[38;5;\(colourCode(p))m" + text + "\u{1B}[0m"
    }

    /// One line a step: index, the token (JSON-quoted so spaces and newlines show), p, and the alternatives.
    static func printTable(_ steps: [TokenProbabilities], colour: Bool) {
        if colour { print("colours: " + [("p >= 0.8", 0.9), ("p >= 0.5", 0.6), ("p >= 0.2", 0.3), ("p < 0.2", 0.1)].map { coloured($0.0, probability: $0.1) }.joined(separator: " ")) }
        for (i, s) in steps.enumerated() {
            let token = JSONValue.string(s.chosen.token).serialized()
            var line = String(format: "%4d ", i + 1) + (colour ? coloured(token, probability: exp(Double(s.chosen.logprob))) : token)
                + String(repeating: " ", count: max(1, 16 - token.count))
                + String(format: "p=%.4f", exp(Double(s.chosen.logprob)))
            if !s.top.isEmpty {
                line += "  |" + s.top.map { " " + JSONValue.string($0.token).serialized() + String(format: " %.4f", exp(Double($0.logprob))) }.joined()
            }
            print(line)
        }
    }
}
