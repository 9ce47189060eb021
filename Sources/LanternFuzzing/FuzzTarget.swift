import Foundation
import Lantern
import LanternFormats
import LanternGeneration
import LanternModels
import LanternServer
import LanternTemplates
import LanternTokenizers

/// How one fuzz input ended.
public enum FuzzOutcome: Sendable, Equatable {
    /// Loaded, rendered, tokenized or answered with a 2xx.
    case accepted
    /// A typed error (or a 4xx answer), with its message.
    case refused(String)
    /// An untyped error: what a fuzzer reports.
    case finding(String)

    public var isRefused: Bool { if case .refused = self { return true } else { return false } }
}

/// The fuzz targets: each feeds arbitrary bytes to one reader of outside input and checks that it
/// answers with a result or a typed error. A crash, a trap, a hang or an untyped error (one the user
/// would see as a bare `DecodingError` or `NSError`) is a finding. `fuzz/run.sh` links these into
/// libFuzzer; `FuzzRegressionTests` replays the seed corpus and every kept crash through the same code.
public enum FuzzTarget: String, CaseIterable, Sendable {
    /// A GGUF file: header, metadata, tensor infos, tensor views, the tokenizer its vocabulary
    /// describes and the whole model load.
    case gguf
    /// Even first byte: a safetensors file (header and every tensor read as floats). Odd: a
    /// `model.safetensors.index.json` beside a real shard.
    case safetensors
    /// A tokenizer.json, then encode and decode with it.
    case tokenizerJSON = "tokenizer-json"
    /// A chat template and, after the first NUL byte, the JSON variables it renders with.
    case jinja
    /// Arbitrary bytes encoded (invalid UTF-8 replaced) and, read as token ids, decoded, by every
    /// tokenizer kind: byte-level BPE, SentencePiece BPE and Unigram, WordPiece, GGUF vocabularies.
    case tokenize
    /// First byte picks a real fixture's weights; the rest is its config.json, loaded as a model.
    case config
    /// First byte picks a POST route; the rest is the request body, answered by the server's real
    /// handlers over a backend that tokenizes and templates for real but generates a fixed reply.
    case request

    /// Runs one input. Returns normally for a result or a typed error; traps on anything else.
    public func run(_ data: Data) {
        if case let .finding(what) = outcome(data) { fatalError(what) }
    }

    /// Runs one input: nil for a result or a typed error, else what went wrong (an untyped error).
    public func check(_ data: Data) -> String? {
        if case let .finding(what) = outcome(data) { return what }
        return nil
    }

    /// `outcome(_:)` for async callers (tests): the request target awaits the server's handlers here
    /// instead of blocking a thread of the shared pool on them.
    public func asyncOutcome(_ data: Data) async -> FuzzOutcome {
        guard self == .request else { return outcome(data) }
        do { return try await FuzzBodies.requestAsync(data) } catch {
            return classified(error)
        }
    }

    /// Runs one input and says how it ended (blocking: the request target waits for the server's
    /// async handlers on a semaphore, so call it from a thread outside Swift's shared pool, as the
    /// fuzz driver does). A crash or a broken invariant (a token id outside the
    /// vocabulary, a 5xx answer) traps instead.
    public func outcome(_ data: Data) -> FuzzOutcome {
        do {
            switch self {
            case .gguf: try FuzzBodies.gguf(data)
            case .safetensors: try FuzzBodies.safetensors(data)
            case .tokenizerJSON: try FuzzBodies.tokenizerJSON(data)
            case .jinja: try FuzzBodies.jinja(data)
            case .tokenize: FuzzBodies.tokenize(data)
            case .config: try FuzzBodies.config(data)
            case .request: return try FuzzBodies.request(data)
            }
            return .accepted
        } catch {
            return classified(error)
        }
    }

    /// A typed error refuses the input; any other is a finding.
    func classified(_ error: any Error) -> FuzzOutcome {
        guard FuzzBodies.isTyped(error) else { return .finding("\(rawValue): an untyped error escaped: \(type(of: error)): \(error)") }
        return .refused(String(describing: error))
    }

    /// The repository's test fixtures (found from this source file, so it works in every build).
    public static var fixtures: URL {
        URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent().appendingPathComponent("Tests/Fixtures")
    }

    /// The repository's fuzz/ folder (seed corpora and kept crashes).
    public static var fuzzFolder: URL {
        URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent().appendingPathComponent("fuzz")
    }
}

enum FuzzBodies {
    static func isTyped(_ error: any Error) -> Bool {
        error is FormatError || error is TokenizerError || error is TemplateError || error is ModelError
            || error is LanternError || error is APIError || error is BackendError || error is SamplingError
            || error is GenerationError
    }

    /// A private scratch folder for the files the readers open (they read paths, as users give them).
    static let scratch: String = {
        let base = FileManager.default.fileExists(atPath: "/dev/shm") ? "/dev/shm" : NSTemporaryDirectory()
        let dir = (base as NSString).appendingPathComponent("lantern-fuzz-\(getpid())")
        try? FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        atexit { try? FileManager.default.removeItem(atPath: FuzzBodies.scratch) }
        return dir
    }()

    static func write(_ data: Data, to name: String) -> String {
        let path = (scratch as NSString).appendingPathComponent(name)
        FileManager.default.createFile(atPath: path, contents: data)
        return path
    }

    static func fixture(_ relative: String) -> String { FuzzTarget.fixtures.appendingPathComponent(relative).path }

    // MARK: - gguf

    static func gguf(_ data: Data) throws {
        let path = write(data, to: "input.gguf")
        let file = try GGUFFile(path: path)
        for info in file.tensorInfos { _ = try? file.tensor(info.name) }
        if let tokenizer = try? LoadedModel.tokenizer(gguf: file.metadata) { exercise(tokenizer, Array("Hello, world! 123".utf8)) }
        let model = try LoadedModel(path: path, threads: 1)
        _ = model.endOfGenerationIDs
    }

    // MARK: - safetensors

    static func safetensors(_ data: Data) throws {
        guard let first = data.first else { return }
        let rest = data.dropFirst()
        if first & 1 == 0 {
            let file = try SafetensorsFile(path: write(Data(rest), to: "model.safetensors"))
            for name in file.entries.keys.sorted() { _ = try? file.floats(name) }
        } else {
            let shard = (scratch as NSString).appendingPathComponent("model.safetensors")
            try? FileManager.default.removeItem(atPath: shard)
            try? FileManager.default.copyItem(atPath: fixture("llama/model.safetensors"), toPath: shard)
            let index = try ShardedSafetensors(indexPath: write(Data(rest), to: "model.safetensors.index.json"))
            for name in index.weightMap.keys.sorted() { _ = try? index.tensor(name) }
        }
    }

    // MARK: - tokenizer.json

    static func tokenizerJSON(_ data: Data) throws {
        let tokenizer = try HFTokenizer(tokenizerJSON: data)
        exercise(tokenizer, Array("Hello, world! <|im_start|> ünïcödé 123 \u{1F600}".utf8))
    }

    /// Encode, decode and stream-decode `bytes`; then decode ids read from the bytes themselves.
    static func exercise(_ tokenizer: any Tokenizer, _ bytes: [UInt8]) {
        for special in [false, true] {
            let ids = tokenizer.encode(utf8: bytes, parseSpecial: special, addBOS: special)
            precondition(ids.allSatisfy { $0 >= 0 && $0 < max(tokenizer.vocabularySize, 1) }, "an id outside the vocabulary")
            _ = tokenizer.decode(ids, skipSpecial: !special)
        }
        let vocabulary = tokenizer.vocabularySize
        guard vocabulary > 0 else { return }
        var ids: [Int] = []
        var i = 0
        while i + 1 < bytes.count {
            ids.append((Int(bytes[i]) | Int(bytes[i + 1]) << 8) % vocabulary)
            i += 2
        }
        _ = tokenizer.decode(ids, skipSpecial: false)
        _ = tokenizer.decode(ids, skipSpecial: true)
        var stream = StreamingDetokenizer(tokenizer: tokenizer, skipSpecial: true)
        for id in ids {
            _ = stream.append(id)
            _ = tokenizer.tokenBytes(id)
            _ = tokenizer.tokenText(id)
        }
        _ = stream.flush()
    }

    // MARK: - jinja

    static let defaultContext = """
        {"messages": [{"role": "system", "content": "Be brief."}, {"role": "user", "content": "Hi"}, \
        {"role": "assistant", "content": "Hello!"}], "add_generation_prompt": true, \
        "bos_token": "<s>", "eos_token": "</s>", "tools": null}
        """

    static func jinja(_ data: Data) throws {
        let bytes = [UInt8](data)
        let split = bytes.firstIndex(of: 0)
        let source = String(decoding: bytes[..<(split ?? bytes.count)], as: UTF8.self)
        let context = split.map { String(decoding: bytes[($0 + 1)...], as: UTF8.self) } ?? defaultContext
        let template = try ChatTemplate(source)
        _ = try template.render(jsonContext: context, now: Date(timeIntervalSince1970: 1_700_000_000))
    }

    // MARK: - tokenize

    /// Every tokenizer kind, from the fixtures and the tiny GGUF models' vocabularies.
    static let tokenizers: [any Tokenizer] = {
        var out: [any Tokenizer] = []
        for json in ["smollm2/tokenizer.json", "tokenizers/bpe-byte-level/tokenizer.json",
                     "tokenizers/bpe-sentencepiece/tokenizer.json", "tokenizers/unigram/tokenizer.json",
                     "tokenizers/wordpiece/tokenizer.json"] {
            if let t = try? HFTokenizer(contentsOf: URL(fileURLWithPath: fixture(json))) { out.append(t) }
        }
        if let t = try? WordPieceTokenizer.bert(directory: URL(fileURLWithPath: fixture("minilm"))) { out.append(t) }
        for gguf in ["gpt2/model.gguf", "bloom/model.gguf", "rope-scaling/llama3.gguf", "rope-scaling/linear.gguf"] {
            if let file = try? GGUFFile(path: fixture(gguf)), let t = try? LoadedModel.tokenizer(gguf: file.metadata) { out.append(t) }
        }
        return out
    }()

    static func tokenize(_ data: Data) {
        let bytes = [UInt8](data)
        for tokenizer in tokenizers { exercise(tokenizer, bytes) }
    }

    // MARK: - config.json

    static let configFixtures = ["llama", "gpt2", "bloom", "t5", "bart", "marian", "bert"]

    static func config(_ data: Data) throws {
        guard let first = data.first else { return }
        let name = configFixtures[Int(first) % configFixtures.count]
        let dir = (scratch as NSString).appendingPathComponent("config-" + name)
        let weights = (dir as NSString).appendingPathComponent("model.safetensors")
        if !FileManager.default.fileExists(atPath: weights) {
            try? FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
            try? FileManager.default.createSymbolicLink(atPath: weights, withDestinationPath: fixture(name + "/model.safetensors"))
        }
        FileManager.default.createFile(atPath: (dir as NSString).appendingPathComponent("config.json"), contents: Data(data.dropFirst()))
        _ = try ModelRegistry.load(folder: ModelFolder(path: dir), compute: ComputeOptions(threads: 1))
    }

    // MARK: - request

    static let server: OpenAIServer = {
        guard let tokenizer = tokenizers.first else { fatalError("the fuzz fixtures are missing: \(FuzzTarget.fixtures.path)") }
        let source = (try? String(contentsOfFile: fixture("smollm2/chat_template.jinja"), encoding: .utf8)) ?? ""
        let backend = FixedReplyBackend(tokenizer: tokenizer, template: try? ChatTemplate(source))
        return OpenAIServer(backend: backend, configuration: ServerConfiguration(alias: "lantern", maxBodyBytes: 1 << 20))
    }()

    static func request(_ data: Data) throws -> FuzzOutcome {
        let result = ResultBox()
        let done = DispatchSemaphore(value: 0)
        Task {
            do { result.value = .success(try await requestAsync(data)) } catch { result.value = .failure(error) }
            done.signal()
        }
        done.wait()
        switch result.value {
        case let .success(outcome)?: return outcome
        case let .failure(error)?: throw error
        case nil: fatalError("the request finished without a result")
        }
    }

    static func requestAsync(_ data: Data) async throws -> FuzzOutcome {
        guard let first = data.first else { return .refused("empty input") }
        let path = OpenAIServer.postRoutes[Int(first) % OpenAIServer.postRoutes.count]
        let response = try await server.respond(path: path, body: Data(data.dropFirst()))
        let text = String(decoding: response.body, as: UTF8.self)
        precondition((200..<300).contains(response.status) || (400..<500).contains(response.status),
                     "\(path) answered \(response.status): \(text)")
        return response.status < 300 ? .accepted : .refused("\(response.status) \(text)")
    }
}

private final class ResultBox: @unchecked Sendable {
    var value: Result<FuzzOutcome, any Error>?
}

/// A backend that tokenizes, detokenizes and renders chats for real, checks prompts as the engine
/// does, and answers every generation with a few pieces of the prompt's own text (with logprobs when
/// asked), so the server's request decoding, validation and response writing run without a model.
struct FixedReplyBackend: ServerBackend {
    let tokenizer: any Tokenizer
    let template: ChatTemplate?
    var modelName: String { "fixed-reply" }
    var contextLength: Int { 512 }
    var vocabularySize: Int { tokenizer.vocabularySize }
    var hasEmbeddings: Bool { false }
    var stats: BackendStats { BackendStats() }

    func tokenize(_ text: String, addSpecial: Bool) -> [Int] {
        tokenizer.encode(text, parseSpecial: true, addBOS: addSpecial && tokenizer.addsBOS)
    }
    func detokenize(_ ids: [Int]) -> String { tokenizer.decode(ids, skipSpecial: false) }
    func tokenBytes(_ id: Int) -> [UInt8] { tokenizer.tokenBytes(id) }

    func renderChat(_ messages: [ChatMessage], addGenerationPrompt: Bool) throws -> String {
        guard let template else { throw TemplateError.syntax("no template", line: 0) }
        let context = ChatTemplate.messagesContext(messages: messages.map { ($0.role.rawValue, $0.content) },
                                                   addGenerationPrompt: addGenerationPrompt, bosToken: "", eosToken: "")
        return try template.render(context, now: Date(timeIntervalSince1970: 1_700_000_000))
    }

    func generate(_ request: BackendRequest) throws -> BackendGeneration {
        let prompt = request.prompt
        if prompt.isEmpty { throw BackendError.emptyPrompt }
        if prompt.count > contextLength { throw BackendError.promptTooLong(tokens: prompt.count, contextLength: contextLength) }
        if let bad = prompt.first(where: { $0 < 0 || $0 >= vocabularySize }) {
            throw BackendError.tokenOutOfRange(id: bad, vocabularySize: vocabularySize)
        }
        let reply = Array(prompt.suffix(min(4, request.parameters.maxTokens)))
        let top = request.logprobs
        let vocabulary = vocabularySize
        let (events, continuation) = AsyncThrowingStream<BackendEvent, any Error>.makeStream()
        var detokenizer = StreamingDetokenizer(tokenizer: tokenizer, skipSpecial: true)
        for id in reply {
            var logprobs: TokenLogprobs?
            if let top {
                let logits = (0..<vocabulary).map { Float(($0 &* 2_654_435_761) % 1000) / 100 }
                logprobs = logits.withUnsafeBufferPointer { TokenLogprobs(logits: $0, chosen: id, top: top) }
            }
            continuation.yield(.piece(GeneratedPiece(token: id, text: detokenizer.append(id), logprobs: logprobs)))
        }
        continuation.yield(.piece(GeneratedPiece(token: nil, text: detokenizer.flush())))
        continuation.yield(.finished(GenerationUsage(finishReason: reply.count < request.parameters.maxTokens ? .stop : .length,
                                                     promptTokens: prompt.count, completionTokens: reply.count, cachedTokens: 0)))
        continuation.finish()
        return BackendGeneration(events: events, cancel: {})
    }

    func embed(_ texts: [String]) throws -> EmbeddingResult? { nil }
}
