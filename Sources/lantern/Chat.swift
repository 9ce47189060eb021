import ArgumentParser
import Foundation
import Lantern
import LanternGeneration

struct Chat: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Talk with a chat model: one message per line on stdin, replies on stdout.",
        discussion: "The model's chat template renders the whole conversation each turn; the engine's prefix cache keeps the shared prefix, so earlier turns are not recomputed. /reset clears the history, /exit (or end of input) quits.")

    @Option(name: .long, help: "System message.") var system: String?
    @OptionGroup var modelOptions: ModelOptions
    @OptionGroup var sampling: SamplingOptions
    @Option(name: .long, help: "text prints replies; json prints one object per turn.")
    var format: OutputFormat = .text

    func run() async throws {
        try await reportingErrors(format: format) {
            let loaded = try modelOptions.load()
            let model = try LanternModel(loaded: loaded, options: LoadOptions(
                threads: modelOptions.threads, precision: modelOptions.activations, contextLength: sampling.context ?? 4096,
                kvType: modelOptions.kvType))
            defer { model.engine.shutdown() }
            let chat = model.chat(system: system)
            let interactive = isatty(0) == 1
            var params = sampling.parameters()
            while true {
                if interactive { FileHandle.standardError.write(Data("> ".utf8)) }
                guard let line = readLine(strippingNewline: true) else { break }
                let input = line.trimmingCharacters(in: .whitespaces)
                if input.isEmpty { continue }
                if input == "/exit" || input == "/quit" { break }
                if input == "/reset" { chat.reset(); continue }
                do {
                    try await turn(chat, line, params: params)
                } catch {
                    // A failed turn (context full, template error) is reported and dropped; the conversation goes on.
                    let message = String(describing: error)
                    if format == .json { printJSON(.object([("error", .string(message))])) }
                    stderr("error: \(message)")
                }
                // Seeds advance per turn so replies differ but stay reproducible for a given --seed.
                if let s = params.sampling.seed { params.sampling.seed = s &+ 1 }
            }
        }
    }

    /// Streams one reply; the session records it in the history when complete.
    func turn(_ chat: ChatSession, _ line: String, params: GenerateParameters) async throws {
        var reply = "", ids: [Int] = []
        var summary: GenerationSummary?
        for try await event in try chat.send(line, parameters: params) {
            switch event {
            case let .token(t):
                ids.append(t.id)
                reply += t.text
                if format == .text { emit(t.text) }
            case let .finished(s):
                summary = s
                reply += s.trailingText
                if format == .text { emit(s.trailingText) }
            }
        }
        switch format {
        case .text: emit("\n")
        case .json:
            printJSON(.object([
                ("role", .string("assistant")), ("content", .string(reply)),
                ("prompt_tokens", .int(summary?.promptTokens ?? 0)), ("cached_tokens", .int(summary?.cachedTokens ?? 0)),
                ("tokens", .ints(ids)), ("finish_reason", .string((summary?.finishReason ?? .length).rawValue)),
            ]))
        }
    }
}
