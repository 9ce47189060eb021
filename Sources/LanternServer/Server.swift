import Foundation
import Hummingbird
import HummingbirdCore
import Lantern
import LanternGeneration
import Logging
import NIOCore

/// How `lantern serve` was started.
public struct ServerConfiguration: Sendable {
    public var host: String
    /// 0: any free port (the one chosen is passed to `onListening`).
    public var port: Int
    /// When set, every route except /health and the page (/) needs `Authorization: Bearer <key>`.
    public var apiKey: String?
    /// When set, the only model name requests may ask for.
    public var alias: String?
    public var defaults: RequestDefaults
    /// Bodies over this size are refused with 413.
    public var maxBodyBytes: Int
    /// Seconds a connection may sit with no request in progress (none yet, one half-sent header, or
    /// between keep-alive requests) before the server closes it; llama-server's `--timeout`. A header
    /// sent a byte at a time counts as idle until it is complete, so a slow sender cannot hold a
    /// connection past this. It is also the longest one write of a streamed answer may wait on a
    /// client that stopped reading: then its sequence is cancelled and the connection closed.
    public var idleTimeoutSeconds: Int
    /// Connections served at once; further ones wait in the listen backlog (not accepted, not refused)
    /// until one closes, so a flood of sockets cannot exhaust file descriptors or memory.
    public var maxConnections: Int

    public init(host: String = "127.0.0.1", port: Int = 8080, apiKey: String? = nil, alias: String? = nil,
                defaults: RequestDefaults = RequestDefaults(), maxBodyBytes: Int = 8 << 20,
                idleTimeoutSeconds: Int = 600, maxConnections: Int = 512) {
        self.host = host
        self.port = port
        self.apiKey = apiKey
        self.alias = alias
        self.defaults = defaults
        self.maxBodyBytes = maxBodyBytes
        self.idleTimeoutSeconds = idleTimeoutSeconds
        self.maxConnections = maxConnections
    }
}

/// The OpenAI-compatible HTTP server: routes, request validation, JSON and Server-Sent Events over a
/// `ServerBackend`, which does all the inference.
public struct OpenAIServer: Sendable {
    public let backend: any ServerBackend
    public let configuration: ServerConfiguration
    let metrics = ServerMetrics()
    let started = Int(Date().timeIntervalSince1970)

    public init(backend: any ServerBackend, configuration: ServerConfiguration) {
        self.backend = backend
        self.configuration = configuration
    }

    /// The name responses carry and /v1/models lists.
    var modelName: String { configuration.alias ?? backend.modelName }

    /// Serves until SIGINT or SIGTERM.
    /// - Parameter onListening: called once with the bound host and port.
    public func run(onListening: @escaping @Sendable (String, Int) -> Void = { _, _ in }) async throws {
        let router = Router(context: ServerRequestContext.self)
        router.add(middleware: OpenAIMiddleware(apiKey: configuration.apiKey, metrics: metrics))
        router.get("/health") { _, _ in jsonResponse(.object([("status", "ok")])) }
        router.get("/metrics") { _, _ in
            Response(status: .ok, headers: [.contentType: "text/plain; version=0.0.4; charset=utf-8"],
                     body: .init(byteBuffer: ByteBuffer(string: metrics.render(backend.stats))))
        }
        for path in ["/v1/models", "/models"] {
            router.get(RouterPath(path)) { _, _ in models() }
        }
        for path in ["/v1/chat/completions", "/chat/completions"] {
            router.post(RouterPath(path)) { request, context in try await chat(request, client: await context.clientWatch) }
        }
        for path in ["/v1/completions", "/completions"] {
            router.post(RouterPath(path)) { request, context in try await completions(request, client: await context.clientWatch) }
        }
        for path in ["/v1/embeddings", "/embeddings"] {
            router.post(RouterPath(path)) { request, _ in try await embeddings(request) }
        }
        router.post("/tokenize") { request, _ in try await tokenize(request) }
        router.post("/detokenize") { request, _ in try await detokenize(request) }
        // The page and the JSON routes behind it (chat goes through /v1/chat/completions).
        router.get("/") { _, _ in page() }
        router.get("/v1/lantern/info") { _, _ in try info() }
        router.post("/v1/lantern/attention") { request, _ in try await attention(request) }

        var logger = Logger(label: "lantern.serve")
        logger.logLevel = .warning
        let host = configuration.host
        let app = Application(
            router: router,
            server: .http1(configuration: .init(additionalChannelHandlers: [ClientWatch()],
                                                idleTimeout: .seconds(Int64(configuration.idleTimeoutSeconds)))),
            configuration: .init(address: .hostname(host, port: configuration.port), serverName: "lantern",
                                 availableConnectionsDelegate: MaximumAvailableConnections(configuration.maxConnections, logger: logger)),
            onServerRunning: { channel in onListening(host, channel.localAddress?.port ?? 0) },
            logger: logger)
        try await app.runService()
    }

    // MARK: - Routes

    func models() -> Response {
        jsonResponse(.object([
            ("object", "list"),
            ("data", .array([.object([
                ("id", .string(modelName)), ("object", "model"), ("created", .int(started)), ("owned_by", "lantern"),
                ("meta", .object([("n_ctx", .int(backend.contextLength)), ("n_vocab", .int(backend.vocabularySize))])),
            ])])),
        ]))
    }

    func chat(_ request: Request, client: ClientWatch? = nil) async throws -> Response {
        let data = try await readBody(request)
        let common = try decodeBody(CommonFields.self, from: data)
        let fields = try decodeBody(ChatFields.self, from: data)
        try checkModel(common.model)
        guard !fields.messages.isEmpty else { throw APIError.invalid("'messages' must hold at least one message", param: "messages") }
        var messages: [ChatMessage] = []
        for (i, m) in fields.messages.enumerated() {
            let roles = ["system", "user", "assistant", "tool", "developer"]
            guard roles.contains(m.role) else {
                throw APIError.invalid("messages[\(i)].role \"\(m.role)\" is not one of \(roles.joined(separator: ", "))", param: "messages[\(i)].role")
            }
            // "developer" is the newer name of "system"; templates know only the latter.
            let role = ChatMessage.Role(rawValue: m.role == "developer" ? "system" : m.role) ?? .user
            messages.append(ChatMessage(role, m.content?.text ?? ""))
        }
        var parameters = try common.parameters(defaults: configuration.defaults, vocabularySize: backend.vocabularySize)
        if let top = fields.topLogprobs {
            guard (0...20).contains(top) else { throw APIError.invalid("top_logprobs = \(top) is out of range: expected 0...20", param: "top_logprobs") }
            guard fields.logprobs == true else { throw APIError.invalid("top_logprobs needs logprobs: true", param: "top_logprobs") }
        }
        let logprobs: Int? = fields.logprobs == true ? (fields.topLogprobs ?? 0) : nil
        let rendered: String
        do { rendered = try backend.renderChat(messages, addGenerationPrompt: true) } catch {
            throw APIError.invalid("the chat template could not be applied: \(error)", param: "messages")
        }
        // Templates write their own BOS text when the model wants one.
        let prompt = backend.tokenize(rendered, addSpecial: false)
        parameters.maxTokens = min(parameters.maxTokens, max(0, backend.contextLength - prompt.count))
        let generation = try submit(BackendRequest(prompt: prompt, parameters: parameters, logprobs: logprobs), param: "messages")
        let id = "chatcmpl-" + randomID()
        let created = Int(Date().timeIntervalSince1970)
        let model = modelName
        if common.stream == true {
            let includeUsage = common.streamOptions?.includeUsage == true
            return sse { writer in
                let head: [(String, JSON)] = [("id", .string(id)), ("object", "chat.completion.chunk"), ("created", .int(created)), ("model", .string(model))]
                func chunk(_ delta: JSON, finish: FinishReason?, logprobs: JSON = .null) -> JSON {
                    var o = head
                    o.append(("choices", .array([.object([("index", 0), ("delta", delta), ("logprobs", logprobs),
                                                          ("finish_reason", .optional(finish?.rawValue))])])))
                    if includeUsage { o.append(("usage", .null)) }
                    return .object(o)
                }
                try await writer.write(event(chunk(.object([("role", "assistant"), ("content", "")]), finish: nil)))
                let usage = try await stream(generation, client: client) { text, pieces in
                    let lp: JSON = logprobs == nil ? .null : .object([("content", .array(pieces.map(chatLogprob))), ("refusal", .null)])
                    return event(chunk(.object([("content", .string(text))]), finish: nil, logprobs: lp))
                } write: { try await writer.write($0) }
                try await writer.write(event(chunk(.object([]), finish: usage.finishReason)))
                if includeUsage {
                    var o = head
                    o.append(("choices", .array([])))
                    o.append(("usage", usageJSON(usage)))
                    try await writer.write(event(.object(o)))
                }
            }
        }
        let result = try await collect(generation, client: client)
        var choice: [(String, JSON)] = [
            ("index", 0),
            ("message", .object([("role", "assistant"), ("content", .string(result.text)), ("refusal", .null)])),
            ("logprobs", logprobs == nil ? .null : .object([("content", .array(result.pieces.filter { $0.token != nil }.map(chatLogprob))), ("refusal", .null)])),
        ]
        choice.append(("finish_reason", .string(result.usage.finishReason.rawValue)))
        return jsonResponse(.object([
            ("id", .string(id)), ("object", "chat.completion"), ("created", .int(created)), ("model", .string(model)),
            ("choices", .array([.object(choice)])), ("usage", usageJSON(result.usage)),
        ]))
    }

    func completions(_ request: Request, client: ClientWatch? = nil) async throws -> Response {
        let data = try await readBody(request)
        let common = try decodeBody(CommonFields.self, from: data)
        let fields = try decodeBody(CompletionFields.self, from: data)
        try checkModel(common.model)
        let parameters = try common.parameters(defaults: configuration.defaults, vocabularySize: backend.vocabularySize)
        if let n = fields.logprobs, !(0...20).contains(n) {
            throw APIError.invalid("logprobs = \(n) is out of range: expected 0...20", param: "logprobs")
        }
        if fields.echo == true { throw APIError.invalid("echo is not supported", param: "echo") }
        let prompts: [[Int]]
        switch fields.prompt {
        case let .texts(texts): prompts = texts.map { backend.tokenize($0, addSpecial: true) }
        case let .tokens(lists): prompts = lists
        }
        guard !prompts.isEmpty else { throw APIError.invalid("'prompt' is empty", param: "prompt") }
        // Prompts run one after another, each taking one queue place: the first is submitted now (so a
        // full queue or a bad prompt is answered before any output), the others when their turn comes.
        func backendRequest(_ prompt: [Int]) -> BackendRequest {
            var p = parameters
            p.maxTokens = min(p.maxTokens, max(0, backend.contextLength - prompt.count))
            return BackendRequest(prompt: prompt, parameters: p, logprobs: fields.logprobs)
        }
        for prompt in prompts { try validate(prompt) }
        let first = try submit(backendRequest(prompts[0]), param: "prompt")
        let requests = prompts.map(backendRequest)
        let id = "cmpl-" + randomID()
        let created = Int(Date().timeIntervalSince1970)
        let model = modelName
        let wantsLogprobs = fields.logprobs != nil
        let head: [(String, JSON)] = [("id", .string(id)), ("object", "text_completion"), ("created", .int(created)), ("model", .string(model))]
        if common.stream == true {
            let includeUsage = common.streamOptions?.includeUsage == true
            return sse { writer in
                func chunk(_ index: Int, _ text: String, finish: FinishReason?, logprobs: JSON) -> JSON {
                    var o = head
                    o.append(("choices", .array([.object([("text", .string(text)), ("index", .int(index)), ("logprobs", logprobs),
                                                          ("finish_reason", .optional(finish?.rawValue))])])))
                    if includeUsage { o.append(("usage", .null)) }
                    return .object(o)
                }
                var total: GenerationUsage?
                for index in requests.indices {
                    let generation = index == 0 ? first : try submit(requests[index], param: "prompt")
                    var offset = 0
                    let usage = try await stream(generation, client: client) { text, pieces in
                        let lp = wantsLogprobs ? completionLogprobs(pieces, offset: &offset) : .null
                        return event(chunk(index, text, finish: nil, logprobs: lp))
                    } write: { try await writer.write($0) }
                    try await writer.write(event(chunk(index, "", finish: usage.finishReason, logprobs: .null)))
                    total = total.map { sum($0, usage) } ?? usage
                }
                if includeUsage, let total {
                    var o = head
                    o.append(("choices", .array([])))
                    o.append(("usage", usageJSON(total)))
                    try await writer.write(event(.object(o)))
                }
            }
        }
        var choices: [JSON] = []
        var total: GenerationUsage?
        for index in requests.indices {
            let result = try await collect(index == 0 ? first : try submit(requests[index], param: "prompt"), client: client)
            var offset = 0
            choices.append(.object([
                ("text", .string(result.text)), ("index", .int(index)),
                ("logprobs", wantsLogprobs ? completionLogprobs(result.pieces, offset: &offset) : .null),
                ("finish_reason", .string(result.usage.finishReason.rawValue)),
            ]))
            total = total.map { sum($0, result.usage) } ?? result.usage
        }
        return jsonResponse(.object(head + [("choices", .array(choices)), ("usage", total.map(usageJSON) ?? .null)]))
    }

    func embeddings(_ request: Request) async throws -> Response {
        let data = try await readBody(request)
        guard backend.hasEmbeddings else {
            throw APIError(.notFound, "this server has no embedding model: start it with --embedding-model PATH", code: "model_not_found")
        }
        let fields = try decodeBody(EmbeddingFields.self, from: data)
        guard case let .texts(texts) = fields.input else {
            throw APIError.invalid("'input' must be a string or a list of strings (token ids are not supported)", param: "input")
        }
        guard !texts.isEmpty else { throw APIError.invalid("'input' is empty", param: "input") }
        let format = fields.encodingFormat ?? "float"
        guard format == "float" || format == "base64" else {
            throw APIError.invalid("encoding_format \"\(format)\" is not one of float, base64", param: "encoding_format")
        }
        let result: EmbeddingResult
        do {
            guard let r = try backend.embed(texts) else { throw APIError(.notFound, "this server has no embedding model", code: "model_not_found") }
            result = r
        } catch let e as APIError { throw e } catch let e as BackendError { throw APIError.invalid(e.description, param: "input") }
        let data_: [JSON] = result.vectors.enumerated().map { i, v in
            let embedding: JSON
            if format == "base64" {
                var bytes = Data(capacity: v.count * 4)
                for x in v { withUnsafeBytes(of: x.bitPattern.littleEndian) { bytes.append(contentsOf: $0) } }
                embedding = .string(bytes.base64EncodedString())
            } else {
                embedding = .array(v.map(JSON.float))
            }
            return .object([("object", "embedding"), ("index", .int(i)), ("embedding", embedding)])
        }
        return jsonResponse(.object([
            ("object", "list"), ("data", .array(data_)), ("model", .string(fields.model ?? "embedding")),
            ("usage", .object([("prompt_tokens", .int(result.promptTokens)), ("total_tokens", .int(result.promptTokens))])),
        ]))
    }

    func tokenize(_ request: Request) async throws -> Response {
        let fields = try decodeBody(TokenizeFields.self, from: try await readBody(request))
        let tokens = backend.tokenize(fields.content, addSpecial: fields.addSpecial ?? false)
        return jsonResponse(.object([("tokens", .array(tokens.map(JSON.int)))]))
    }

    func detokenize(_ request: Request) async throws -> Response {
        let fields = try decodeBody(DetokenizeFields.self, from: try await readBody(request))
        if let bad = fields.tokens.first(where: { $0 < 0 || $0 >= backend.vocabularySize }) {
            throw APIError.invalid("token id \(bad) is outside the vocabulary (0..<\(backend.vocabularySize))", param: "tokens")
        }
        return jsonResponse(.object([("content", .string(backend.detokenize(fields.tokens)))]))
    }

    // MARK: - Helpers

    func readBody(_ request: Request) async throws(APIError) -> Data {
        let limit = configuration.maxBodyBytes
        let tooLarge = APIError(.contentTooLarge, "the request body is larger than the limit of \(limit) bytes", code: "request_too_large")
        if let length = request.headers[.contentLength].flatMap({ Int($0) }), length > limit { throw tooLarge }
        do {
            let buffer = try await request.body.collect(upTo: limit)
            return Data(buffer.readableBytesView)
        } catch {
            throw tooLarge
        }
    }

    /// The checks the backend makes at submission, for prompts submitted later.
    func validate(_ prompt: [Int]) throws(APIError) {
        let error: BackendError
        if prompt.isEmpty {
            error = .emptyPrompt
        } else if prompt.count > backend.contextLength {
            error = .promptTooLong(tokens: prompt.count, contextLength: backend.contextLength)
        } else if let bad = prompt.first(where: { $0 < 0 || $0 >= backend.vocabularySize }) {
            error = .tokenOutOfRange(id: bad, vocabularySize: backend.vocabularySize)
        } else {
            return
        }
        throw APIError.invalid(error.description, param: "prompt", code: prompt.count > backend.contextLength ? "context_length_exceeded" : nil)
    }

    func checkModel(_ name: String?) throws(APIError) {
        guard let alias = configuration.alias, let name, name != alias else { return }
        throw APIError(.notFound, "the model '\(name)' does not exist: this server serves '\(alias)'", param: "model", code: "model_not_found")
    }

    func submit(_ request: BackendRequest, param: String) throws -> BackendGeneration {
        do {
            return try backend.generate(request)
        } catch let error as BackendError {
            switch error {
            case .queueFull:
                var e = APIError(.tooManyRequests, error.description, type: "rate_limit_error", code: "rate_limit_exceeded")
                e.headers[.retryAfter] = "1"
                throw e
            case .promptTooLong:
                throw APIError.invalid(error.description, param: param, code: "context_length_exceeded")
            case .emptyPrompt, .tokenOutOfRange:
                throw APIError.invalid(error.description, param: param)
            case .invalid:
                throw APIError.invalid(error.description)
            }
        }
    }

    struct Collected {
        var text = ""
        var pieces: [GeneratedPiece] = []
        var usage: GenerationUsage
    }

    /// Runs a generation to its end (non-streamed responses). When `client` goes away first, the
    /// sequence is cancelled at once (its KV blocks free) and counted as cancelled.
    func collect(_ generation: BackendGeneration, client: ClientWatch? = nil) async throws -> Collected {
        let gone = Flag()
        let watch = client?.onGone { gone.set(); generation.cancel() }
        defer { client?.remove(watch); generation.cancel() }
        let cancelled = APIError(.serviceUnavailable, "the sequence was cancelled", type: "server_error")
        var text = "", pieces: [GeneratedPiece] = []
        let start = Date()
        var first: Date?
        do {
            for try await event in generation.events {
                switch event {
                case let .piece(p):
                    if first == nil { first = Date() }
                    text += p.text
                    pieces.append(p)
                case let .finished(usage):
                    let f = first ?? Date()
                    metrics.finished(usage, promptSeconds: f.timeIntervalSince(start), decodeSeconds: Date().timeIntervalSince(f))
                    return Collected(text: text, pieces: pieces, usage: usage)
                }
            }
        } catch is CancellationError {
            metrics.cancelledSequence()
            throw cancelled
        } catch {
            if gone.isSet { metrics.cancelledSequence(); throw cancelled }
            throw APIError(.internalServerError, "generation failed: \(error)", type: "server_error")
        }
        // A cancelled sequence's events end without a finish reason.
        if gone.isSet { metrics.cancelledSequence(); throw cancelled }
        throw APIError(.internalServerError, "generation ended without a finish reason", type: "server_error")
    }

    /// Forwards a generation as SSE events: one per piece with text (pieces that release no text yet,
    /// such as the first bytes of a character, are merged into the next). Returns the usage. A failed
    /// write (the client went away) cancels the sequence, and so does a write that waits longer than
    /// `--timeout` on a client that stopped reading (its connection is closed).
    func stream(_ generation: BackendGeneration, client: ClientWatch?, chunk: (String, [GeneratedPiece]) -> ByteBuffer,
                write unguarded: (ByteBuffer) async throws -> Void) async throws -> GenerationUsage {
        defer { generation.cancel() }
        let seconds = configuration.idleTimeoutSeconds
        func write(_ buffer: ByteBuffer) async throws {
            guard let client else { return try await unguarded(buffer) }
            try await client.withWriteDeadline(seconds: seconds, onExpiry: generation.cancel) { try await unguarded(buffer) }
        }
        var pending: [GeneratedPiece] = []
        let start = Date()
        var first: Date?
        do {
            for try await event in generation.events {
                switch event {
                case let .piece(p):
                    if first == nil { first = Date() }
                    pending.append(p)
                    guard !p.text.isEmpty else { continue }
                    try await write(chunk(pending.map(\.text).joined(), pending.filter { $0.token != nil }))
                    pending.removeAll()
                case let .finished(usage):
                    // Tokens that released no text (a stop string's last token) still carry logprobs.
                    if pending.contains(where: { $0.logprobs != nil }) {
                        try await write(chunk("", pending.filter { $0.token != nil }))
                    }
                    let f = first ?? Date()
                    metrics.finished(usage, promptSeconds: f.timeIntervalSince(start), decodeSeconds: Date().timeIntervalSince(f))
                    return usage
                }
            }
        } catch {
            generation.cancel()
            metrics.cancelledSequence()
            throw error
        }
        throw APIError(.internalServerError, "generation ended without a finish reason", type: "server_error")
    }

    func sse(_ body: @escaping @Sendable (inout any ResponseBodyWriter) async throws -> Void) -> Response {
        Response(status: .ok,
                 headers: [.contentType: "text/event-stream", .cacheControl: "no-cache"],
                 body: ResponseBody { writer in
                     do {
                         try await body(&writer)
                         try await writer.write(ByteBuffer(string: "data: [DONE]\n\n"))
                     } catch let e as APIError {
                         try await writer.write(event(e.body))
                     } catch is CancellationError {
                         // the client is gone, or the server is stopping
                     }
                     try await writer.finish(nil)
                 })
    }

    func chatLogprob(_ piece: GeneratedPiece) -> JSON {
        guard let lp = piece.logprobs, let token = piece.token else { return .null }
        func entry(_ id: Int, _ logprob: Float) -> [(String, JSON)] {
            let bytes = backend.tokenBytes(id)
            return [("token", .string(String(decoding: bytes, as: UTF8.self))), ("logprob", .float(clampLogprob(logprob))),
                    ("bytes", .array(bytes.map { .int(Int($0)) }))]
        }
        return .object(entry(token, lp.chosen.logprob) + [("top_logprobs", .array(lp.top.map { .object(entry($0.id, $0.logprob)) }))])
    }

    /// The legacy completions shape: parallel arrays over the tokens of `pieces`.
    func completionLogprobs(_ pieces: [GeneratedPiece], offset: inout Int) -> JSON {
        var tokens: [JSON] = [], logprobs: [JSON] = [], tops: [JSON] = [], offsets: [JSON] = []
        for p in pieces {
            guard let id = p.token, let lp = p.logprobs else { continue }
            tokens.append(.string(String(decoding: backend.tokenBytes(id), as: UTF8.self)))
            logprobs.append(.float(clampLogprob(lp.chosen.logprob)))
            tops.append(.object(lp.top.map { (String(decoding: backend.tokenBytes($0.id), as: UTF8.self), .float(clampLogprob($0.logprob))) }))
            offsets.append(.int(offset))
            offset += p.text.count
        }
        return .object([("tokens", .array(tokens)), ("token_logprobs", .array(logprobs)), ("top_logprobs", .array(tops)),
                        ("text_offset", .array(offsets))])
    }

    func usageJSON(_ u: GenerationUsage) -> JSON {
        .object([
            ("prompt_tokens", .int(u.promptTokens)), ("completion_tokens", .int(u.completionTokens)),
            ("total_tokens", .int(u.promptTokens + u.completionTokens)),
            ("prompt_tokens_details", .object([("cached_tokens", .int(u.cachedTokens))])),
        ])
    }

    func sum(_ a: GenerationUsage, _ b: GenerationUsage) -> GenerationUsage {
        GenerationUsage(finishReason: b.finishReason, promptTokens: a.promptTokens + b.promptTokens,
                        completionTokens: a.completionTokens + b.completionTokens, cachedTokens: a.cachedTokens + b.cachedTokens)
    }
}

/// OpenAI reports an impossible token as -9999 (JSON has no -infinity).
func clampLogprob(_ x: Float) -> Float { x.isFinite ? x : -9999 }

func event(_ json: JSON) -> ByteBuffer { ByteBuffer(string: "data: " + json.serialized + "\n\n") }

func jsonResponse(_ json: JSON, status: HTTPResponse.Status = .ok) -> Response {
    Response(status: status, headers: [.contentType: "application/json"], body: .init(byteBuffer: ByteBuffer(string: json.serialized)))
}

func randomID() -> String {
    let alphabet = Array("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789")
    return String((0..<24).map { _ in alphabet.randomElement()! })
}

/// API-key check (every route but /health and the page at /, which holds no data: its requests send
/// the key), OpenAI-shaped errors for everything thrown, and the
/// per-endpoint request counts.
struct OpenAIMiddleware<Context: RequestContext>: RouterMiddleware {
    let apiKey: String?
    let metrics: ServerMetrics
    static var endpoints: Set<String> {
        ["/health", "/metrics", "/v1/models", "/models", "/v1/chat/completions", "/chat/completions", "/v1/completions",
         "/completions", "/v1/embeddings", "/embeddings", "/tokenize", "/detokenize", "/", "/v1/lantern/info",
         "/v1/lantern/attention"]
    }
    static var publicPaths: Set<String> { ["/health", "/"] }

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        let path = request.uri.path
        let endpoint = Self.endpoints.contains(path) ? path : "other"
        var response: Response
        if let apiKey, !Self.publicPaths.contains(path), request.headers[.authorization] != "Bearer \(apiKey)" {
            let given = request.headers[.authorization] != nil
            response = APIError(.unauthorized, given ? "incorrect API key provided" : "missing API key: send Authorization: Bearer <key>",
                                code: "invalid_api_key").response
        } else {
            do {
                response = try await next(request, context)
            } catch let e as APIError {
                response = e.response
            } catch let e as HTTPError {
                let message = e.status == .notFound ? "no route for \(request.method) \(path)" : (e.body ?? e.status.reasonPhrase)
                response = APIError(e.status, message, code: e.status == .notFound ? "not_found" : nil).response
            } catch {
                response = APIError(.internalServerError, "\(error)", type: "server_error").response
            }
        }
        metrics.request(endpoint, status: response.status.code)
        return response
    }
}
