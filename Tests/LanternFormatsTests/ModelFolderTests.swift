import Foundation
import Testing
import LanternTensor
@testable import LanternFormats

@Suite struct ModelFolderTests {
    struct Expectation: Sendable, CustomStringConvertible {
        var name: String
        var modelType: String
        var architectures: [String]?
        var generation: GenerationConfig?
        var tensorCount: Int
        var shapes: [String: [Int]]
        var description: String { name }
    }

    static let fixtures: [Expectation] = [
        Expectation(name: "gpt2", modelType: "gpt2", architectures: ["GPT2LMHeadModel"],
                    generation: GenerationConfig(bosTokenId: 511, eosTokenId: [511], padTokenId: 511, maxNewTokens: 16, doSample: false),
                    tensorCount: 28, shapes: ["transformer.wte.weight": [512, 64], "transformer.h.0.attn.c_attn.weight": [64, 192], "transformer.h.0.attn.c_attn.bias": [192]]),
        Expectation(name: "llama", modelType: "llama", architectures: ["LlamaForCausalLM"],
                    generation: GenerationConfig(bosTokenId: 1, eosTokenId: [2], padTokenId: 2, maxNewTokens: 16, doSample: false),
                    tensorCount: 20, shapes: ["model.embed_tokens.weight": [512, 64], "model.norm.weight": [64], "model.layers.0.mlp.down_proj.weight": [64, 176]]),
        Expectation(name: "bert", modelType: "bert", architectures: ["BertForMaskedLM"], generation: nil,
                    tensorCount: 42, shapes: ["bert.embeddings.position_embeddings.weight": [64, 64], "bert.embeddings.LayerNorm.bias": [64]]),
        Expectation(name: "bloom", modelType: "bloom", architectures: ["BloomForCausalLM"],
                    generation: GenerationConfig(bosTokenId: 1, eosTokenId: [2], padTokenId: 3, maxNewTokens: 16, doSample: false),
                    tensorCount: 29, shapes: ["transformer.word_embeddings.weight": [512, 64], "transformer.h.0.input_layernorm.weight": [64]]),
        Expectation(name: "marian", modelType: "marian", architectures: nil,
                    generation: GenerationConfig(eosTokenId: [96], padTokenId: 255, decoderStartTokenId: 255, maxNewTokens: 20, doSample: false),
                    tensorCount: 102, shapes: ["model.shared.weight": [256, 48], "final_logits_bias": [1, 256], "model.decoder.layers.0.encoder_attn.k_proj.weight": [48, 48]]),
        Expectation(name: "t5", modelType: "t5", architectures: nil,
                    generation: GenerationConfig(eosTokenId: [152], padTokenId: 0, decoderStartTokenId: 0, maxNewTokens: 20, doSample: false),
                    tensorCount: 61, shapes: ["shared.weight": [256, 48], "decoder.block.0.layer.0.SelfAttention.q.weight": [32, 48]]),
        Expectation(name: "bart", modelType: "bart", architectures: ["BartForConditionalGeneration"],
                    generation: GenerationConfig(bosTokenId: 0, eosTokenId: [21], padTokenId: 1, decoderStartTokenId: 2, maxNewTokens: 20, doSample: false),
                    tensorCount: 108, shapes: ["model.shared.weight": [256, 48], "model.decoder.embed_positions.weight": [66, 48]]),
    ]

    @Test(arguments: fixtures)
    func fixtureFolders(_ x: Expectation) throws {
        let folder = try ModelFolder(path: formatsFixture(x.name))
        #expect(folder.modelType == x.modelType)
        if let a = x.architectures { #expect(folder.architectures == a) }
        #expect(folder.generationConfig == x.generation)
        #expect((folder.generationConfigPath != nil) == (x.generation != nil))
        #expect(folder.weights is SafetensorsFile)
        #expect(folder.weightsPath.hasSuffix("/model.safetensors"))
        #expect(folder.weights.tensorNames.count == x.tensorCount)
        for (name, shape) in x.shapes {
            let t = try folder.weights.tensor(name, shape: shape)
            #expect(t.dtype == .f32)
            #expect(t.byteCount == shape.reduce(4, *))
        }
        // The raw config is kept whole for the typed per-model decoding.
        #expect(folder.configData == (try Data(contentsOf: URL(fileURLWithPath: formatsFixture(x.name) + "/config.json"))))
        #expect(folder.tokenizerPath == nil && folder.poolingConfigPath == nil)
    }

    // MARK: sharding

    /// Copies `config.json` of a fixture into a fresh folder.
    static func folderWithConfig(from fixture: String) throws -> String {
        let dir = try makeTempDir()
        try FileManager.default.copyItem(atPath: formatsFixture(fixture) + "/config.json", toPath: dir + "/config.json")
        return dir
    }

    static func writeIndex(_ map: [String: String], to dir: String, extra: String = "") throws {
        let body = map.sorted { $0.key < $1.key }.map { SafetensorsWriter.quoted($0.key) + ": " + SafetensorsWriter.quoted($0.value) }
        let json = "{\"metadata\": {\"total_size\": 123\(extra)}, \"weight_map\": {" + body.joined(separator: ", ") + "}}"
        try Data(json.utf8).write(to: URL(fileURLWithPath: dir + "/" + ModelFolder.shardIndexName))
    }

    /// Splits the bart fixture into two shards plus an index; returns (folder, unsharded file, map).
    static func shardedBart() throws -> (String, SafetensorsFile, [String: String]) {
        let whole = try SafetensorsFile(path: formatsFixture("bart") + "/model.safetensors")
        let dir = try folderWithConfig(from: "bart")
        let names = whole.tensorNames
        let half = names.count / 2
        let shards = [("model-00001-of-00002.safetensors", Array(names[..<half])), ("model-00002-of-00002.safetensors", Array(names[half...]))]
        var map: [String: String] = [:]
        for (file, part) in shards {
            try SafetensorsWriter.copying(part, from: whole).write(to: dir + "/" + file)
            for n in part { map[n] = file }
        }
        try writeIndex(map, to: dir)
        return (dir, whole, map)
    }

    @Test func shardedFolderEqualsUnsharded() throws {
        let (dir, whole, _) = try Self.shardedBart()
        let folder = try ModelFolder(path: dir)
        #expect(folder.modelType == "bart")
        #expect(folder.generationConfig == nil)
        #expect(folder.weightsPath.hasSuffix(ModelFolder.shardIndexName))
        let sharded = try #require(folder.weights as? ShardedSafetensors)
        #expect(sharded.shards.count == 2)
        #expect(sharded.totalSize == 123)
        #expect(sharded.tensorNames == whole.tensorNames)
        for name in whole.tensorNames {
            let a = try whole.tensor(name), b = try sharded.tensor(name)
            #expect(a.shape == b.shape && a.dtype == b.dtype)
            #expect(b.path.contains("-of-00002.safetensors"))
            #expect(memcmp(a.data, b.data, a.byteCount) == 0, "\(name)")
        }
        #expect(throws: FormatError.missingTensor(path: sharded.path, tensor: "nope")) { try sharded.tensor("nope") }
    }

    @Test func shardErrorsNameIndexShardAndTensor() throws {
        let (dir, _, map) = try Self.shardedBart()
        let index = dir + "/" + ModelFolder.shardIndexName
        let victim = map.keys.sorted()[0]
        let shard = map[victim] ?? ""

        // The map places a tensor in the other shard.
        var moved = map
        let other = map.values.first { $0 != shard } ?? ""
        moved[victim] = other
        try Self.writeIndex(moved, to: dir)
        // Both directions are wrong now; the shards are checked in name order.
        let first = [shard, other].sorted()[0]
        let expected: FormatError = first == other ? .tensorNotInShard(index: index, shard: other, tensor: victim)
                                                   : .unlistedTensor(index: index, shard: shard, tensor: victim)
        #expect(throws: expected) { try ShardedSafetensors(indexPath: index) }

        // A tensor that no shard holds.
        var extra = map
        extra["ghost.weight"] = shard
        try Self.writeIndex(extra, to: dir)
        #expect(throws: FormatError.tensorNotInShard(index: index, shard: shard, tensor: "ghost.weight")) { try ModelFolder(path: dir) }

        // A tensor in a shard that the map does not list.
        var fewer = map
        fewer[victim] = nil
        try Self.writeIndex(fewer, to: dir)
        #expect(throws: FormatError.unlistedTensor(index: index, shard: shard, tensor: victim)) { try ModelFolder(path: dir) }

        // A shard file that does not exist.
        var missing = map
        missing[victim] = "model-00003-of-00002.safetensors"
        try Self.writeIndex(missing, to: dir)
        #expect(throws: FormatError.missingShard(index: index, shard: "model-00003-of-00002.safetensors", tensor: victim)) { try ModelFolder(path: dir) }
        let message = FormatError.missingShard(index: index, shard: "model-00003-of-00002.safetensors", tensor: victim).description
        #expect(message.contains(index) && message.contains("model-00003-of-00002.safetensors") && message.contains(victim))

        // A shard name that escapes the folder, a non-string shard, duplicate entries, no weight_map.
        for body in [#"{"weight_map": {"a": "../model.safetensors"}}"#, #"{"weight_map": {"a": 3}}"#,
                     #"{"weight_map": {"a": "x.safetensors", "a": "x.safetensors"}}"#, #"{"metadata": {}}"#, "{"] {
            try Data(body.utf8).write(to: URL(fileURLWithPath: index))
            do { _ = try ShardedSafetensors(indexPath: index); Issue.record("accepted \(body)") } catch {
                #expect(error.description.contains(index), "\(error)")
            }
        }
    }

    @Test func shapeMismatchInAShardNamesTheShard() throws {
        let (dir, whole, map) = try Self.shardedBart()
        let folder = try ModelFolder(path: dir)
        let name = "model.shared.weight"
        let shardPath = dir + "/" + (map[name] ?? "")
        #expect(throws: FormatError.shapeMismatch(path: shardPath, tensor: name, expected: [48, 256], found: [256, 48])) {
            try folder.weights.tensor(name, shape: [48, 256])
        }
        _ = whole
    }

    @Test func truncatedShardIsATypedError() throws {
        let (dir, _, map) = try Self.shardedBart()
        let shardPath = dir + "/" + (map.values.sorted().first ?? "")
        let bytes = try Data(contentsOf: URL(fileURLWithPath: shardPath))
        try bytes.prefix(bytes.count - 10).write(to: URL(fileURLWithPath: shardPath))
        do { _ = try ModelFolder(path: dir); Issue.record("accepted a truncated shard") } catch {
            #expect(error.description.contains(shardPath), "\(error)")
        }
    }

    // MARK: folder errors

    @Test func folderErrors() throws {
        #expect(throws: FormatError.notAFolder(path: "/nonexistent/lantern-model")) { try ModelFolder(path: "/nonexistent/lantern-model") }
        let file = try SafetensorsTests.sample().write()
        #expect(throws: FormatError.notAFolder(path: file)) { try ModelFolder(path: file) }

        let empty = try makeTempDir()
        #expect(throws: FormatError.missingFile(path: empty + "/config.json")) { try ModelFolder(path: empty) }

        let cases: [(String, FormatError)] = [
            ("{not json", .invalidJSON(path: "", reason: "")),
            ("[1, 2]", .invalidJSON(path: "", reason: "top level is not an object")),
            (#"{"hidden_size": 64}"#, .invalidConfigValue(path: "", key: "model_type", reason: "missing (it names the architecture to build)")),
            (#"{"model_type": 7}"#, .invalidConfigValue(path: "", key: "model_type", reason: "wrong type: expected a string")),
            (#"{"model_type": ""}"#, .invalidConfigValue(path: "", key: "model_type", reason: "is empty")),
        ]
        for (config, expected) in cases {
            let dir = try makeTempDir()
            let configPath = dir + "/config.json"
            try Data(config.utf8).write(to: URL(fileURLWithPath: configPath))
            do { _ = try ModelFolder(path: dir); Issue.record("accepted \(config)") } catch {
                #expect(error.description.contains(configPath), "\(error)")
                switch (error, expected) {
                case (.invalidJSON, .invalidJSON(_, let reason)) where reason.isEmpty: break
                default:
                    if case let .invalidJSON(_, r) = expected { #expect(error == .invalidJSON(path: configPath, reason: r)) }
                    if case let .invalidConfigValue(_, k, r) = expected { #expect(error == .invalidConfigValue(path: configPath, key: k, reason: r)) }
                }
            }
        }
    }

    /// Formats knows no architecture: an unknown but well-formed model_type is read as is; refusing
    /// it is the model registry's job.
    @Test func unknownModelTypeIsReadAsIs() throws {
        let dir = try makeTempDir()
        try Data(#"{"model_type": "mamba-9000", "architectures": ["X"]}"#.utf8).write(to: URL(fileURLWithPath: dir + "/config.json"))
        try SafetensorsTests.sample().write(to: dir + "/model.safetensors")
        let folder = try ModelFolder(path: dir)
        #expect(folder.modelType == "mamba-9000")
        #expect(folder.architectures == ["X"])
    }

    @Test func weightsMissingOrPyTorchOnly() throws {
        let dir = try Self.folderWithConfig(from: "llama")
        do { _ = try ModelFolder(path: dir); Issue.record("accepted a folder without weights") } catch {
            guard case let .noWeights(folder, reason) = error else { Issue.record("\(error)"); return }
            #expect(folder == dir && reason.contains("model.safetensors"))
        }
        try Data([1, 2, 3]).write(to: URL(fileURLWithPath: dir + "/pytorch_model.bin"))
        do { _ = try ModelFolder(path: dir); Issue.record("accepted a pytorch-only folder") } catch {
            guard case let .noWeights(folder, reason) = error else { Issue.record("\(error)"); return }
            #expect(folder == dir && reason.contains("pytorch_model.bin") && reason.contains("safetensors only"))
            #expect(error.description.contains(dir))
        }
    }

    @Test func sideFilesAreLocated() throws {
        let dir = try Self.folderWithConfig(from: "bert")
        try SafetensorsTests.sample().write(to: dir + "/model.safetensors")
        for name in ["tokenizer.json", "tokenizer_config.json", "vocab.txt", "modules.json"] {
            try Data("{}".utf8).write(to: URL(fileURLWithPath: dir + "/" + name))
        }
        try FileManager.default.createDirectory(atPath: dir + "/1_Pooling", withIntermediateDirectories: true)
        try Data("{}".utf8).write(to: URL(fileURLWithPath: dir + "/1_Pooling/config.json"))
        let folder = try ModelFolder(path: dir)
        #expect(folder.tokenizerPath == dir + "/tokenizer.json")
        #expect(folder.tokenizerConfigPath == dir + "/tokenizer_config.json")
        #expect(folder.vocabPath == dir + "/vocab.txt")
        #expect(folder.modulesPath == dir + "/modules.json")
        #expect(folder.poolingConfigPath == dir + "/1_Pooling/config.json")
    }

    // MARK: generation_config.json

    static func generation(_ json: String) throws(FormatError) -> GenerationConfig {
        try GenerationConfig.decode(Data(json.utf8), path: "/m/generation_config.json")
    }

    @Test func generationConfigForms() throws {
        let g = try Self.generation(#"""
            {"bos_token_id": 1, "eos_token_id": [2, 32000], "pad_token_id": null, "decoder_start_token_id": 0,
             "forced_bos_token_id": 5, "forced_eos_token_id": 6, "max_new_tokens": 8, "max_length": 64,
             "do_sample": true, "temperature": 0.7, "top_k": 40, "top_p": 0.95, "repetition_penalty": 1,
             "transformers_version": "5.24.0", "num_beams": 4}
            """#)
        #expect(g == GenerationConfig(bosTokenId: 1, eosTokenId: [2, 32000], padTokenId: nil, decoderStartTokenId: 0,
                                      forcedBosTokenId: 5, forcedEosTokenId: [6], maxNewTokens: 8, maxLength: 64,
                                      doSample: true, temperature: 0.7, topK: 40, topP: 0.95, repetitionPenalty: 1.0))
        #expect(try Self.generation("{}") == GenerationConfig())
        #expect(try Self.generation(#"{"eos_token_id": null}"#).eosTokenId == nil)
    }

    @Test func generationConfigWrongTypesNameFileAndKey() throws {
        let path = "/m/generation_config.json"
        let cases: [(String, String)] = [
            (#"{"eos_token_id": "2"}"#, "eos_token_id"),
            (#"{"eos_token_id": [2, "x"]}"#, "eos_token_id"),
            (#"{"bos_token_id": "1"}"#, "bos_token_id"),
            (#"{"max_new_tokens": 2.5}"#, "max_new_tokens"),
            (#"{"do_sample": "yes"}"#, "do_sample"),
            (#"{"temperature": "hot"}"#, "temperature"),
            (#"{"top_k": true}"#, "top_k"),
        ]
        for (json, key) in cases {
            do { let g = try Self.generation(json); Issue.record("accepted \(json): \(g)") } catch {
                guard case let .invalidConfigValue(p, k, _) = error else { Issue.record("\(json): \(error)"); continue }
                #expect(p == path && k == key, "\(json): \(error)")
                #expect(error.description.contains(path) && error.description.contains(key))
            }
        }
        #expect(throws: FormatError.invalidJSON(path: path, reason: "top level is not an object")) { try Self.generation("[1]") }
        #expect(throws: FormatError.self) { try Self.generation("{") }
    }

    @Test func generationConfigInAFolderIsChecked() throws {
        let dir = try Self.folderWithConfig(from: "gpt2")
        try SafetensorsTests.sample().write(to: dir + "/model.safetensors")
        try Data(#"{"eos_token_id": "eos"}"#.utf8).write(to: URL(fileURLWithPath: dir + "/generation_config.json"))
        do { _ = try ModelFolder(path: dir); Issue.record("accepted a string eos_token_id") } catch {
            guard case let .invalidConfigValue(p, k, _) = error else { Issue.record("\(error)"); return }
            #expect(p == dir + "/generation_config.json" && k == "eos_token_id")
        }
    }
}
