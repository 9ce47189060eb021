import Foundation
import Testing
import LanternFormats
import LanternGeneration
import LanternModels
@testable import Lantern

/// Gemma 3 270M Q4_K_M (GGUF `gemma3`) against llama.cpp and the float32 transformers reference
/// (Tests/Fixtures/reference/README.md). Token ids come from the fixtures: the model's SentencePiece
/// tokenizer is not needed here.
@Suite(.serialized) struct Gemma3Tests {
    static let file: Result<GGUFFile, any Error> = Result { try GGUFFile(path: try RealModel.file("gemma3-270m")) }
    static let compute = ComputeOptions(threads: 2, precision: ActivationPrecision.environmentDefault.kernelPrecision)
    static let loaded: Result<DecoderModel, any Error> = Result {
        try ModelRegistry.load(gguf: try file.get(), architecture: "gemma3", compute: compute)
    }

    static func get() throws -> DecoderModel {
        _ = try RealModel.file("gemma3-270m")   // cancels the test when the file cannot be fetched
        return try loaded.get()
    }

    /// The real weights under a changed configuration (a short window, every layer local).
    static func variant(_ change: (inout Gemma3Configuration) -> Void) throws -> DecoderModel {
        _ = try RealModel.file("gemma3-270m")
        let file = try file.get()
        var config = try Gemma3Configuration(gguf: file)
        change(&config)
        return try Gemma3.load(config: config, store: file, compute: compute)
    }

    /// Through the facade: the file's own SentencePiece tokenizer (BOS added, as its metadata says).
    static let facade: Result<LoadedModel, any Error> = Result {
        try LoadedModel(path: try RealModel.file("gemma3-270m"), threads: 2, precision: .environmentDefault)
    }

    /// Perplexity of the Apache license at context 512 within 1% of llama.cpp's: the text tokenized by
    /// Lantern's SentencePiece tokenizer (same token count as llama.cpp), the first token of every window
    /// replaced by BOS, as llama.cpp's perplexity tool does for a model that adds BOS.
    @Test func perplexityMatchesLlamaCpp() throws {
        _ = try RealModel.file("gemma3-270m")
        let loaded = try Self.facade.get()
        let reference = try PerplexityReference.load("gemma3-270m")
        #expect(reference.add_bos && loaded.tokenizer.addsBOS)
        let text = try String(contentsOfFile: referencePath("text/apache-2.0.txt"), encoding: .utf8)
        let ids = loaded.tokenizer.encode(text, parseSpecial: false, addBOS: reference.add_bos)
        #expect(ids.count == reference.n_tokens)
        let result = try Perplexity.evaluate(try loaded.model, tokens: ids, context: reference.context,
                                             bos: loaded.tokenizer.bosTokenID)
        print("gemma3-270m perplexity \(result.perplexity) ± \(result.perplexity * result.standardError) (llama.cpp \(reference.ppl))")
        #expect(result.windows == reference.chunks && result.scored == reference.scored)
        #expect(abs(result.perplexity / reference.ppl - 1) <= 0.01, "perplexity \(result.perplexity) vs llama.cpp \(reference.ppl)")
    }

    static func texts() throws -> [[Int]] { try GreedyReference.all("gemma3-270m").map { $0.prompt_ids + $0.greedy_ids } }

    /// The file's hyper-parameters as llama.cpp reads them: layers 5, 11 and 17 global (RoPE base 1e6),
    /// the rest local with a 512-key window (RoPE base 1e4), scale 256^-1/2.
    @Test func configurationFollowsLlamaCpp() throws {
        _ = try RealModel.file("gemma3-270m")
        let c = try Gemma3Configuration(gguf: try Self.file.get())
        #expect(c.layers == 18 && c.hiddenSize == 640 && c.heads == 4 && c.kvHeads == 1 && c.headDim == 256)
        #expect(c.slidingWindow == 512)
        #expect(c.isLocal.indices.filter { !c.isLocal[$0] } == [5, 11, 17])
        #expect(c.ropeBase == 1_000_000 && c.localRopeBase == 10_000 && c.ropeScale == 1)
        #expect(c.attentionScale == 0.0625)
        let model = try Self.get()
        #expect(model.stack.blocks.map { $0.attention.window } == c.isLocal.map { $0 ? 512 : nil })
        #expect(model.stack.embeddings.scale == Float(640).squareRoot())
    }

    /// Per case, mean KL(float || Lantern) at most llama.cpp's and top-1 agreement >= 0.9.
    @Test func teacherForcedLogitsMatchTheFloatReference() throws {
        try DecoderChecks.teacherForced(try Self.get(), reference: "gemma3-270m")
    }

    @Test func stepwiseDecodeEqualsOnePass() throws {
        let tokens = try Self.texts()[1]
        try DecoderChecks.stepwiseDecodeEqualsOnePass(try Self.get(), tokens: Array(tokens.prefix(30)), prefill: 14, tolerance: 0.05)
    }

    /// With an 8-key window the sequences run well past it, so the paged kernel's window start moves
    /// across block boundaries, in a prefill, after a cached prefix and in a decode step.
    @Test func stepwiseDecodePastAShortWindowEqualsOnePass() throws {
        let model = try Self.variant { $0.slidingWindow = 8 }
        let tokens = try Self.texts()[2]
        try DecoderChecks.stepwiseDecodeEqualsOnePass(model, tokens: Array(tokens.prefix(40)), prefill: 11, tolerance: 0.05)
    }

    @Test func mixedBatchEqualsEachSequenceAlone() throws {
        try DecoderChecks.mixedBatchEqualsAlone(try Self.get(), texts: try Self.texts(),
                                                plans: [(0, 0, 23, .all), (1, 17, 1, .last), (2, 6, 9, .all), (3, 0, 1, .last)],
                                                tolerance: 1e-4)
    }

    @Test func mixedBatchPastAShortWindowEqualsEachSequenceAlone() throws {
        let model = try Self.variant { $0.slidingWindow = 8 }
        try DecoderChecks.mixedBatchEqualsAlone(model, texts: try Self.texts(),
                                                plans: [(0, 0, 30, .all), (1, 20, 1, .last), (2, 9, 14, .all), (3, 0, 1, .last)],
                                                tolerance: 1e-4)
    }

    /// A one-key window on every layer leaves each position attending to itself alone, so every row's
    /// logits must equal those of its token run alone at position 0: any key read from before the
    /// window would change them.
    @Test func oneKeyWindowSeesOnlyItself() throws {
        let model = try Self.variant { c in
            c.slidingWindow = 1
            c.isLocal = Array(repeating: true, count: c.layers)
        }
        let tokens = Array(try Self.texts()[0].prefix(20))
        let all = try model.forward(tokens, cache: try model.makeCache(capacity: tokens.count), rows: .all)
        let V = model.vocabularySize
        var worst: Float = 0
        for (t, token) in tokens.enumerated() {
            let alone = try model.forward([token], cache: try model.makeCache(capacity: 1), rows: .last)
            for i in 0..<V { worst = max(worst, abs(all[t * V + i] - alone[i])) }
        }
        #expect(worst <= 1e-3, "max |windowed row - token alone| = \(worst)")
    }
}
