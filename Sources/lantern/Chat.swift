import ArgumentParser
import Foundation
import Lantern
import LanternGeneration

struct Chat: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Talk with a chat model: one message per line on stdin, replies on stdout.",
        discussion: "The model's chat template renders the whole conversation each turn; the KV cache keeps the shared prefix, so earlier turns are not recomputed. /reset clears the history, /exit (or end of input) quits.")

    @Option(name: .long, help: "System message.") var system: String?
    @OptionGroup var modelOptions: ModelOptions
    @OptionGroup var sampling: SamplingOptions
    @Option(name: .long, help: "text prints replies; json prints one object per turn.")
    var format: OutputFormat = .text

    func run() throws {
        try reportingErrors(format: format) {
            let loaded = try modelOptions.load()
            let session = loaded.makeSession(contextLength: sampling.context ?? 4096)
            var messages: [(role: String, content: String)] = []
            if let system { messages.append((role: "system", content: system)) }
            let interactive = isatty(0) == 1
            var params = sampling.parameters()
            while true {
                if interactive { FileHandle.standardError.write(Data("> ".utf8)) }
                guard let line = readLine(strippingNewline: true) else { break }
                let input = line.trimmingCharacters(in: .whitespaces)
                if input.isEmpty { continue }
                if input == "/exit" || input == "/quit" { break }
                if input == "/reset" {
                    messages = system.map { [(role: "system", content: $0)] } ?? []
                    session.reset()
                    continue
                }
                messages.append((role: "user", content: line))
                let rendered = try loaded.renderChat(messages, addGenerationPrompt: true)
                let tokens = loaded.tokenizer.encode(rendered, parseSpecial: true, addBOS: false)
                let reused = zip(tokens, session.tokens).prefix { $0 == $1 }.count
                params.maxTokens = min(sampling.maxTokens, max(0, session.contextLength - tokens.count - 1))
                let generator = try Generator(session: session, tokenizer: loaded.tokenizer, prompt: tokens, parameters: params)
                var reply = ""
                while let step = try generator.next() {
                    reply += step.text
                    if format == .text { emit(step.text) }
                }
                messages.append((role: "assistant", content: reply))
                let reason = generator.finishReason ?? .length
                switch format {
                case .text: emit("\n")
                case .json:
                    printJSON(.object([
                        ("role", .string("assistant")), ("content", .string(reply)),
                        ("prompt_tokens", .int(tokens.count)), ("cached_tokens", .int(reused)),
                        ("tokens", .ints(generator.generated)), ("finish_reason", .string(reason.rawValue)),
                    ]))
                }
                // Seeds advance per turn so replies differ but stay reproducible for a given --seed.
                if let s = params.sampling.seed { params.sampling.seed = s &+ 1 }
            }
        }
    }
}
