import Foundation
import Testing
import LanternFormats
@testable import LanternGeneration
@testable import LanternModels
import LanternTokenizers

/// A tokenizer that knows only ids (the tiny fixture models carry no vocabulary).
struct IDTokenizer: Tokenizer {
    var vocabularySize: Int
    var eos: Int?
    var bosTokenID: Int? { nil }
    var eosTokenID: Int? { eos }
    var endOfGenerationIDs: Set<Int> { eos.map { [$0] } ?? [] }
    var addsBOS: Bool { false }
    func encode(_ text: String, parseSpecial: Bool, addBOS: Bool) -> [Int] { [] }
    func decode(_ ids: [Int], skipSpecial: Bool) -> String { ids.map { "<\($0)>" }.joined() }
    func tokenBytes(_ id: Int) -> [UInt8] { Array("<\(id)>".utf8) }
    func tokenText(_ id: Int) -> String? { "<\(id)>" }
}

func fixture(_ name: String) -> String {
    URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .appendingPathComponent("Fixtures").appendingPathComponent(name).path
}

func loadNetwork(_ name: String) throws -> Network {
    try ModelRegistry.load(folder: ModelFolder(path: fixture(name)), compute: ComputeOptions(threads: 1))
}

/// The generation loop over real (tiny) models: context limits, the session invariant, forced tokens
/// and encoder-decoder generation, against transformers' greedy ids.
@Suite struct GeneratorModelTests {
    let greedy = GenerateParameters(maxTokens: 32, sampling: SamplingParameters(temperature: 0))

    @Test func generationFillsTheWholeContext() throws {
        let model = try #require(try loadNetwork("gpt2").causal)
        let e = try SafetensorsFile(path: fixture("gpt2/expected.safetensors"))
        let prompt = try e.ints("input_ids"), reference = try e.ints("new_token_ids")
        let session = try Session(model: model, contextLength: 16)
        let g = try Generator(session: session, tokenizer: IDTokenizer(vocabularySize: 512), prompt: prompt, parameters: greedy)
        while try g.next() != nil {}
        // 12 prompt positions + 4 fed-back tokens fill 16 positions; the 5th token needs no position.
        #expect(g.generated == Array(reference[..<5]))
        #expect(g.finishReason == .length)
        #expect(session.tokens.count == 16)
    }

    @Test func badContextLengthsAreTypedErrors() throws {
        let model = try #require(try loadNetwork("gpt2").causal)
        for n in [0, -1, Int.max, 129] {
            #expect(throws: ModelError.self) { try Session(model: model, contextLength: n) }
        }
    }

    /// A session reused across prompts that share only a prefix gives the logits of a fresh one.
    @Test func reusedSessionMatchesAFreshOne() throws {
        let model = try #require(try loadNetwork("llama").causal)
        let ids = try SafetensorsFile(path: fixture("llama/expected.safetensors")).ints("input_ids")
        let reused = try Session(model: model, contextLength: 32)
        try reused.prefill(ids)
        try reused.append(7)
        try reused.prefill(Array(ids[..<6]) + [3, 4, 5])
        let fresh = try Session(model: model, contextLength: 32)
        try fresh.prefill(Array(ids[..<6]) + [3, 4, 5])
        #expect(reused.tokens == fresh.tokens)
        #expect(zip(reused.logits, fresh.logits).allSatisfy { abs($0 - $1) <= 1e-5 })
    }

    @Test func forcedFirstAndLastTokens() throws {
        let model = try #require(try loadNetwork("gpt2").causal)
        let prompt = try SafetensorsFile(path: fixture("gpt2/expected.safetensors")).ints("input_ids")
        let g = try Generator(session: try Session(model: model, contextLength: 64), tokenizer: IDTokenizer(vocabularySize: 512),
                              prompt: prompt, parameters: GenerateParameters(maxTokens: 5, sampling: SamplingParameters(temperature: 0)),
                              forcedFirst: 42, forcedLast: 99)
        while try g.next() != nil {}
        #expect(g.generated.count == 5 && g.generated.first == 42 && g.generated.last == 99)
        #expect(throws: GenerationError.self) {
            try Generator(session: try Session(model: model, contextLength: 64), tokenizer: IDTokenizer(vocabularySize: 512),
                          prompt: prompt, parameters: greedy, forcedFirst: 512)
        }
    }

    /// T5, BART and Marian through the same Generator and sampler chain: encode once, start from
    /// decoder_start_token_id, stop at eos; the ids equal transformers' greedy generate().
    @Test(arguments: ["t5", "bart", "marian"]) func encoderDecoderGreedyGeneration(_ name: String) throws {
        guard case let .encoderDecoder(model) = try loadNetwork(name) else { Issue.record("\(name) is not encoder-decoder"); return }
        let e = try SafetensorsFile(path: fixture(name + "/expected.safetensors"))
        let source = try e.ints("generation_input_ids"), want = try e.ints("generated_ids")
        let session = try Session(model: model, contextLength: 32)
        let g = try Generator(session: session, tokenizer: IDTokenizer(vocabularySize: model.vocabularySize), prompt: [model.decoderStartTokenID],
                              parameters: greedy, encoderInput: source, endOfGeneration: Set(model.eosTokenIDs))
        while try g.next() != nil {}
        #expect([model.decoderStartTokenID] + g.generated == want)
        #expect(g.finishReason == .stop)
        // A second request on the same session re-encodes and gives the same ids.
        let again = try Generator(session: session, tokenizer: IDTokenizer(vocabularySize: model.vocabularySize), prompt: [model.decoderStartTokenID],
                                  parameters: greedy, encoderInput: source, endOfGeneration: Set(model.eosTokenIDs))
        while try again.next() != nil {}
        #expect(again.generated == g.generated)
    }
}
