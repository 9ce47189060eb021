import Foundation
import Testing
import LanternFormats
@testable import LanternModels

/// The tiny random encoder-decoders of `Fixtures/{t5,bart,marian}` (transformers' T5ForConditionalGeneration,
/// BartForConditionalGeneration, MarianMTModel, float32) against every check their case.json lists:
/// encoder output, teacher-forced decoder logits, greedy ids to eos and the logits of each greedy step,
/// with the tolerances stated there. Padded rows are run unpadded (the reference checked that padding
/// changes nothing beyond 3e-5) and compared where attention_mask == 1.
@Suite struct Seq2SeqFixtureTests {
    static let cases = ["t5", "bart", "marian"]

    /// One case folder: the model, its expected tensors and case.json's tolerances.
    struct Case {
        let model: EncoderDecoderModel
        let expected: SafetensorsFile
        let tolerances: [String: (atol: Float, rtol: Float)]
        let inputs: [[Int]]           // unpadded encoder rows
        let decoderInputs: [[Int]]
        let vocab: Int

        init(_ name: String) throws {
            let dir = fixturePath(name)
            model = try Seq2SeqFixtureTests.load(ModelFolder(path: dir))
            expected = try SafetensorsFile(path: dir + "/expected.safetensors")
            let json = try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: dir + "/case.json"))) as? [String: Any]
            var tolerances: [String: (Float, Float)] = [:]
            for check in json?["checks"] as? [[String: Any]] ?? [] {
                guard let name = check["name"] as? String, let atol = check["atol"] as? Double else { continue }
                tolerances[name] = (Float(atol), Float(check["rtol"] as? Double ?? 0))
            }
            self.tolerances = tolerances
            let ids = try expected.ints("input_ids"), mask = try expected.ints("attention_mask")
            let width = try expected.shape("input_ids")[1]
            inputs = (0..<(ids.count / width)).map { r in (0..<width).filter { mask[r * width + $0] == 1 }.map { ids[r * width + $0] } }
            let dec = try expected.ints("decoder_input_ids"), dw = try expected.shape("decoder_input_ids")[1]
            decoderInputs = (0..<(dec.count / dw)).map { Array(dec[($0 * dw)..<(($0 + 1) * dw)]) }
            vocab = model.vocabularySize
        }

        /// |actual - expected| <= atol + rtol |expected| with case.json's tolerances for `check`.
        func close(_ actual: ArraySlice<Float>, _ want: ArraySlice<Float>, _ check: String) -> Bool {
            guard let t = tolerances[check] else { return false }
            let excess = allcloseExcess(actual, want, rtol: t.rtol)
            if excess > t.atol { print("\(check): excess \(excess) > atol \(t.atol)") }
            return excess <= t.atol
        }
    }

    static func load(_ folder: ModelFolder) throws -> EncoderDecoderModel {
        let compute = ComputeOptions(threads: 2)
        switch folder.modelType {
        case "t5": return try T5.load(folder: folder, compute: compute)
        case "bart": return try Bart.load(folder: folder, compute: compute)
        case "marian": return try Marian.load(folder: folder, compute: compute)
        default: throw ModelError.unsupportedArchitecture(folder.modelType)
        }
    }

    static func argmax(_ x: ArraySlice<Float>) -> Int {
        var best = x.startIndex
        for i in x.indices where x[i] > x[best] { best = i }
        return best - x.startIndex
    }

    @Test(arguments: cases) func encoderHiddenStatesMatchReference(_ name: String) throws {
        let c = try Case(name)
        let want = try c.expected.floats("encoder_last_hidden_state")
        let width = try c.expected.shape("encoder_last_hidden_state")
        let (L, d) = (width[1], width[2])
        for (r, tokens) in c.inputs.enumerated() {
            let h = try c.model.encoderHiddenStates(tokens)
            #expect(h.count == tokens.count * d)
            #expect(c.close(h[...], want[(r * L * d)..<((r * L + tokens.count) * d)], "encoder_last_hidden_state"), "\(name) row \(r)")
        }
    }

    @Test(arguments: cases) func teacherForcedDecoderLogitsMatchReference(_ name: String) throws {
        let c = try Case(name)
        let want = try c.expected.floats("decoder_logits")
        for (r, (source, target)) in zip(c.inputs, c.decoderInputs).enumerated() {
            let cache = try c.model.makeCache(capacity: 32)
            try c.model.encode(source, into: cache)
            let logits = try c.model.forward(target, cache: cache, rows: .all)
            let n = target.count * c.vocab
            #expect(c.close(logits[...], want[(r * n)..<((r + 1) * n)], "decoder_logits"), "\(name) row \(r)")
        }
    }

    /// Greedy decoding as `generate(num_beams=1, do_sample=False)` runs it: encode once, start from
    /// decoder_start_token_id, one token per step over the KV cache, argmax, stop after eos.
    @Test(arguments: cases) func greedyGenerationMatchesReference(_ name: String) throws {
        let c = try Case(name)
        let source = try c.expected.ints("generation_input_ids")
        let want = try c.expected.ints("generated_ids")
        let stepLogits = try c.expected.floats("generation_step_logits")
        #expect(want.first == c.model.decoderStartTokenID)
        let cache = try c.model.makeCache(capacity: 32)
        try c.model.encode(source, into: cache)
        var out = [c.model.decoderStartTokenID]
        for step in 0..<20 {
            let logits = try c.model.forward([out[out.count - 1]], cache: cache, rows: .last)
            if step * c.vocab < stepLogits.count {
                #expect(c.close(logits[...], stepLogits[(step * c.vocab)..<((step + 1) * c.vocab)], "generation_step_logits"),
                        "\(name) step \(step)")
            }
            out.append(Self.argmax(logits[...]))
            if c.model.eosTokenIDs.contains(out[out.count - 1]) { break }
        }
        #expect(out == want)
        #expect(cache.count == want.count - 1)
    }

    @Test(arguments: cases) func cachedStepsAgreeWithOneShot(_ name: String) throws {
        let c = try Case(name)
        let (source, target) = (c.inputs[0], c.decoderInputs[0])
        let oneShot = try c.model.makeCache(capacity: 32)
        try c.model.encode(source, into: oneShot)
        let all = try c.model.forward(target, cache: oneShot, rows: .all)
        // Token by token, then a chunk of 2 followed by the rest, on one cache re-encoded in between.
        let cache = try c.model.makeCache(capacity: 32)
        try c.model.encode(source, into: cache)
        var stepped: [Float] = []
        for t in target { stepped += try c.model.forward([t], cache: cache, rows: .all) }
        #expect(allcloseExcess(stepped[...], all[...], rtol: 0) <= 1e-4)
        try c.model.encode(source, into: cache)
        #expect(cache.count == 0)
        var chunked = try c.model.forward(Array(target[..<2]), cache: cache, rows: .all)
        chunked += try c.model.forward(Array(target[2...]), cache: cache, rows: .all)
        #expect(allcloseExcess(chunked[...], all[...], rtol: 0) <= 1e-4)
    }

    /// Both rows in one batch, each with its own cache and encoder output, give each row's logits alone.
    @Test(arguments: cases) func batchedSequencesKeepTheirOwnEncoderOutput(_ name: String) throws {
        let c = try Case(name)
        let pool = try c.model.makePool(blocks: 4)
        var batch = ForwardBatch()
        for (source, target) in zip(c.inputs, c.decoderInputs) {
            let cache = try KVCache(pool: pool, capacity: 16)
            try c.model.encode(source, into: cache)
            batch.add(target, startingAt: 0, cache: cache, output: .all)
        }
        let ws = c.model.makeWorkspace(maxTokens: 5)   // splits the 12 rows into chunks
        var logits = [Float](repeating: 0, count: batch.outputRowCount * c.vocab)
        try logits.withUnsafeMutableBufferPointer { try c.model.forward(batch, workspace: ws, output: .logits, into: $0.baseAddress!) }
        #expect(c.close(logits[...], try c.expected.floats("decoder_logits")[...], "decoder_logits"))
    }

    @Test(arguments: cases) func decodingWithoutEncodingIsATypedError(_ name: String) throws {
        let c = try Case(name)
        let cache = try c.model.makeCache(capacity: 8)
        #expect(throws: ModelError.invalidBatch("sequence 0 has no encoder output; encode first")) {
            try c.model.forward([c.model.decoderStartTokenID], cache: cache)
        }
        #expect(throws: ModelError.emptyInput) { try c.model.encode([], into: cache) }
        #expect(throws: ModelError.invalidToken(id: c.vocab, vocabularySize: c.vocab)) { try c.model.encode([c.vocab], into: cache) }
        #expect(throws: ModelError.contextOverflow(needed: c.model.maxSourceLength + 1, capacity: c.model.maxSourceLength)) {
            try c.model.encode([Int](repeating: 5, count: c.model.maxSourceLength + 1), into: cache)
        }
        let other = try KVCache(layers: 1, kvHeads: 1, headDim: 4, capacity: 4)
        #expect(throws: ModelError.cacheMismatch) { try c.model.encode([5], into: other) }
        // A reset drops the encoder output with the positions.
        try c.model.encode([5, 6], into: cache)
        _ = try c.model.forward([c.model.decoderStartTokenID], cache: cache)
        cache.reset()
        #expect(throws: ModelError.invalidBatch("sequence 0 has no encoder output; encode first")) {
            try c.model.forward([c.model.decoderStartTokenID], cache: cache)
        }
    }

    @Test func specialTokensComeFromTheFolders() throws {
        let t5 = try Case("t5").model, bart = try Case("bart").model, marian = try Case("marian").model
        #expect(t5.decoderStartTokenID == 0 && t5.eosTokenIDs == [152] && t5.architecture == "t5")
        #expect(bart.decoderStartTokenID == 2 && bart.eosTokenIDs == [21] && bart.forcedEOSTokenIDs == nil)
        #expect(marian.decoderStartTokenID == 255 && marian.eosTokenIDs == [96] && marian.specialTokens.pad == 255)
        #expect(t5.encoder.layers == 3 && t5.decoder.layers == 2 && t5.head.inputScale == 1)
        #expect(marian.encoder.embeddings.scale == Float(48).squareRoot() && bart.encoder.embeddings.scale == 1)
    }

    // MARK: Loading errors

    /// A copy of a fixture folder with config.json edited and model.safetensors rewritten.
    static func folder(_ name: String, config edit: (inout [String: Any]) -> Void = { _ in },
                       tensors change: (inout [(String, [String: Any], Data)]) -> Void = { _ in }) throws -> ModelFolder {
        let src = URL(fileURLWithPath: fixturePath(name))
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("lantern-s2s-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        var config = try JSONSerialization.jsonObject(with: Data(contentsOf: src.appendingPathComponent("config.json"))) as? [String: Any] ?? [:]
        edit(&config)
        try JSONSerialization.data(withJSONObject: config).write(to: dir.appendingPathComponent("config.json"))
        try FileManager.default.copyItem(at: src.appendingPathComponent("generation_config.json"),
                                         to: dir.appendingPathComponent("generation_config.json"))
        // Safetensors: u64 header length, JSON header {name: {dtype, shape, data_offsets}}, data.
        let bytes = try Data(contentsOf: src.appendingPathComponent("model.safetensors"))
        let n = bytes.prefix(8).enumerated().reduce(0) { $0 | Int($1.element) << (8 * $1.offset) }
        let header = try JSONSerialization.jsonObject(with: bytes.subdata(in: 8..<(8 + n))) as? [String: Any] ?? [:]
        var entries: [(String, [String: Any], Data)] = header.keys.sorted().filter { $0 != "__metadata__" }.compactMap { key in
            guard let e = header[key] as? [String: Any], let o = e["data_offsets"] as? [Int] else { return nil }
            return (key, e, bytes.subdata(in: (8 + n + o[0])..<(8 + n + o[1])))
        }
        change(&entries)
        var out: [String: Any] = [:], body = Data()
        for (key, e, data) in entries {
            var e = e
            e["data_offsets"] = [body.count, body.count + data.count]
            out[key] = e
            body.append(data)
        }
        var head = try JSONSerialization.data(withJSONObject: out)
        while head.count % 8 != 0 { head.append(0x20) }
        var file = Data((0..<8).map { UInt8((head.count >> (8 * $0)) & 0xff) })
        file.append(head)
        file.append(body)
        try file.write(to: dir.appendingPathComponent("model.safetensors"))
        return try ModelFolder(path: dir.path)
    }

    @Test func invalidConfigurationsAreRefused() throws {
        let edits: [(String, (inout [String: Any]) -> Void)] = [
            ("t5", { $0["feed_forward_proj"] = "gated-swirl" }),
            ("t5", { $0["feed_forward_proj"] = "fancy-gelu" }),
            ("t5", { $0["relative_attention_num_buckets"] = 2 }),
            ("t5", { $0["relative_attention_max_distance"] = 4 }),
            ("t5", { $0["num_heads"] = 0 }),
            ("t5", { $0["layer_norm_epsilon"] = -1.0 }),
            ("bart", { $0["activation_function"] = "tanhish" }),
            ("bart", { $0["d_model"] = -48 }),
            ("bart", { $0["encoder_attention_heads"] = 5 }),
            ("marian", { $0["share_encoder_decoder_embeddings"] = false }),
            ("marian", { $0["decoder_vocab_size"] = 300 }),
            ("marian", { $0["vocab_size"] = 1 << 40 }),
        ]
        for (name, edit) in edits {
            let folder = try Self.folder(name, config: edit)
            #expect {
                _ = try Self.load(folder)
            } throws: { error in
                guard case ModelError.invalidConfiguration = error else { return false }
                return true
            }
        }
        // generation_config.json overrides config.json.
        let badStart = try Self.folder("bart", config: { $0["decoder_start_token_id"] = 999; $0["eos_token_id"] = [21, 7] })
        #expect(badStart.generationConfig?.decoderStartTokenId == 2)   // the generation config wins...
        #expect(try Self.load(badStart).eosTokenIDs == [21])
        #expect(throws: ModelError.unsupportedArchitecture("bart")) { _ = try T5.load(folder: badStart, compute: ComputeOptions(threads: 1)) }
    }

    @Test func missingAndExtraTensorsAreNamed() throws {
        let missing: [(String, String)] = [
            ("t5", "decoder.block.1.layer.1.EncDecAttention.v.weight"),
            ("t5", "encoder.block.0.layer.0.SelfAttention.relative_attention_bias.weight"),
            ("t5", "encoder.final_layer_norm.weight"),
            ("bart", "model.decoder.embed_positions.weight"),
            ("bart", "model.encoder.layernorm_embedding.bias"),
            ("marian", "model.decoder.layers.0.encoder_attn.k_proj.bias"),
            ("marian", "model.shared.weight"),
        ]
        for (name, tensor) in missing {
            let folder = try Self.folder(name, tensors: { $0.removeAll { $0.0 == tensor } })
            #expect {
                _ = try Self.load(folder)
            } throws: { error in
                guard case let FormatError.missingTensor(_, t) = error else { return false }
                return t == tensor
            }
        }
        let extra: [(String, String)] = [
            ("t5", "decoder.block.1.layer.0.SelfAttention.relative_attention_bias.weight"),
            ("bart", "model.encoder.layers.3.fc1.bias"),
            ("marian", "model.decoder.layernorm_embedding.weight"),
        ]
        for (name, tensor) in extra {
            let folder = try Self.folder(name, tensors: { entries in
                entries.append((tensor, ["dtype": "F32", "shape": [4]], Data(count: 16)))
            })
            #expect {
                _ = try Self.load(folder)
            } throws: { error in
                guard case let FormatError.invalidTensor(_, t, _) = error else { return false }
                return t == tensor
            }
        }
        // Copies a checkpoint may carry are ignored explicitly, not refused.
        let copies = try Self.folder("marian", tensors: { entries in
            guard let shared = entries.first(where: { $0.0 == "model.shared.weight" }) else { return }
            entries.append(("model.encoder.embed_tokens.weight", shared.1, shared.2))
            entries.append(("model.decoder.embed_tokens.weight", shared.1, shared.2))
        })
        #expect(try Self.load(copies).vocabularySize == 256)
    }

    /// T5 v1.0 (one `wi`, ReLU) and a tied head (shared embedding, decoder output scaled by d_model^-0.5).
    @Test func t5VariantsLoad() throws {
        let relu = try Self.folder("t5", config: { $0["feed_forward_proj"] = "relu" }, tensors: { entries in
            entries.removeAll { $0.0.hasSuffix("DenseReluDense.wi_1.weight") }
            for i in entries.indices where entries[i].0.hasSuffix("DenseReluDense.wi_0.weight") {
                entries[i].0 = entries[i].0.replacingOccurrences(of: "wi_0", with: "wi")
            }
        })
        let v10 = try Self.load(relu)
        #expect(v10.encoder.blocks.allSatisfy { if case .plain = $0.feedForward.kind { $0.feedForward.activation == .relu } else { false } })
        let cache = try v10.makeCache(capacity: 8)
        try v10.encode([5, 6, 7], into: cache)
        #expect(try v10.forward([0, 9], cache: cache).allSatisfy(\.isFinite))

        let tiedFolder = try Self.folder("t5", config: { $0.removeValue(forKey: "scale_decoder_outputs") },
                                         tensors: { $0.removeAll { $0.0 == "lm_head.weight" } })
        let tied = try Self.load(tiedFolder)
        let scale = 1 / Float(48).squareRoot()
        #expect(tied.head.inputScale == scale)
        let shared = try SafetensorsFile(path: fixturePath("t5") + "/model.safetensors").floats("shared.weight")   // [256, 48]
        let (a, b) = (try tied.makeCache(capacity: 8), try tied.makeCache(capacity: 8))
        try tied.encode([5, 6, 7], into: a)
        try tied.encode([5, 6, 7], into: b)
        let hidden = try tied.forward([0, 9], cache: a, output: .hidden)   // [2, 48]
        let logits = try tied.forward([0, 9], cache: b)                    // [2, 256]
        var want = [Float](repeating: 0, count: logits.count)
        for r in 0..<2 { for v in 0..<256 { for k in 0..<48 { want[r * 256 + v] += scale * hidden[r * 48 + k] * shared[v * 48 + k] } } }
        #expect(allcloseExcess(logits[...], want[...], rtol: 1e-4) <= 1e-4)
    }
}
