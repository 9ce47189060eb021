import ArgumentParser
import Foundation
import Lantern
import LanternTensor

/// Options of the encoder commands (embed, similarity, fill-mask).
struct EncoderOptions: ParsableArguments {
    @Option(name: .long, help: "A BERT-family model folder (config.json, model.safetensors, tokenizer.json or vocab.txt; modules.json and 1_Pooling/config.json choose pooling and normalisation) or a catalog name (`lantern models`). Default: minilm-l6 (all-MiniLM-L6-v2), fetched on first use.")
    var model: String?

    @Option(name: .long, help: "Worker threads (default: all cores).")
    var threads: Int = ProcessInfo.processInfo.activeProcessorCount

    @Option(name: .long, help: "Convert the encoder blocks' float weights at load: q8_0 (int8 dot products; faster, cosine ~0.999 against float32).")
    var quantize: WeightQuantization?

    @Option(name: .long, help: "Activation rounding for quantized weights: int8x2 (close to float32, default), mixed (two levels in outlier blocks only) or int8 (fastest).")
    var activations: ActivationPrecision = .environmentDefault

    enum WeightQuantization: String, ExpressibleByArgument, CaseIterable { case q8_0 }

    var modelName: String { model ?? ModelFolderSource.defaultEmbeddingModel.folderName }

    func load() throws -> SentenceEmbedder {
        guard threads >= 1 else { throw ValidationError("--threads must be at least 1") }
        let q: DType? = quantize == .q8_0 ? .q8_0 : nil
        let path = try resolveModel(model, default: ModelCatalog.defaultEmbeddingModel)
        return try SentenceEmbedder(path: path, threads: threads, quantizeWeights: q, precision: activations)
    }
}

/// The texts of a command: its arguments, else one per line of stdin (empty lines skipped).
func inputTexts(_ arguments: [String]) -> [String] {
    if !arguments.isEmpty { return arguments }
    var lines: [String] = []
    while let line = readLine(strippingNewline: true) {
        if !line.trimmingCharacters(in: .whitespaces).isEmpty { lines.append(line) }
    }
    return lines
}

/// A progress bar on stderr for long inputs: redrawn in place on a terminal, else a line every 10%.
/// Shown only when stderr is a terminal or the input is large, so short runs and stdout stay clean.
final class ProgressBar {
    let total: Int
    let enabled: Bool
    let tty = isatty(STDERR_FILENO) != 0
    let start = Date()
    var lastTenth = -1

    init(total: Int, largeInput: Int = 500) {
        self.total = total
        enabled = total > 1 && (isatty(STDERR_FILENO) != 0 || total >= largeInput)
    }

    func update(_ done: Int) {
        guard enabled else { return }
        let rate = Double(done) / max(Date().timeIntervalSince(start), 1e-9)
        if tty {
            let width = 30, filled = width * done / max(total, 1)
            let bar = String(repeating: "#", count: filled) + String(repeating: "-", count: width - filled)
            FileHandle.standardError.write(Data(String(format: "\r[%@] %d/%d sentences (%.0f/s)", bar, done, total, rate).utf8))
            if done >= total { FileHandle.standardError.write(Data("\n".utf8)) }
        } else {
            let tenth = 10 * done / max(total, 1)
            if tenth != lastTenth {
                lastTenth = tenth
                stderr(String(format: "embedded %d/%d sentences (%.0f/s)", done, total, rate))
            }
        }
    }
}

struct Embed: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Sentence embeddings (pooling and normalisation as the model's sentence-transformers files say).",
        discussion: "With no TEXT, reads one text per line from stdin. Prints {\"model\": ..., \"embeddings\": [[...], ...]}; --format text prints one vector per line.")

    @Argument(help: "Texts to embed (default: one per line of stdin).") var texts: [String] = []
    @OptionGroup var options: EncoderOptions
    @Option(name: .long, help: "json (default) or text.") var format: OutputFormat = .json

    func run() throws {
        try reportingErrors(format: format) {
            let embedder = try options.load()
            let inputs = inputTexts(texts)
            guard !inputs.isEmpty else { throw ValidationError("no text to embed: give TEXT arguments or lines on stdin") }
            let bar = ProgressBar(total: inputs.count)
            let vectors = try embedder.embed(inputs, warn: { stderr($0) }, progress: { done, _ in bar.update(done) })
            switch format {
            case .json:
                printJSON(.object([("model", .string(options.modelName)),
                                   ("embeddings", .array(vectors.map { .array($0.map { .float($0) }) }))]))
            case .text:
                for v in vectors { print(v.map { String($0) }.joined(separator: " ")) }
            }
        }
    }
}

struct Similarity: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Cosine similarity matrix of sentence embeddings.",
        discussion: "With --format json prints {\"texts\": [...], \"similarity\": [[...]]}.")

    @Argument(help: "Two or more texts (default: one per line of stdin).") var texts: [String] = []
    @OptionGroup var options: EncoderOptions
    @Option(name: .long, help: "text (a table, default) or json.") var format: OutputFormat = .text

    func run() throws {
        try reportingErrors(format: format) {
            let inputs = inputTexts(texts)
            guard inputs.count >= 2 else { throw ValidationError("similarity needs at least two texts") }
            let embedder = try options.load()
            let bar = ProgressBar(total: inputs.count)
            let v = try embedder.embed(inputs, warn: { stderr($0) }, progress: { done, _ in bar.update(done) })
            let matrix = v.map { a in v.map { b in SentenceEmbedder.cosine(a, b) } }
            switch format {
            case .json:
                printJSON(.object([("texts", .array(inputs.map { .string($0) })),
                                   ("similarity", .array(matrix.map { .array($0.map { .float($0) }) }))]))
            case .text:
                print(similarityTable(inputs, matrix))
            }
        }
    }
}

/// Rows "[i] text" against columns [0] [1] ..., four decimals.
func similarityTable(_ texts: [String], _ matrix: [[Float]]) -> String {
    func label(_ s: String) -> String {
        let flat = s.replacingOccurrences(of: "\n", with: " ")
        return flat.count > 40 ? String(flat.prefix(39)) + "…" : flat
    }
    let labels = texts.enumerated().map { "[\($0.offset)] \(label($0.element))" }
    let width = labels.map(\.count).max() ?? 0
    func pad(_ s: String, _ n: Int) -> String { s + String(repeating: " ", count: max(0, n - s.count)) }
    func left(_ s: String, _ n: Int) -> String { String(repeating: " ", count: max(0, n - s.count)) + s }
    var lines = [pad("", width) + texts.indices.map { left("[\($0)]", 8) }.joined()]
    for (i, row) in matrix.enumerated() {
        lines.append(pad(labels[i], width) + row.map { left(String(format: "%.4f", $0), 8) }.joined())
    }
    return lines.joined(separator: "\n")
}

struct FillMask: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "fill-mask",
        abstract: "Most likely tokens at each [MASK] of a text (models with a masked-LM head).")

    @Argument(help: "A text holding the tokenizer's mask token, e.g. \"Paris is the [MASK] of France.\"") var text: String?
    @Option(name: .long, help: "The input as comma-separated token ids instead of text (for folders without a tokenizer).")
    var tokens: String?
    @Option(name: .long, help: "Token type ids for --tokens, comma-separated (default: all 0).") var tokenTypes: String?
    @Option(name: .long, help: "The mask token's id (default: the tokenizer's [MASK]).") var maskId: Int?
    @Option(name: .long, help: "Candidates per mask.") var top: Int = 5
    @OptionGroup var options: EncoderOptions
    @Option(name: .long, help: "text (default) or json.") var format: OutputFormat = .text

    func validate() throws {
        guard (1...1000).contains(top) else { throw ValidationError("--top must be between 1 and 1000") }
        guard (text == nil) != (tokens == nil) else { throw ValidationError("give a TEXT or --tokens, not both and not neither") }
        if tokenTypes != nil && tokens == nil { throw ValidationError("--token-types goes with --tokens") }
    }

    func run() throws {
        try reportingErrors(format: format) {
            guard options.model != nil else { throw ValidationError("fill-mask needs --model PATH: a folder with a masked-LM head (all-MiniLM-L6-v2 has none)") }
            let embedder = try options.load()
            let ids: [Int], types: [Int]?
            if let tokens {
                ids = try parseTokenIDs(tokens)
                types = try tokenTypes.map { try parseTokenIDs($0) }
                if let types, types.count != ids.count {
                    throw ValidationError("--token-types has \(types.count) ids but --tokens has \(ids.count)")
                }
            } else {
                let (encoded, truncated) = try embedder.tokenize(text ?? "")
                if truncated { stderr("warning: the text was longer than \(embedder.maxLength) tokens and was truncated") }
                ids = encoded
                types = nil
            }
            guard let mask = maskId ?? embedder.maskTokenID else {
                throw ValidationError("the tokenizer has no [MASK] token; pass --mask-id")
            }
            let results = try embedder.fillMask(tokens: ids, tokenTypes: types, maskID: mask, top: top)
            let positions = ids.indices.filter { ids[$0] == mask }
            switch format {
            case .json:
                printJSON(.object([("masks", .array(zip(positions, results).map { p, c in
                    .object([("position", .int(p)), ("candidates", .array(c.map { m in
                        .object([("token", .int(m.token)), ("text", m.text.map { .string($0) } ?? .null),
                                 ("probability", .float(m.probability))])
                    }))])
                }))]))
            case .text:
                for (p, c) in zip(positions, results) {
                    print("mask at position \(p):")
                    for m in c {
                        print(String(format: "  %.4f  %6d  %@", m.probability, m.token, m.text ?? ""))
                    }
                }
            }
        }
    }
}
