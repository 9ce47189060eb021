import Foundation
import Testing
import LanternGeneration
import LanternModels
@testable import Lantern

/// Qwen2.5-Coder-0.5B-Instruct Q4_K_M (GGUF `qwen2`) against llama.cpp and the float32 transformers
/// reference (Tests/Fixtures/reference/README.md).
@Suite(.serialized) struct Qwen2Tests {
    static let loaded: Result<LoadedModel, any Error> = Result {
        try LoadedModel(path: try RealModel.file("qwen2.5-0.5b"), threads: 2, precision: .environmentDefault)
    }

    static func get() throws -> LoadedModel {
        _ = try RealModel.file("qwen2.5-0.5b")   // cancels the test when the file cannot be fetched
        return try loaded.get()
    }

    @Test func loadsAsQwen2() throws {
        let loaded = try Self.get()
        #expect(loaded.architecture == "qwen2")
        let model = try #require(loaded.network.causal as? DecoderModel)
        #expect(model.stack.layers == 24 && model.hiddenSize == 896 && model.vocabularySize == 151_936)
        let attention = model.stack.blocks[0].attention
        #expect(attention.heads == 14 && attention.kvHeads == 2 && attention.headDim == 64)
        #expect(attention.q.bias?.count == 896 && attention.k.bias?.count == 128 && attention.v.bias?.count == 128)
        #expect(model.stack.ropes.first?.pairing == .halves)
    }

    /// Per case, mean KL(float || Lantern) at most llama.cpp's and top-1 agreement >= 0.9.
    @Test func teacherForcedLogitsMatchTheFloatReference() throws {
        try DecoderChecks.teacherForced(try Self.get().model, reference: "qwen2.5-0.5b")
    }

    /// Perplexity of the Apache license at context 512 within 1% of llama.cpp's, same tokens.
    @Test func perplexityMatchesLlamaCpp() throws {
        let loaded = try Self.get()
        let reference = try PerplexityReference.load("qwen2.5-0.5b")
        let text = try String(contentsOfFile: referencePath("text/apache-2.0.txt"), encoding: .utf8)
        let ids = loaded.tokenizer.encode(text, parseSpecial: false, addBOS: reference.add_bos)
        #expect(ids.count == reference.n_tokens)
        let result = try Perplexity.evaluate(try loaded.model, tokens: ids, context: reference.context,
                                             bos: reference.add_bos ? loaded.tokenizer.bosTokenID : nil)
        print("qwen2.5-0.5b perplexity \(result.perplexity) ± \(result.perplexity * result.standardError) (llama.cpp \(reference.ppl))")
        #expect(result.windows == reference.chunks && result.scored == reference.scored)
        #expect(abs(result.perplexity / reference.ppl - 1) <= 0.01, "perplexity \(result.perplexity) vs llama.cpp \(reference.ppl)")
    }

    @Test func stepwiseDecodeEqualsOnePass() throws {
        let ref = try GreedyReference.all("qwen2.5-0.5b")[2]
        try DecoderChecks.stepwiseDecodeEqualsOnePass(try Self.get().model, tokens: ref.prompt_ids + ref.greedy_ids.prefix(12),
                                                      prefill: ref.prompt_ids.count, tolerance: 0.05)
    }

    @Test func mixedBatchEqualsEachSequenceAlone() throws {
        let refs = try GreedyReference.all("qwen2.5-0.5b")
        try DecoderChecks.mixedBatchEqualsAlone(try Self.get().model, texts: refs.map { $0.prompt_ids + $0.greedy_ids },
                                                plans: [(0, 0, 23, .all), (1, 17, 1, .last), (2, 6, 9, .all), (3, 0, 1, .last)],
                                                tolerance: 1e-4)
    }

    /// The GGUF's Jinja template renders the chat cases (adding Qwen's default system message when there
    /// is none) to exactly llama.cpp's prompt ids.
    @Test func chatTemplateRendersTheReferencePrompts() throws {
        let loaded = try Self.get()
        let refs = try GreedyReference.all("qwen2.5-0.5b")
        let chats: [(Int, [(role: String, content: String)])] = [
            (3, [("user", "Write a Python function that checks whether a number is prime.")]),
            (4, [("system", "You are a concise assistant."), ("user", "Explain what a hash table is and when to use one.")]),
        ]
        for (index, messages) in chats {
            let text = try loaded.renderChat(messages, addGenerationPrompt: true)
            #expect(text == refs[index].prompt)
            #expect(loaded.tokenizer.encode(text, parseSpecial: true, addBOS: false) == refs[index].prompt_ids)
        }
        #expect(loaded.tokenizer.endOfGenerationIDs.contains(151_645))   // <|im_end|>
    }

    /// `ChatSession` (what `lantern chat` drives): greedy, the reply's first tokens are llama.cpp's, and a
    /// short answer ends at <|im_end|> without printing it.
    @Test func chatSessionUsesTheTemplateAndStopsAtEndOfTurn() async throws {
        let loaded = try Self.get()
        let model = try LanternModel(loaded: loaded, options: LoadOptions(threads: 2, precision: .environmentDefault, contextLength: 256))
        defer { model.engine.shutdown() }
        let ref = try GreedyReference.all("qwen2.5-0.5b")[3]
        var ids: [Int] = []
        for try await event in try model.chat().send("Write a Python function that checks whether a number is prime.",
                                                    parameters: GenerateParameters(maxTokens: 8, sampling: .greedy)) {
            if case let .token(t) = event { ids.append(t.id) }
        }
        #expect(ids == Array(ref.greedy_ids.prefix(8)))

        var reply = "", finish: FinishReason?
        let chat = model.chat(system: "Answer with one word.")
        for try await event in try chat.send("What colour is the sky on a clear day?", parameters: GenerateParameters(maxTokens: 24, sampling: .greedy)) {
            switch event {
            case let .token(t): reply += t.text
            case let .finished(s): reply += s.trailingText; finish = s.finishReason
            }
        }
        print("qwen chat reply: \(reply.debugDescription)")
        #expect(finish == .stop)
        #expect(!reply.isEmpty && !reply.contains("<|im_end|>"))
    }
}
