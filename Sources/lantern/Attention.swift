import ArgumentParser
import Foundation
import Lantern

struct AttentionCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "attention",
        abstract: "Draw one layer's attention over a text as a heatmap (PNG or SVG), or print the weights.",
        discussion: """
            Rows are query tokens, columns key tokens; each row is softmax(QK^T / sqrt(d)) after masking, \
            as the model computed it (masked keys are 0). Without --head, a grid of every head of the layer. \
            Encoder-decoder models: the encoder's self-attention, or with --cross the decoder's attention \
            over the encoder tokens (decoder rows: --decoder-tokens, else the start token and greedy tokens).
            """)

    @Argument(help: "Text to tokenize (or pass --tokens).") var text: String?
    @Option(name: .long, help: "Comma-separated token ids instead of text.") var tokens: String?
    @Option(name: .long, help: "Layer (0-based).") var layer: Int
    @Option(name: .long, help: "One head (0-based); default: every head of the layer.") var head: Int?
    @Flag(name: .long, help: "Encoder-decoder models: the decoder's cross-attention over the encoder tokens.") var cross = false
    @Option(name: .long, help: "With --cross: the decoder's token ids (default: start token + greedy tokens).") var decoderTokens: String?
    @Option(name: .long, help: "With --cross and no --decoder-tokens: the most decoder rows.") var maxTokens = 16
    @Option(name: .long, help: "Image to write: FILE.png or FILE.svg (optional with --format json).") var out: String?
    @OptionGroup var modelOptions: ModelOptions
    @Option(name: .long) var format: OutputFormat = .text

    func run() throws {
        try reportingErrors(format: format) {
            let kind = out.map { ($0 as NSString).pathExtension.lowercased() }
            guard kind == nil || kind == "png" || kind == "svg" else {
                throw ValidationError("--out must name a .png or .svg file")
            }
            guard out != nil || format == .json else { throw ValidationError("--out FILE.png|FILE.svg is required (or --format json)") }
            guard (text == nil) != (tokens == nil) else { throw ValidationError("give either TEXT or --tokens") }
            let loaded = try modelOptions.load()
            let ids: [Int]
            if let tokens {
                ids = try parseTokenIDs(tokens)
            } else {
                guard loaded.hasTokenizer else { throw LanternError.noTokenizer(loaded.path) }
                ids = loaded.encodePrompt(text ?? "")
            }
            let map = try loaded.attentionMap(tokens: ids, layer: layer, head: head, cross: cross,
                                              decoderTokens: try decoderTokens.map { try parseTokenIDs($0) },
                                              maxNewTokens: maxTokens)
            if let out {
                let bytes = kind == "svg" ? Array(Heatmap.svg(map).utf8) : Heatmap.png(map)
                try Data(bytes).write(to: URL(fileURLWithPath: out))
            }
            let (lo, hi) = map.range
            switch format {
            case .json:
                func floats(_ row: [Float]) -> JSONValue { .array(row.map { .float($0) }) }
                printJSON(.object([
                    ("layer", .int(map.layer)), ("cross", .bool(map.cross)), ("heads", .array(map.heads.map { .int($0) })),
                    ("tokens", .array(map.columnTokens.map { .int($0) })), ("labels", .array(map.columnLabels.map { .string($0) })),
                    ("row_tokens", .array(map.rowTokens.map { .int($0) })), ("row_labels", .array(map.rowLabels.map { .string($0) })),
                    ("shape", .array([map.heads.count, map.rowTokens.count, map.columnTokens.count].map { .int($0) })),
                    ("range", .array([.float(lo), .float(hi)])),
                    ("weights", .array(map.weights.map { .array($0.map(floats)) })),
                    ("out", out.map { .string($0) } ?? .null),
                ]))
            case .text:
                let heads = map.heads.map(String.init).joined(separator: ",")
                print("wrote \(out ?? "-"): layer \(map.layer) \(map.cross ? "cross-attention" : "self-attention"), heads \(heads), "
                      + "\(map.rowTokens.count) x \(map.columnTokens.count) tokens, range \(lo) ... \(hi)")
            }
        }
    }
}
