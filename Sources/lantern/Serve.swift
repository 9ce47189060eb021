import ArgumentParser
import Foundation
import Lantern
import LanternServer

/// `lantern serve`: the OpenAI-compatible HTTP server, with llama-server's flag names.
struct Serve: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Serve a model over an OpenAI-compatible HTTP API (/v1/chat/completions, /v1/completions, /v1/embeddings, ...).")

    @Option(name: [.customShort("m"), .long], help: "GGUF file, model folder or catalog name (`lantern models`; fetched on first use). Default: smollm2-135m.")
    var model: String?
    @Option(name: .long, help: "An encoder model (BERT family) for /v1/embeddings: a folder or catalog name (e.g. minilm-l6).")
    var embeddingModel: String?
    @Option(name: .long, help: "Address to listen on.") var host: String = "127.0.0.1"
    @Option(name: .long, help: "Port to listen on (0: any free port; the chosen one is printed).") var port: Int = 8080
    @Option(name: [.customLong("parallel"), .customLong("np", withSingleDash: true)],
            help: "Sequences run at once (this backend runs one; more wait in the queue).")
    var parallel: Int = 1
    @Option(name: [.customShort("c"), .customLong("ctx-size")], help: "Context length in tokens (at most the model's).")
    var ctxSize: Int = 4096
    @Option(name: .long, help: "When set, every route but /health and the page (/) needs Authorization: Bearer KEY.") var apiKey: String?
    @Option(name: [.customShort("a"), .long], help: "Model name to serve under (requests naming another model get 404).")
    var alias: String?
    @Option(name: [.customShort("n"), .customLong("n-predict"), .customLong("predict")], parsing: .unconditional, help: "Default most new tokens per request (-1: until the context is full).")
    var nPredict: Int = -1
    @Option(name: .customLong("temp"), help: "Default temperature.") var temp: Float = 0.8
    @Option(name: [.customShort("s"), .long], parsing: .unconditional, help: "Default seed (-1: random per request).") var seed: Int64 = -1
    @Option(name: [.customShort("t"), .long], help: "Worker threads (default: all cores).")
    var threads: Int = ProcessInfo.processInfo.activeProcessorCount
    @Option(name: .long, help: "Activation rounding for quantized weights: int8x2 (default), mixed or int8.")
    var activations: ActivationPrecision = .environmentDefault
    @Option(name: [.customLong("kv-type"), .customLong("cache-type-k"), .customLong("ctk", withSingleDash: true)],
            help: "How the KV cache stores keys and values: f16, f32 or q8_0. Default: f16 for quantized weights (as llama-server), f32 for float weights.")
    var kvType: KVType?
    @Option(name: [.customLong("cache-type-v"), .customLong("ctv", withSingleDash: true)], help: .hidden)
    var cacheTypeV: KVType?
    @Option(name: .long, help: "Requests that may wait behind the running ones before new ones get 429.")
    var maxQueue: Int = 64
    @Option(name: .long, help: "Largest request body in bytes (larger: 413).") var maxBodyBytes: Int = 8 << 20
    @Option(name: [.customLong("timeout"), .customLong("to", withSingleDash: true)],
            help: "Seconds before a connection with no request in progress (or a half-sent header) is closed, and the longest a streamed write may wait on a client that stopped reading.")
    var timeout: Int = 600
    @Option(name: .long, help: "Connections served at once; more wait to be accepted until one closes.")
    var maxConnections: Int = 512

    // llama-server flags that mean nothing here: accepted so existing command lines work.
    @Option(name: [.customShort("b"), .customLong("batch-size")], help: .hidden) var batchSize: Int?
    @Option(name: [.customLong("ubatch-size"), .customLong("ub", withSingleDash: true)], help: .hidden) var ubatchSize: Int?
    @Option(name: [.customLong("n-gpu-layers"), .customLong("ngl", withSingleDash: true)], help: .hidden) var gpuLayers: Int?
    @Option(name: [.customLong("flash-attn"), .customLong("fa", withSingleDash: true)], help: .hidden) var flashAttn: String?
    @Flag(name: [.customLong("cont-batching"), .customLong("cb", withSingleDash: true)], help: .hidden) var contBatching = false
    @Flag(name: .customLong("mlock"), help: .hidden) var mlock = false
    @Flag(name: .customLong("no-mmap"), help: .hidden) var noMmap = false

    func validate() throws {
        guard threads >= 1 else { throw ValidationError("--threads must be at least 1") }
        guard parallel >= 1 else { throw ValidationError("--parallel must be at least 1") }
        guard (1...(1 << 24)).contains(ctxSize) else { throw ValidationError("--ctx-size must be between 1 and \(1 << 24)") }
        guard (0...65535).contains(port) else { throw ValidationError("--port must be between 0 and 65535") }
        guard nPredict >= -1 else { throw ValidationError("--n-predict must be -1 or more") }
        guard temp.isFinite, temp >= 0 else { throw ValidationError("--temp must be a finite number >= 0") }
        if let cacheTypeV, cacheTypeV != kvType {
            throw ValidationError("--cache-type-v \(cacheTypeV.rawValue) differs from --kv-type \(kvType?.rawValue ?? "(default)"): Lantern stores keys and values alike")
        }
        guard maxQueue >= 0 else { throw ValidationError("--max-queue must be >= 0") }
        guard maxBodyBytes >= 1024 else { throw ValidationError("--max-body-bytes must be at least 1024") }
        guard (1...86_400).contains(timeout) else { throw ValidationError("--timeout must be between 1 and 86400 seconds") }
        guard (1...65_536).contains(maxConnections) else { throw ValidationError("--max-connections must be between 1 and 65536") }
    }

    func run() async throws {
        let ignored = [batchSize.map { _ in "--batch-size" }, ubatchSize.map { _ in "--ubatch-size" },
                       gpuLayers.map { _ in "--n-gpu-layers" }, flashAttn.map { _ in "--flash-attn" },
                       contBatching ? "--cont-batching" : nil, mlock ? "--mlock" : nil, noMmap ? "--no-mmap" : nil].compactMap { $0 }
        if !ignored.isEmpty { stderr("note: \(ignored.joined(separator: ", ")) ignored: they have no meaning for Lantern on the CPU") }
        let server: OpenAIServer
        do {
            let loaded = try LoadedModel(path: resolveModel(model, default: ModelCatalog.defaultModel),
                                         threads: threads, precision: activations)
            let embedder = try embeddingModel.map { try LoadedModel(path: resolveModel($0), threads: threads, precision: activations) }
            // As llama-server: --ctx-size is shared by the --parallel slots.
            let backend = try EngineBackend(model: loaded, embeddingModel: embedder, name: nil, parallel: parallel,
                                            contextLength: max(1, ctxSize / parallel), maxWaiting: maxQueue, threads: threads,
                                            kvType: kvType)
            server = OpenAIServer(backend: backend, configuration: ServerConfiguration(
                host: host, port: port, apiKey: apiKey, alias: alias,
                defaults: RequestDefaults(maxTokens: nPredict, temperature: temp, seed: seed < 0 ? nil : UInt64(seed)),
                maxBodyBytes: maxBodyBytes, idleTimeoutSeconds: timeout, maxConnections: maxConnections))
            stderr("model \(backend.modelName): \(parallel) slots of \(backend.contextLength) positions, \(threads) threads")
        } catch {
            stderr("error: \(error)")
            throw ExitCode.failure
        }
        try await server.run { host, port in
            // The test harness (and people) read this line to find the port.
            stderr("listening on http://\(host):\(port)")
        }
    }
}
