import Foundation
import Lantern
import LanternFormats
import LanternServer

extension FuzzTarget {
    /// The seed corpus, built from real files: the test fixtures (tiny real-format models, the
    /// tokenizers, the chat templates with their reference variables, the tokenizer strings) and, when
    /// the model cache holds them, the headers (metadata and tensor infos) of the real GGUF models.
    public func seeds() -> [Data] {
        switch self {
        case .gguf:
            var out = Self.fixtureFiles(ext: "gguf").compactMap { FileManager.default.contents(atPath: $0) }
            out += Self.realGGUFHeaders()
            return out
        case .safetensors:
            var out = Self.fixtureFiles(named: "model.safetensors").compactMap { FileManager.default.contents(atPath: $0) }
                .map { Data([0]) + $0 }
            if let shard = try? SafetensorsFile(path: FuzzBodies.fixture("llama/model.safetensors")) {
                let map = shard.entries.keys.sorted().map { "\"\($0)\": \"model.safetensors\"" }.joined(separator: ", ")
                out.append(Data([1]) + Data("{\"metadata\": {\"total_size\": 503064}, \"weight_map\": {\(map)}}".utf8))
            }
            return out
        case .tokenizerJSON:
            return Self.fixtureFiles(named: "tokenizer.json").compactMap { FileManager.default.contents(atPath: $0) }
        case .jinja:
            var out: [Data] = []
            let dir = FuzzBodies.fixture("chat-templates")
            if let data = FileManager.default.contents(atPath: dir + "/cases.json"),
               let cases = try? JSONSerialization.jsonObject(with: data) as? [[String: Any]] {
                var perTemplate: [String: Int] = [:]
                for c in cases {
                    guard let name = c["template"] as? String, let variables = c["variables"],
                          let source = FileManager.default.contents(atPath: "\(dir)/\(name).jinja"),
                          let json = try? JSONSerialization.data(withJSONObject: variables, options: [.sortedKeys]) else { continue }
                    // Two cases per template keep the corpus small without losing a construct.
                    guard perTemplate[name, default: 0] < 2 else { continue }
                    perTemplate[name, default: 0] += 1
                    out.append(source + Data([0]) + json)
                }
            }
            return out
        case .tokenize:
            guard let data = FileManager.default.contents(atPath: FuzzBodies.fixture("tokenizers/strings.json")),
                  let strings = try? JSONSerialization.jsonObject(with: data) as? [String] else { return [] }
            return strings.map { Data($0.utf8) } + [Data([0xFF, 0xFE, 0x41, 0xC3, 0x28, 0xE2, 0x82]), Data("<|im_start|>user\nHi<|im_end|>".utf8)]
        case .config:
            return FuzzBodies.configFixtures.enumerated().compactMap { i, name in
                FileManager.default.contents(atPath: FuzzBodies.fixture(name + "/config.json")).map { Data([UInt8(i)]) + $0 }
            }
        case .request:
            func route(_ path: String) -> UInt8 { UInt8(OpenAIServer.postRoutes.firstIndex(of: path) ?? 0) }
            let chat = route("/v1/chat/completions"), completion = route("/v1/completions")
            let bodies: [(UInt8, String)] = [
                (chat, #"{"model": "lantern", "messages": [{"role": "user", "content": "Hello!"}], "max_tokens": 8}"#),
                (chat, #"{"messages": [{"role": "system", "content": "Be brief."}, {"role": "user", "content": [{"type": "text", "text": "Hi"}]}], "stream": true, "stream_options": {"include_usage": true}, "logprobs": true, "top_logprobs": 3, "temperature": 0.7, "top_p": 0.9, "seed": 42, "stop": ["\n"], "presence_penalty": 0.5, "frequency_penalty": 0.5, "logit_bias": {"42": -100}}"#),
                (chat, #"{"messages": [{"role": "tool", "content": "x"}], "n": 2, "temperature": -1}"#),
                (completion, #"{"prompt": "Once upon a time", "max_tokens": 4, "logprobs": 2, "top_k": 40, "min_p": 0.05, "repeat_penalty": 1.1}"#),
                (completion, #"{"prompt": ["one", "two"], "stream": true, "stop": "x", "max_completion_tokens": 3}"#),
                (completion, #"{"prompt": [1, 2, 3], "max_tokens": 2}"#),
                (completion, #"{"prompt": [[1, 2], [3]], "temperature": NaN}"#),
                (route("/v1/embeddings"), #"{"input": ["a", "b"], "encoding_format": "base64"}"#),
                (route("/tokenize"), #"{"content": "Hello <|im_start|>", "add_special": true}"#),
                (route("/detokenize"), #"{"tokens": [1, 2, 3, 49151]}"#),
            ]
            return bodies.map { Data([$0.0]) + Data($0.1.utf8) }
        }
    }

    static func fixtureFiles(ext: String? = nil, named: String? = nil) -> [String] {
        let root = fixtures.path
        guard let walker = FileManager.default.enumerator(atPath: root) else { return [] }
        var out: [String] = []
        for case let relative as String in walker {
            let name = (relative as NSString).lastPathComponent
            if let ext, (relative as NSString).pathExtension == ext { out.append(root + "/" + relative) }
            if let named, name == named { out.append(root + "/" + relative) }
        }
        return out.sorted()
    }

    /// Metadata and tensor infos of the real GGUF models in the cache (their data left out).
    static func realGGUFHeaders() -> [Data] {
        let cache = ModelFetcher().cacheDirectory.path
        guard let walker = FileManager.default.enumerator(atPath: cache) else { return [] }
        var out: [Data] = []
        for case let relative as String in walker where relative.hasSuffix(".gguf") {
            let path = cache + "/" + relative
            guard let file = try? GGUFFile(path: path), let handle = FileHandle(forReadingAtPath: path) else { continue }
            defer { try? handle.close() }
            if let header = try? handle.read(upToCount: file.dataOffset) { out.append(header) }
        }
        return out
    }
}
