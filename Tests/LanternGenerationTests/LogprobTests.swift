import Foundation
import Testing
@testable import LanternGeneration

@Suite struct LogprobTests {
    @Test func logSoftmaxAndTopAlternatives() {
        let logits: [Float] = [1, 3, 2, .nan, 3]
        let lp = logits.withUnsafeBufferPointer { TokenLogprobs(logits: $0, chosen: 2, top: 3) }
        let z = log(exp(1.0) + 2 * exp(3.0) + exp(2.0))
        #expect(abs(Double(lp.chosen.logprob) - (2 - z)) < 1e-5)
        #expect(lp.top.map(\.id) == [1, 4, 2], "most likely first, ties by lower id")
        #expect(abs(Double(lp.top[0].logprob) - (3 - z)) < 1e-5)
        let nan = logits.withUnsafeBufferPointer { TokenLogprobs(logits: $0, chosen: 3, top: 0) }
        #expect(nan.chosen.logprob == -.infinity)
        #expect(nan.top.isEmpty)
    }

    @Test func logitBiasShiftsAndBans() throws {
        var chain = try SamplerChain(SamplingParameters(temperature: 0, logitBias: [1: -.infinity, 0: 5]))
        #expect(chain.sample(logits: [1, 3, 2], history: []) == 0)
        var banned = try SamplerChain(SamplingParameters(temperature: 0, logitBias: [1: -.infinity]))
        #expect(banned.sample(logits: [1, 3, 2], history: []) == 2)
        #expect(throws: SamplingError.self) { try SamplingParameters(logitBias: [0: .nan]).validate() }
    }
}
