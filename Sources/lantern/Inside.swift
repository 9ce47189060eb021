import ArgumentParser
import Foundation
import Lantern
import LanternGeneration

/// `lantern perplexity`: llama.cpp's perplexity tool (same windows, same scored half, same BOS rule,
/// same standard error), with a progress bar on stderr.
struct PerplexityCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "perplexity",
        abstract: "Perplexity of a text file, computed as llama.cpp's perplexity tool does.",
        discussion: """
        The text is tokenized whole (BOS first only when the model adds one) and cut into non-overlapping \
        windows of --context tokens (a partial last window is dropped). Each window runs from an empty cache, \
        its first token replaced by BOS when the model adds one, and only its second half is scored. \
        Prints PPL = exp(mean NLL) with llama.cpp's standard error (ppl x sqrt(var(NLL) / (N - 1))).
        """)

    @OptionGroup var modelOptions: ModelOptions
    @Option(name: .long, help: "The text file.") var file: String
    @Option(name: .long, help: "Window length in tokens.") var context: Int = 512
    @Option(name: .long, help: "json prints {\"ppl\", \"ppl_stderr\", \"tokens\", \"windows\", \"scored\", \"context\"}.")
    var format: OutputFormat = .text

    func run() throws {
        try reportingErrors(format: format) {
            guard context >= 4 else { throw ValidationError("--context must be at least 4") }
            let text: String
            do { text = try String(contentsOfFile: file, encoding: .utf8) } catch {
                throw InputError("cannot read \(file) as UTF-8 text: \(error.localizedDescription)")
            }
            let loaded = try modelOptions.load()
            // An encoder-decoder's decoder predicts text given a source; without one its "perplexity" means nothing.
            if case .encoderDecoder = loaded.network {
                throw InputError("\(loaded.path) is an encoder-decoder (\(loaded.architecture)): perplexity is for decoder-only models")
            }
            guard loaded.hasTokenizer else { throw LanternError.noTokenizer(loaded.path) }
            let model = try loaded.model
            guard context <= model.maxContextLength else {
                throw ValidationError("--context \(context) is over the model's context of \(model.maxContextLength) tokens")
            }
            let addBOS = loaded.tokenizer.addsBOS && loaded.tokenizer.bosTokenID != nil
            let ids = loaded.tokenizer.encode(text, parseSpecial: false, addBOS: addBOS)
            guard ids.count >= context else {
                throw InputError("\(file) has \(ids.count) tokens, fewer than one window of --context \(context)")
            }
            let bar = WindowProgress(label: "perplexity")
            let start = Date()
            let result = try Perplexity.evaluate(model, tokens: ids, context: context,
                                                 bos: addBOS ? loaded.tokenizer.bosTokenID : nil,
                                                 kvType: modelOptions.kvType) { done, total, ppl in
                bar.update(done: done, total: total, note: String(format: "ppl %.4f", ppl))
            }
            bar.finish()
            switch format {
            case .json:
                printJSON(.object([
                    ("ppl", .double(result.perplexity)), ("ppl_stderr", .double(result.perplexityStandardError)),
                    ("tokens", .int(ids.count)), ("windows", .int(result.windows)), ("scored", .int(result.scored)),
                    ("context", .int(context)), ("add_bos", .bool(addBOS)),
                ]))
            case .text:
                print(String(format: "PPL = %.4f +/- %.5f", result.perplexity, result.perplexityStandardError))
                stderr(String(format: "[%d tokens, %d windows of %d, %d scored, BOS %@, %.1f s]", ids.count, result.windows,
                              context, result.scored, addBOS ? "added" : "not added", Date().timeIntervalSince(start)))
            }
        }
    }
}

/// A problem with what the user's files hold (reported as {"error"} in JSON mode, unlike argument errors).
struct InputError: Error, CustomStringConvertible {
    let description: String
    init(_ description: String) { self.description = description }
}

/// A one-line progress bar on stderr, redrawn in place on a terminal and one line per update otherwise
/// (so a log keeps every step).
final class WindowProgress {
    let label: String, width = 30
    let isTerminal = isatty(2) == 1
    private var drawn = false

    init(label: String) { self.label = label }

    func update(done: Int, total: Int, note: String) {
        let filled = total > 0 ? width * done / total : width
        let line = "\(label) [" + String(repeating: "#", count: filled) + String(repeating: ".", count: width - filled)
            + "] \(done)/\(total) \(note)"
        if isTerminal {
            FileHandle.standardError.write(Data(("\r" + line).utf8))
            drawn = true
        } else {
            stderr(line)
        }
    }

    func finish() {
        if drawn { FileHandle.standardError.write(Data("\n".utf8)) }
        drawn = false
    }
}
