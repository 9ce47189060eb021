import Foundation
import LanternFormats
import Testing
@testable import LanternGeneration

// MARK: - Fixture (transformers' logits warpers, see Tests/Fixtures/sampling/case.json)

/// The parts of case.json the tests read.
private struct SamplingCase: Decodable {
    struct Params: Decodable {
        let temperature: Float
        let top_k: Int
        let top_p: Float
        let min_p: Float
        let min_tokens_to_keep: Int
    }
    struct Check: Decodable {
        let name: String
        let expected: String
        let compare: String
        let atol: Float?
        let rtol: Float?
    }
    let params: Params
    let kept_ids: [String: [[Int]]]
    let checks: [Check]
}

private struct Fixture {
    let spec: SamplingCase
    let file: SafetensorsFile
    let rows: Int
    let vocab: Int

    static func load() throws -> Fixture {
        var dir = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
        while dir.path != "/" && !FileManager.default.fileExists(atPath: dir.appendingPathComponent("Fixtures").path) {
            dir.deleteLastPathComponent()
        }
        let folder = dir.appendingPathComponent("Fixtures/sampling")
        let spec = try JSONDecoder().decode(SamplingCase.self, from: Data(contentsOf: folder.appendingPathComponent("case.json")))
        let file = try SafetensorsFile(path: folder.appendingPathComponent("expected.safetensors").path)
        let shape = try file.shape("logits")  // [rows, vocab]
        return Fixture(spec: spec, file: file, rows: shape[0], vocab: shape[1])
    }

    func logits(row: Int) throws -> [Float] {
        Array(try file.floats("logits")[(row * vocab)..<((row + 1) * vocab)])
    }

    /// Runs `processors` over one row and returns (kept ids ascending, dense softmax over the kept set).
    func run(_ processors: [any LogitProcessor], row: Int) throws -> (kept: [Int], probs: [Float]) {
        var c = Candidates(logits: try logits(row: row))
        var processors = processors
        for i in processors.indices { processors[i].process(&c, history: []) }
        c.softmax()
        var dense = [Float](repeating: 0, count: vocab)
        for t in c.tokens { dense[Int(t.id)] = t.prob }
        return (c.ids.map(Int.init).sorted(), dense)
    }

    func check(named name: String) -> SamplingCase.Check? { spec.checks.first { $0.name == name } }
}

/// Elementwise |a - e| <= atol + rtol * |e| (case.json's tolerance rule).
private func allClose(_ actual: [Float], _ expected: [Float], atol: Float, rtol: Float) -> Bool {
    guard actual.count == expected.count else { return false }
    return zip(actual, expected).allSatisfy { abs($0 - $1) <= atol + rtol * abs($1) }
}

@Suite("Sampling fixture (transformers warpers)")
struct SamplingFixtureTests {
    /// Each kind of processor list, keyed by the fixture's names.
    private func processors(_ kind: String, _ p: SamplingCase.Params) -> [any LogitProcessor] {
        let keep = p.min_tokens_to_keep
        switch kind {
        case "softmax": return []
        case "temperature": return [Temperature(p.temperature)]
        case "topk": return [TopK(p.top_k, minKeep: keep)]
        case "topp": return [Temperature(p.temperature), TopP(p.top_p, minKeep: keep)]
        case "minp": return [MinP(p.min_p, minKeep: keep)]
        // transformers' GenerationMixin order, built from the same parts as llama.cpp's chain.
        case "chain": return [Temperature(p.temperature), TopK(p.top_k, minKeep: keep), TopP(p.top_p, minKeep: keep), MinP(p.min_p, minKeep: keep)]
        default: return []
        }
    }

    @Test("kept sets match the fixture", arguments: ["topk", "topp", "minp", "chain"])
    func keptSets(kind: String) throws {
        let f = try Fixture.load()
        let expectedSets = try #require(f.spec.kept_ids[kind])
        let mask = try f.file.ints("\(kind)_kept_mask")  // [rows, vocab]
        #expect(f.check(named: "\(kind)_kept")?.compare == "exact")
        for row in 0..<f.rows {
            let (kept, _) = try f.run(processors(kind, f.spec.params), row: row)
            #expect(kept == expectedSets[row], "row \(row)")
            let fromMask = (0..<f.vocab).filter { mask[row * f.vocab + $0] != 0 }
            #expect(kept == fromMask, "row \(row) vs mask")
        }
    }

    @Test("probability vectors match the fixture", arguments: ["softmax", "temperature", "topk", "topp", "minp", "chain"])
    func probabilities(kind: String) throws {
        let f = try Fixture.load()
        let name = kind == "softmax" || kind == "temperature" ? "probs_\(kind)" : "\(kind)_probs"
        let check = try #require(f.check(named: name))
        let expected = try f.file.floats(check.expected)  // [rows, vocab]
        let atol = try #require(check.atol), rtol = try #require(check.rtol)
        for row in 0..<f.rows {
            let (_, probs) = try f.run(processors(kind, f.spec.params), row: row)
            let want = Array(expected[(row * f.vocab)..<((row + 1) * f.vocab)])
            #expect(allClose(probs, want, atol: atol, rtol: rtol), "\(name) row \(row)")
        }
    }

    /// llama.cpp's order (top-k, top-p, min-p, then temperature) differs from the fixture's, so it is
    /// not compared to it; but top-k's kept set does not depend on where temperature goes.
    @Test func topKIgnoresTemperaturePlacement() throws {
        let f = try Fixture.load()
        for row in 0..<f.rows {
            let a = try f.run([TopK(5), Temperature(0.7)], row: row).kept
            let b = try f.run([Temperature(0.7), TopK(5)], row: row).kept
            #expect(a == b)
        }
    }
}

// MARK: - RNG

@Suite struct SeededGeneratorTests {
    /// xoshiro256** and splitmix64 are fully specified, so pin the first outputs (computed by an
    /// independent Python transcription of the reference C code): a change here breaks every replay.
    @Test func pinnedOutputs() {
        var g = SeededGenerator(seed: 0)
        #expect((0..<3).map { _ in g.next() } == [0x99EC_5F36_CB75_F2B4, 0xBF6E_1F78_4956_452A, 0x1A5F_849D_4933_E6E0])
        var h = SeededGenerator(seed: 42)
        #expect((0..<3).map { _ in h.next() } == [0x1578_0B2E_0C2E_C716, 0x6104_D986_6D11_3A7E, 0xAE17_5332_39E4_99A1])
        var d = SeededGenerator(seed: 0)
        #expect(d.nextDouble() == Double(UInt64(0x99EC_5F36_CB75_F2B4) >> 11) * 0x1.0p-53)
        #expect(d.nextFloat() == Float(UInt64(0xBF6E_1F78_4956_452A) >> 40) * 0x1.0p-24)
    }

    @Test func uniformRanges() {
        var g = SeededGenerator(seed: 42)
        var sumD = 0.0
        for _ in 0..<100_000 {
            let d = g.nextDouble()
            let f = g.nextFloat()
            #expect(d >= 0 && d < 1)
            #expect(f >= 0 && f < 1)
            sumD += d
        }
        #expect(abs(sumD / 100_000 - 0.5) < 0.01)
    }
}

// MARK: - Chain behaviour

/// Deterministic pseudo-logits for a synthetic step.
private func syntheticLogits(step: Int, vocab: Int = 100) -> [Float] {
    (0..<vocab).map { i in Float(((i * 37 + step * 11) % 97)) / 20 - 2 }
}

@Suite struct SamplerChainTests {
    private func run(_ chain: inout SamplerChain, steps: Int) -> [Int] {
        var history: [Int] = []
        for step in 0..<steps {
            history.append(chain.sample(logits: syntheticLogits(step: step), history: history))
        }
        return history
    }

    @Test func sameSeedSameTokens() throws {
        let params = SamplingParameters(temperature: 1.2, topK: 0, topP: 1, minP: 0, repeatPenalty: 1.1, seed: 1234)
        var a = try SamplerChain(params)
        var b = try SamplerChain(params)
        let ta = run(&a, steps: 500)
        #expect(ta == run(&b, steps: 500))
        #expect(Set(ta).count > 10, "a high-temperature chain should not be stuck on one token")
    }

    @Test func differentSeedsDiffer() throws {
        var a = try SamplerChain(SamplingParameters(temperature: 1.5, topK: 0, topP: 1, minP: 0, seed: 1))
        var b = try SamplerChain(SamplingParameters(temperature: 1.5, topK: 0, topP: 1, minP: 0, seed: 2))
        #expect(run(&a, steps: 200) != run(&b, steps: 200))
    }

    @Test func randomSeedIsRecorded() throws {
        let chain = try SamplerChain(SamplingParameters())
        #expect(chain.seed != nil)
    }

    @Test func greedyIsArgmaxWithLowestIDOnTies() throws {
        var chain = try SamplerChain(.greedy)
        for step in 0..<20 {
            let logits = syntheticLogits(step: step)
            let maxValue = try #require(logits.max())
            let expected = try #require(logits.firstIndex(of: maxValue))
            #expect(chain.sample(logits: logits, history: []) == expected)
        }
        #expect(chain.sample(logits: [1, 3, 3, 2], history: []) == 1)
        var g = Greedy()
        var c = Candidates(logits: [0.5, 2, 2, -1])
        #expect(g.select(&c) == 1)
    }

    /// Plain greedy reads the logits directly; it picks what `Greedy` over the working set picks,
    /// NaN and -infinity included (NaN counts as -infinity; all unusable: id 0; ties: lowest id).
    @Test func plainGreedyMatchesGreedyOverCandidates() throws {
        var fast = try SamplerChain(.greedy)
        var slow = SamplerChain(processors: [LogitBias([:])], selector: Greedy())
        var rng = SystemRandomNumberGenerator()
        let cases: [[Float]] = [[.nan, 1, 1], [-.infinity, -.infinity], [.nan, .nan], [.nan, -.infinity, -3], [2, .infinity, .infinity]]
            + (0..<50).map { _ in (0..<40).map { _ in [Float.nan, -.infinity, 1, 2][Int.random(in: 0..<4, using: &rng)] } }
        for logits in cases {
            #expect(fast.sample(logits: logits, history: []) == slow.sample(logits: logits, history: []), "\(logits)")
        }
    }

    @Test func temperatureZeroSkipsTruncationButKeepsPenalties() throws {
        // Token 0 wins on raw logits; a repeat penalty of 2 over the history [0] halves it below token 1.
        var chain = try SamplerChain(SamplingParameters(temperature: 0, topK: 1, repeatPenalty: 2))
        #expect(chain.processors.count == 1)
        #expect(chain.sample(logits: [3, 2, 1], history: []) == 0)
        #expect(chain.sample(logits: [3, 2, 1], history: [0]) == 1)
    }

    @Test func defaultOrderIsLlamaCpp() throws {
        let chain = try SamplerChain(SamplingParameters(repeatPenalty: 1.1, presencePenalty: 0.5, frequencyPenalty: 0.2))
        let names = chain.processors.map { String(describing: type(of: $0)) }
        #expect(names == ["RepetitionPenalty", "FrequencyPenalty", "PresencePenalty", "TopK", "TopP", "MinP", "Temperature"])
        #expect(chain.selector is Distribution)
    }

    @Test func drawFrequenciesFollowProbabilities() throws {
        let logits: [Float] = [log(0.5), log(0.3), log(0.15), log(0.05)]
        var chain = SamplerChain(processors: [], selector: Distribution(seed: 7))
        var counts = [Int](repeating: 0, count: 4)
        let n = 20_000
        for _ in 0..<n { counts[chain.sample(logits: logits, history: [])] += 1 }
        for (i, p) in [0.5, 0.3, 0.15, 0.05].enumerated() {
            let observed = Double(counts[i]) / Double(n)
            // 4 sigma of a binomial proportion at n = 20000 is at most 0.0142.
            #expect(abs(observed - p) < 0.015, "token \(i): \(observed) vs \(p)")
        }
    }

    @Test func invalidParametersThrow() {
        let bad: [(SamplingParameters, String)] = [
            (SamplingParameters(temperature: -0.1), "temperature"),
            (SamplingParameters(temperature: .nan), "temperature"),
            (SamplingParameters(topK: -1), "topK"),
            (SamplingParameters(topP: 0), "topP"),
            (SamplingParameters(topP: 1.5), "topP"),
            (SamplingParameters(minP: -0.01), "minP"),
            (SamplingParameters(minP: 1.01), "minP"),
            (SamplingParameters(repeatPenalty: 0), "repeatPenalty"),
            (SamplingParameters(repeatLastN: -2), "repeatLastN"),
            (SamplingParameters(presencePenalty: .infinity), "presencePenalty"),
            (SamplingParameters(frequencyPenalty: .nan), "frequencyPenalty"),
        ]
        for (params, name) in bad {
            do {
                _ = try SamplerChain(params)
                Issue.record("\(name) accepted")
            } catch {
                guard case let .invalidParameter(got, _, _) = error else { continue }
                #expect(got == name)
                #expect(error.description.contains(name))
            }
        }
    }

    @Test func parametersDecodeWithDefaultsAndValidate() throws {
        let json = #"{"temperature": 0.5, "top_k": 10, "seed": 99}"#
        let p = try JSONDecoder().decode(SamplingParameters.self, from: Data(json.utf8))
        #expect(p == SamplingParameters(temperature: 0.5, topK: 10, seed: 99))
        #expect(throws: SamplingError.self) {
            try JSONDecoder().decode(SamplingParameters.self, from: Data(#"{"top_p": 2}"#.utf8))
        }
        let d = SamplingParameters()
        #expect(d.temperature == 0.8 && d.topK == 40 && d.topP == 0.95 && d.minP == 0.05)
        #expect(d.repeatPenalty == 1 && d.repeatLastN == 64 && d.presencePenalty == 0 && d.frequencyPenalty == 0 && d.seed == nil)
        let round = try JSONDecoder().decode(SamplingParameters.self, from: JSONEncoder().encode(p))
        #expect(round == p)
    }

    @Test func bufferIsReusedAcrossSteps() throws {
        var chain = try SamplerChain(SamplingParameters(topK: 0, topP: 1, minP: 0, seed: 3))
        _ = chain.sample(logits: syntheticLogits(step: 0), history: [])
        let capacity = chain.candidates.tokens.capacity
        for step in 1..<10 { _ = chain.sample(logits: syntheticLogits(step: step), history: []) }
        #expect(chain.candidates.tokens.capacity == capacity)
    }
}

// MARK: - Processors on hand-computed examples

@Suite struct ProcessorTests {
    private func apply(_ p: some LogitProcessor, _ logits: [Float], history: [Int] = []) -> [Float] {
        var p = p
        var c = Candidates(logits: logits)
        p.process(&c, history: history[...])
        return c.logits
    }

    @Test func repetitionPenaltyDividesPositiveMultipliesNegative() {
        // history window of 3: [1, 2, 2] (the leading 0 falls outside); each distinct token once.
        let out = apply(RepetitionPenalty(penalty: 2, lastN: 3), [4, 4, -1, 4], history: [0, 1, 2, 2])
        #expect(out == [4, 2, -2, 4])
        #expect(apply(RepetitionPenalty(penalty: 2, lastN: 0), [4, 4], history: [0, 1]) == [4, 4])
        #expect(apply(RepetitionPenalty(penalty: 2, lastN: -1), [4, 4], history: [0, 1]) == [2, 2])
    }

    @Test func presenceAndFrequencyPenalties() {
        let history = [1, 1, 1, 2]
        #expect(apply(PresencePenalty(penalty: 0.5), [1, 1, 1, 1], history: history) == [1, 0.5, 0.5, 1])
        #expect(apply(FrequencyPenalty(penalty: 0.25), [1, 1, 1, 1], history: history) == [1, 0.25, 0.75, 1])
        // Out-of-vocabulary history ids are ignored, not a crash.
        #expect(apply(PresencePenalty(penalty: 1), [1, 1], history: [7, -3, Int.max]) == [1, 1])
    }

    @Test func penaltiesCombineLikeLlamaCpp() throws {
        // logit 2 for token 0 seen twice: 2 / 2 (repeat) - 2 * 0.25 (freq) - 0.5 (presence) = 0.
        var chain = SamplerChain(processors: [
            RepetitionPenalty(penalty: 2), FrequencyPenalty(penalty: 0.25), PresencePenalty(penalty: 0.5),
        ], selector: Greedy())
        _ = chain.sample(logits: [2, 0.1], history: [0, 0])
        #expect(chain.candidates.logits == [0, 0.1])
    }

    @Test func topKKeepsTiesAndSorts() {
        var c = Candidates(logits: [1, 5, 3, 3, 0, 3])
        var k = TopK(2)
        k.process(&c, history: [])
        #expect(c.ids == [1, 2, 3, 5])
        #expect(c.isSorted)
        var disabled = TopK(0)
        var d = Candidates(logits: [1, 2])
        disabled.process(&d, history: [])
        #expect(d.count == 2)
    }

    @Test func topKSelectionMatchesFullSortOnLargeVocabulary() {
        var g = SeededGenerator(seed: 5)
        let logits = (0..<5000).map { _ in Float(Int(g.next() % 200)) / 10 }  // many ties
        for k in [1, 7, 40, 1000] {
            var c = Candidates(logits: logits)
            var p = TopK(k)
            p.process(&c, history: [])
            let order = logits.indices.sorted { logits[$0] > logits[$1] || (logits[$0] == logits[$1] && $0 < $1) }
            let kth = logits[order[k - 1]]
            let expected = order.filter { logits[$0] >= kth }.map(Int32.init)
            #expect(c.ids == expected, "k = \(k)")
        }
    }

    @Test func topPBoundaryAndMinimum() {
        // probabilities 0.5, 0.3, 0.2: p = 0.8 keeps two (0.5 + 0.3 reaches 0.8), p = 0.5 keeps one.
        let logits: [Float] = [log(0.5), log(0.3), log(0.2)]
        var c = Candidates(logits: logits)
        var p = TopP(0.79)
        p.process(&c, history: [])
        #expect(c.ids == [0, 1])
        c = Candidates(logits: logits)
        p = TopP(0.4)
        p.process(&c, history: [])
        #expect(c.ids == [0])
        c = Candidates(logits: logits)
        p = TopP(0.4, minKeep: 2)
        p.process(&c, history: [])
        #expect(c.ids == [0, 1])
    }

    @Test func minPRelativeToTop() {
        // probs 0.1, 0.6, 0.3 (ids 0, 1, 2): min_p 0.4 -> threshold 0.24 keeps ids 1 and 2.
        var c = Candidates(logits: [log(0.1), log(0.6), log(0.3)])
        var m = MinP(0.4)
        m.process(&c, history: [])
        #expect(c.ids == [1, 2])
        c = Candidates(logits: [log(0.1), log(0.6), log(0.3)])
        m = MinP(0.9, minKeep: 2)
        m.process(&c, history: [])
        #expect(c.ids == [1, 2])
    }

    @Test func temperatureZeroKeepsOnlyTheTopToken() {
        var c = Candidates(logits: [1, 4, 4, 2])
        var t = Temperature(0)
        t.process(&c, history: [])
        #expect(c.ids == [1])
    }

    @Test func nanAndInfinityAreSafe() throws {
        var chain = SamplerChain(processors: [TopP(0.9), MinP(0.1)], selector: Distribution(seed: 1))
        #expect(chain.sample(logits: [.nan, -.infinity, 1], history: []) == 2)
        #expect([0, 1].contains(chain.sample(logits: [-.infinity, -.infinity], history: [])))
    }
}
