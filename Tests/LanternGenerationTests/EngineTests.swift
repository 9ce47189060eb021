import Foundation
import Testing
import LanternFormats
@testable import LanternGeneration
@testable import LanternModels

/// The batching engine on the tiny fixture models: batched greedy output equals running alone,
/// cancellation frees blocks, a continued prompt reuses the cached prefix, bad requests are typed errors.
@Suite struct EngineTests {
    let greedy = GenerateParameters(maxTokens: 12, sampling: SamplingParameters(temperature: 0))

    func collect(_ stream: AsyncThrowingStream<GenerationEvent, any Error>) async throws -> ([Int], GenerationSummary?) {
        var ids: [Int] = [], summary: GenerationSummary?
        for try await e in stream {
            switch e {
            case let .token(t): ids.append(t.id)
            case let .finished(s): summary = s
            }
        }
        return (ids, summary)
    }

    @Test(arguments: ["gpt2", "llama", "bloom"]) func greedyAloneEqualsGreedyAmongSevenOthers(_ name: String) async throws {
        let model = try #require(try loadNetwork(name).causal)
        let ids = try SafetensorsFile(path: fixture(name + "/expected.safetensors")).ints("input_ids")
        let tok = IDTokenizer(vocabularySize: model.vocabularySize)
        let alone = try Engine(model: model, tokenizer: tok, options: EngineOptions(maxSequences: 1, contextLength: 64))
        let (reference, _) = try await collect(try alone.generate(GenerationRequest(prompt: ids, parameters: greedy)))
        alone.shutdown()
        #expect(reference.count == 12)
        // Seven other prompts of different lengths decode in the same steps (sampled, so they differ).
        let shared = try Engine(model: model, tokenizer: tok, options: EngineOptions(maxSequences: 8, contextLength: 64, tokenBudget: 16))
        var others: [AsyncThrowingStream<GenerationEvent, any Error>] = []
        for k in 1...7 {
            let p = GenerateParameters(maxTokens: 5 + 2 * k, sampling: SamplingParameters(temperature: 0.9, seed: UInt64(k)))
            others.append(try shared.generate(GenerationRequest(prompt: Array(ids[..<(k + 3)]).reversed(), parameters: p)))
        }
        let mine = try shared.generate(GenerationRequest(prompt: ids, parameters: greedy))
        let (batched, summary) = try await collect(mine)
        for o in others { _ = try await collect(o) }
        #expect(batched == reference)
        #expect(summary?.finishReason == .length && summary?.completionTokens == 12)
        #expect(shared.stats.steps > 0)
        shared.shutdown()
    }

    @Test func aContinuedPromptReusesTheCachedPrefix() async throws {
        let model = try #require(try loadNetwork("llama").causal)
        let ids = try SafetensorsFile(path: fixture("llama/expected.safetensors")).ints("input_ids")
        let engine = try Engine(model: model, tokenizer: IDTokenizer(vocabularySize: 512), options: EngineOptions(maxSequences: 2, contextLength: 64))
        let (first, s1) = try await collect(try engine.generate(GenerationRequest(prompt: ids, parameters: greedy)))
        #expect(s1?.cachedTokens == 0)
        // The next turn: the previous prompt, the reply, and more.
        let next = ids + first + [5, 6, 7]
        let (_, s2) = try await collect(try engine.generate(GenerationRequest(prompt: next, parameters: greedy)))
        // Everything but the last reply token (sampled, never fed) was cached.
        #expect(s2?.cachedTokens == ids.count + first.count - 1)
        // And the reused cache gives the same tokens as a fresh engine.
        let fresh = try Engine(model: model, tokenizer: IDTokenizer(vocabularySize: 512), options: EngineOptions(maxSequences: 1, contextLength: 64))
        let (a, _) = try await collect(try fresh.generate(GenerationRequest(prompt: next, parameters: greedy)))
        let (b, _) = try await collect(try engine.generate(GenerationRequest(prompt: next, parameters: greedy)))
        #expect(a == b)
        engine.shutdown(); fresh.shutdown()
    }

    @Test func encoderDecoderThroughTheEngine() async throws {
        guard case let .encoderDecoder(model) = try loadNetwork("t5") else { Issue.record("t5"); return }
        let e = try SafetensorsFile(path: fixture("t5/expected.safetensors"))
        let engine = try Engine(model: model, tokenizer: IDTokenizer(vocabularySize: model.vocabularySize),
                                options: EngineOptions(maxSequences: 2, contextLength: 32))
        let (ids, summary) = try await collect(try engine.generate(GenerationRequest(
            prompt: [model.decoderStartTokenID], parameters: GenerateParameters(maxTokens: 20, sampling: .greedy),
            endOfGeneration: Set(model.eosTokenIDs), encoderInput: try e.ints("generation_input_ids"))))
        #expect([model.decoderStartTokenID] + ids == (try e.ints("generated_ids")))
        #expect(summary?.finishReason == .stop)
        engine.shutdown()
    }

    @Test func logprobsAreALogSoftmax() async throws {
        let model = try #require(try loadNetwork("gpt2").causal)
        let engine = try Engine(model: model, tokenizer: IDTokenizer(vocabularySize: 512), options: EngineOptions(maxSequences: 1, contextLength: 64))
        var tokens: [GeneratedToken] = []
        for try await e in try engine.generate(GenerationRequest(prompt: [1, 2, 3], parameters: greedy, topLogprobs: 3)) {
            if case let .token(t) = e { tokens.append(t) }
        }
        for t in tokens {
            #expect(t.top.count == 3)
            #expect(t.top[0].id == t.id && abs((t.logprob ?? 1) - t.top[0].logprob) < 1e-6)   // greedy picks the top
            #expect(t.top[0].logprob >= t.top[1].logprob && t.top[1].logprob >= t.top[2].logprob && t.top[0].logprob <= 0)
        }
        engine.shutdown()
    }

    /// maxTokens larger than the room left (Int.max is the server's "no limit") ends when the cache is
    /// full, with finish reason length, never a crash or a hang: every fed position fits the context, and
    /// the last token, sampled but never fed, needs none (so completion = context - prompt + 1; the server
    /// caps max_tokens at context - prompt itself). The engine serves the next request as usual.
    @Test func theContextCapsMaxTokens() async throws {
        let model = try #require(try loadNetwork("gpt2").causal)
        let engine = try Engine(model: model, tokenizer: IDTokenizer(vocabularySize: 512), options: EngineOptions(maxSequences: 1, contextLength: 16))
        defer { engine.shutdown() }
        let unlimited = GenerateParameters(maxTokens: .max, sampling: SamplingParameters(temperature: 0))
        for promptLength in [10, 15, 16] {
            let request = GenerationRequest(prompt: Array(1...promptLength), parameters: unlimited, endOfGeneration: [])
            let (ids, summary) = try await collect(try engine.generate(request))
            #expect(summary?.finishReason == .length, "prompt \(promptLength)")
            #expect(ids.count == 16 - promptLength + 1, "prompt \(promptLength)")
            #expect(summary?.completionTokens == 16 - promptLength + 1, "prompt \(promptLength)")
        }
        let (ids, summary) = try await collect(try engine.generate(GenerationRequest(prompt: [1, 2, 3], parameters: greedy, endOfGeneration: [])))
        #expect(ids.count == 12 && summary?.finishReason == .length)
        #expect(engine.stats.running == 0 && engine.stats.waiting == 0)
    }

    @Test func badRequestsAreTypedErrors() throws {
        let model = try #require(try loadNetwork("gpt2").causal)
        let engine = try Engine(model: model, tokenizer: IDTokenizer(vocabularySize: 512), options: EngineOptions(maxSequences: 1, contextLength: 16, maxWaiting: 0))
        #expect(throws: EngineError.emptyPrompt) { try engine.generate(GenerationRequest(prompt: [])) }
        #expect(throws: EngineError.promptTooLong(tokens: 17, contextLength: 16)) {
            try engine.generate(GenerationRequest(prompt: Array(repeating: 1, count: 17)))
        }
        #expect(throws: EngineError.self) { try engine.generate(GenerationRequest(prompt: [600])) }
        #expect(throws: EngineError.self) {
            try engine.generate(GenerationRequest(prompt: [1], parameters: GenerateParameters(sampling: SamplingParameters(temperature: -1))))
        }
        engine.shutdown()
    }
}

final class Counter: @unchecked Sendable {
    private let lock = NSLock()
    private var n = 0
    func add() { lock.lock(); n += 1; lock.unlock() }
    var value: Int { lock.lock(); defer { lock.unlock() }; return n }
}
