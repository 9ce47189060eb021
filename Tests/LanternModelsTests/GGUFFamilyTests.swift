import Foundation
import Testing
import LanternFormats
@testable import LanternModels

/// The tiny fixtures of GPT-2, BLOOM, BERT and T5 converted by llama.cpp's own convert_hf_to_gguf.py
/// (`tools/make_gguf_fixtures.py`): the GGUF file and the Hugging Face folder must build the same
/// network, so the same runner gives the same outputs (float32 GGUF: within 1e-5), and the GGUF
/// outputs also meet transformers' reference values with case.json's tolerances.
@Suite struct GGUFFamilyTests {
    static func gguf(_ name: String, _ file: String = "model.gguf") throws -> (GGUFFile, Network) {
        let f = try GGUFFile(path: fixturePath(name) + "/" + file)
        let arch = try ModelRegistry.architecture(of: f)
        return (f, try ModelRegistry.loadNetwork(gguf: f, architecture: arch, compute: ComputeOptions(threads: 2)))
    }

    static func maxDifference(_ a: [Float], _ b: [Float]) -> Float {
        precondition(a.count == b.count)
        return zip(a, b).reduce(0) { max($0, abs($1.0 - $1.1)) }
    }

    // MARK: decoders

    @Test(arguments: ["gpt2", "bloom"]) func decoderGGUFGivesTheFolderLogits(_ name: String) throws {
        let (file, network) = try Self.gguf(name)
        #expect(try ModelRegistry.architecture(of: file) == name)
        let fromGGUF = try #require(network.causal), fromFolder = try #require(try loadFixtureModel(name).causal)
        let fx = try FixtureCase(name)
        let ids = try fx.expected.ints("input_ids")
        let a = try fromGGUF.forward(ids, cache: try fromGGUF.makeCache(capacity: 32), rows: .all)
        let b = try fromFolder.forward(ids, cache: try fromFolder.makeCache(capacity: 32), rows: .all)
        #expect(Self.maxDifference(a, b) <= 1e-5, "\(name): GGUF and folder logits differ by \(Self.maxDifference(a, b))")
        try fx.close(a, "logits")
    }

    @Test(arguments: ["gpt2", "bloom"]) func decoderGGUFGreedyMatchesTransformers(_ name: String) throws {
        let model = try #require(try Self.gguf(name).1.causal)
        let fx = try FixtureCase(name)
        let ids = try fx.expected.ints("input_ids"), want = try fx.expected.ints("generated_ids")
        let cache = try model.makeCache(capacity: 32)
        var logits = try model.forward(ids, cache: cache, rows: .last)
        var out = ids
        while out.count < want.count {
            out.append(argmax(logits[...]))
            logits = try model.forward([out.last!], cache: cache, rows: .last)
        }
        #expect(out == want)
    }

    /// The f16 conversion rounds every matrix but the position table to half precision (relative
    /// error up to 2^-11 per weight). The logits then move off transformers' float32 values by more
    /// than case.json's float32 tolerance (measured: 0.012 beyond it) but stay within 0.05, and greedy
    /// decoding still gives transformers' ids.
    @Test func gpt2HalfPrecisionGGUFStaysCloseToTransformers() throws {
        let (file, network) = try Self.gguf("gpt2", "model-f16.gguf")
        #expect(try file.tensor("blk.0.attn_qkv.weight").dtype == .f16 && file.tensor("token_embd.weight").dtype == .f16)
        let model = try #require(network.causal)
        let fx = try FixtureCase("gpt2")
        let ids = try fx.expected.ints("input_ids"), want = try fx.expected.ints("generated_ids")
        let logits = try model.forward(ids, cache: try model.makeCache(capacity: 32), rows: .all)
        #expect(allcloseExcess(logits[...], try fx.expected.floats("logits")[...], rtol: 1e-4) <= 0.05)
        let cache = try model.makeCache(capacity: 32)
        var last = try model.forward(ids, cache: cache, rows: .last)
        var out = ids
        while out.count < want.count {
            out.append(argmax(last[...]))
            last = try model.forward([out.last!], cache: cache, rows: .last)
        }
        #expect(out == want)
    }

    // MARK: BERT

    /// llama.cpp's converter keeps BERT's encoder and drops the masked-LM head: hidden states only.
    @Test func bertGGUFGivesTheFolderHiddenStates() throws {
        guard case let .encoder(fromGGUF) = try Self.gguf("bert").1,
              case let .encoder(fromFolder) = try loadFixtureModel("bert") else {
            Issue.record("bert is not an encoder")
            return
        }
        #expect(fromGGUF.head == nil)
        let fx = try FixtureCase("bert")
        let ids = try fx.expected.ints("input_ids"), mask = try fx.expected.ints("attention_mask")
        let types = try fx.expected.ints("token_type_ids"), want = try fx.expected.floats("last_hidden_state")
        let L = 11, d = 64
        let rows = (0..<2).map { r in (0..<L).filter { mask[r * L + $0] == 1 } }
        let sentences = rows.enumerated().map { r, js in js.map { ids[r * L + $0] } }
        let tokenTypes = rows.enumerated().map { r, js in js.map { types[r * L + $0] } }
        let a = try fromGGUF.encode(sentences, tokenTypes: tokenTypes)
        let b = try fromFolder.encode(sentences, tokenTypes: tokenTypes)
        let (atol, rtol) = try #require(fx.tolerance["last_hidden_state"])
        for r in 0..<2 {
            #expect(Self.maxDifference(a[r], b[r]) <= 1e-5, "row \(r)")
            let expected = want[(r * L * d)..<((r * L + sentences[r].count) * d)]
            #expect(allcloseExcess(a[r][...], expected, rtol: rtol) <= atol, "row \(r) against transformers")
        }
    }

    // MARK: T5

    /// GGUF does not record relative_attention_max_distance: llama.cpp fixes it at 128, and so does
    /// the GGUF loader. The fixture was made with 40, so the GGUF is compared with the same folder
    /// read with 128 (config.json edited in a temporary copy), and its special tokens and shape with
    /// the fixture's.
    @Test func t5GGUFGivesTheFolderDecoderLogits() throws {
        guard case let .encoderDecoder(fromGGUF) = try Self.gguf("t5").1 else {
            Issue.record("t5 is not an encoder-decoder")
            return
        }
        #expect(fromGGUF.decoderStartTokenID == 0 && fromGGUF.eosTokenIDs == [152])
        #expect(fromGGUF.encoder.layers == 3 && fromGGUF.decoder.layers == 2 && fromGGUF.head.inputScale == 1)
        let folder = try Seq2SeqFixtureTests.folder("t5", config: { $0["relative_attention_max_distance"] = 128 })
        let fromFolder = try T5.load(folder: folder, compute: ComputeOptions(threads: 2))
        let c = try Seq2SeqFixtureTests.Case("t5")
        for (r, (source, target)) in zip(c.inputs, c.decoderInputs).enumerated() {
            #expect(Self.maxDifference(try fromGGUF.encoderHiddenStates(source), try fromFolder.encoderHiddenStates(source)) <= 1e-5)
            var logits: [[Float]] = []
            for model in [fromGGUF, fromFolder] {
                let cache = try model.makeCache(capacity: 32)
                try model.encode(source, into: cache)
                logits.append(try model.forward(target, cache: cache, rows: .all))
            }
            #expect(Self.maxDifference(logits[0], logits[1]) <= 1e-5, "row \(r): \(Self.maxDifference(logits[0], logits[1]))")
        }
    }

    /// Where every distance falls in the exact buckets (< 4 in the encoder, < 8 in the decoder) the
    /// limit plays no part: the GGUF then gives the unedited fixture folder's outputs, which
    /// Seq2SeqFixtureTests holds to transformers'.
    @Test func t5GGUFEqualsTheFixtureWhereTheDistanceLimitDoesNotMatter() throws {
        guard case let .encoderDecoder(model) = try Self.gguf("t5").1 else {
            Issue.record("t5 is not an encoder-decoder")
            return
        }
        let folder = try T5.load(folder: ModelFolder(path: fixturePath("t5")), compute: ComputeOptions(threads: 2))
        let source = [115, 138, 133, 89], target = [0, 116, 33, 158, 16, 226]
        #expect(Self.maxDifference(try model.encoderHiddenStates(source), try folder.encoderHiddenStates(source)) <= 1e-5)
        var logits: [[Float]] = []
        for m in [model, folder] {
            let cache = try m.makeCache(capacity: 16)
            try m.encode(source, into: cache)
            logits.append(try m.forward(target, cache: cache, rows: .all))
        }
        #expect(Self.maxDifference(logits[0], logits[1]) <= 1e-5)
    }

    // MARK: strictness

    @Test func unknownGGUFArchitectureIsNamed() throws {
        let (file, _) = try Self.gguf("gpt2")
        #expect(throws: ModelError.unsupportedArchitecture("mamba")) {
            try ModelRegistry.loadNetwork(gguf: file, architecture: "mamba", compute: ComputeOptions(threads: 1))
        }
        #expect(ModelRegistry.ggufCoreFamilies == ["gpt2", "bloom", "bert", "t5"])
    }

    /// A GGUF read as another family fails on the first tensor name it lacks, naming it.
    @Test func aFileOfAnotherFamilyNamesTheMissingTensor() throws {
        let (file, _) = try Self.gguf("gpt2")
        #expect(throws: FormatError.missingTensor(path: file.path, tensor: "token_embd_norm.weight")) {
            try Bloom.build(BloomConfiguration(gguf: GGUFFile(path: fixturePath("bloom") + "/model.gguf")), store: file,
                            names: .gguf, compute: ComputeOptions(threads: 1))
        }
    }
}
