import ArgumentParser
import Foundation
import Lantern
import LanternModels

/// `lantern params`: how many parameters a model has, where they sit, and what its weights and KV cache
/// cost in memory.
struct Params: ParsableCommand {
    static let presetNames = ModelAnatomy.presets.map(\.name).joined(separator: ", ")
    static let configuration = CommandConfiguration(
        abstract: "Count a model's parameters (by part) and estimate weight and KV-cache memory.",
        discussion: """
        Give one of --model (a checkpoint: the count is its tensors' element count), --preset (\(presetNames)) \
        or --config (a Hugging Face config.json of a type Lantern runs). Weight memory puts matrices at the \
        type's block rate (q8_0 34 bytes / 32 values, q4_0 18 / 32, q4_K 144 / 256) and 1-D tensors (norms, \
        biases) in f32, as llama.cpp's quantizer does. The KV cache holds K and V of every layer's \
        self-attention per position.
        """)

    @Option(name: .long, help: "GGUF file, model folder or catalog name.") var model: String?
    @Option(name: .long, help: "A named architecture: \(Params.presetNames).") var preset: String?
    @Option(name: .long, help: "A Hugging Face config.json.") var config: String?
    @Option(name: .long, help: "Context for the KV-cache total (default: the model's trained context).") var context: Int?
    @Option(name: .long) var format: OutputFormat = .text

    func validate() throws {
        guard [model, preset, config].compactMap({ $0 }).count == 1 else {
            throw ValidationError("give exactly one of --model, --preset, --config")
        }
        if let context, context < 1 { throw ValidationError("--context must be at least 1") }
    }

    func run() throws {
        try reportingErrors(format: format) {
            var name: String, size: ModelSize, stored: Int? = nil, published: ModelAnatomy.Preset? = nil
            if let preset {
                guard let p = ModelAnatomy.preset(named: preset) else {
                    throw ValidationError("unknown preset '\(preset)'; known: \(Self.presetNames)")
                }
                name = p.name
                size = try ModelAnatomy.size(configJSON: Data(p.config.utf8))
                if let note = p.note { size.notes.append(note) }
                published = p
            } else if let config {
                guard let data = FileManager.default.contents(atPath: config) else { throw InputError("cannot read \(config)") }
                name = config
                size = try ModelAnatomy.size(configJSON: data)
            } else {
                let path = try resolveModel(model, default: ModelCatalog.defaultModel)
                name = path
                let checkpoint = try ModelAnatomy.size(checkpoint: path)
                size = checkpoint.size
                stored = checkpoint.storedBytes
            }
            let ctx = context ?? size.maxContext
            let p = size.parameters
            let kvF32 = size.kvValuesPerToken * 4, kvF16 = size.kvValuesPerToken * 2, kvQ8 = KVType.q8_0.bytes(values: size.kvValuesPerToken)
            switch format {
            case .json:
                var fields: [(String, JSONValue)] = [
                    ("name", .string(name)), ("architecture", .string(size.architecture)), ("total", .int(p.total)),
                    ("parameters", .object([("embeddings", .int(p.embeddings)), ("attention", .int(p.attention)),
                                            ("feed_forward", .int(p.feedForward)), ("norms", .int(p.norms)),
                                            ("head", .int(p.head)), ("other", .int(p.other)), ("vectors", .int(p.vectors))])),
                    ("weight_bytes", .object(WeightFormat.allCases.map { ($0.rawValue, .int(p.weightBytes($0))) })),
                    ("bits_per_weight", .object(WeightFormat.allCases.map { ($0.rawValue, .double($0.bitsPerWeight)) })),
                    ("kv_cache", .object([
                        ("values_per_token", .int(size.kvValuesPerToken)),
                        ("bytes_per_token", .object([("f32", .int(kvF32)), ("f16", .int(kvF16)), ("q8_0", .int(kvQ8))])),
                        ("context", .int(ctx)),
                        ("bytes", .object([("f32", .int(kvF32 * ctx)), ("f16", .int(kvF16 * ctx)), ("q8_0", .int(kvQ8 * ctx))])),
                        ("cross_values_per_source_token", .int(size.crossKVValuesPerSourceToken)),
                    ])),
                ]
                if let stored { fields.append(("stored_bytes", .int(stored))) }
                if let published {
                    fields.append(("published_total", .double(published.publishedTotal)))
                    fields.append(("published_source", .string(published.publishedSource)))
                }
                fields.append(("notes", .array(size.notes.map { .string($0) })))
                printJSON(.object(fields))
            case .text:
                print("\(name) (\(size.architecture)): \(grouped(p.total)) parameters (\(short(Double(p.total))))")
                for (label, n) in [("embeddings", p.embeddings), ("attention", p.attention), ("feed-forward", p.feedForward),
                                   ("norms", p.norms), ("head", p.head)] + (p.other > 0 ? [("other", p.other)] : []) {
                    print("  " + label.padding(toLength: 14, withPad: " ", startingAt: 0)
                          + grouped(n).leftPadded(18) + String(format: "  %5.1f%%", 100 * Double(n) / Double(max(p.total, 1))))
                }
                if let published { print("  published: \(short(published.publishedTotal)) (\(published.publishedSource))") }
                print("weights:")
                for f in WeightFormat.allCases {
                    print("  " + f.rawValue.padding(toLength: 6, withPad: " ", startingAt: 0)
                          + String(format: "%5.2f bits/weight  ", f.bitsPerWeight) + bytes(p.weightBytes(f)))
                }
                if let stored { print("  as stored: \(bytes(stored))") }
                if size.kvValuesPerToken > 0 {
                    print("KV cache: \(grouped(kvF32)) B/token f32, \(grouped(kvF16)) B/token f16 (the default), \(grouped(kvQ8)) B/token q8_0; at \(ctx) tokens: \(bytes(kvF32 * ctx)) f32, \(bytes(kvF16 * ctx)) f16, \(bytes(kvQ8 * ctx)) q8_0")
                    if size.crossKVValuesPerSourceToken > 0 {
                        print("  plus cross-attention: \(grouped(size.crossKVValuesPerSourceToken * 4)) B per source token f32")
                    }
                } else {
                    print("KV cache: none (encoder only)")
                }
                for note in size.notes { print("note: \(note)") }
            }
        }
    }

    func grouped(_ n: Int) -> String {
        let s = String(n)
        var out = ""
        for (i, c) in s.enumerated() {
            if i > 0 && (s.count - i) % 3 == 0 && c != "-" { out.append(",") }
            out.append(c)
        }
        return out
    }

    func short(_ n: Double) -> String {
        n >= 1e9 ? String(format: "%.2fB", n / 1e9) : n >= 1e6 ? String(format: "%.2fM", n / 1e6) : String(format: "%.1fK", n / 1e3)
    }

    func bytes(_ n: Int) -> String {
        let d = Double(n)
        let gib = Double(1 << 30), mib = Double(1 << 20)
        return d >= gib ? String(format: "%.2f GiB", d / gib) : d >= mib ? String(format: "%.1f MiB", d / mib)
            : String(format: "%.1f KiB", d / 1024)
    }
}

extension String {
    func leftPadded(_ width: Int) -> String { count >= width ? self : String(repeating: " ", count: width - count) + self }
}
