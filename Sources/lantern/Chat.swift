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
            let session = try loaded.makeSession(contextLength: sampling.context ?? 4096)
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
                do {
                    let reply = try turn(loaded: loaded, session: session, messages: messages + [(role: "user", content: line)],
                                         params: params)
                    messages.append((role: "user", content: line))
                    messages.append((role: "assistant", content: reply))
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

    /// Renders the conversation, reuses the cached prefix, streams the reply; returns the reply text.
    func turn(loaded: LoadedModel, session: Session, messages: [(role: String, content: String)],
              params: GenerateParameters) throws -> String {
        let rendered = try loaded.renderChat(messages, addGenerationPrompt: true)
        let tokens = loaded.tokenizer.encode(rendered, parseSpecial: true, addBOS: false)
        // prefill keeps the common prefix but always evaluates at least the last prompt token
        let reused = min(zip(tokens, session.tokens).prefix { $0 == $1 }.count, max(tokens.count - 1, 0))
        var params = params
        params.maxTokens = min(sampling.maxTokens, max(0, session.contextLength - tokens.count - 1))
        let generator = try Generator(session: session, tokenizer: loaded.tokenizer, prompt: tokens, parameters: params)
        let reply = try stream(generator, format: format)
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
        return reply
    }
}
