import Foundation
import Testing
import LanternFormats
import LanternModels
@testable import Lantern

/// `lantern generate --show-probs` through the built executable.
@Suite(.serialized) struct ShowProbsTests {
    var modelPath: String { get throws { try RealModel.get().path } }

    /// `generate --show-probs --format json`: a `logprobs` entry per token whose chosen and alternative
    /// log-probabilities agree within 0.05 nats with the float32 transformers reference at the same
    /// positions (smollm2-float-logprobs.json, case "The capital of France is": the greedy tokens are its
    /// own), alternatives most likely first and --top of them; greedy, so the chosen token is the first.
    @Test func showProbsJSONMatchesTheFloatReference() throws {
        let ref = try #require(try FloatLogprobs.load().cases.first { $0.prompt == "The capital of France is" })
        let r = try CLI.run(["generate", "--model", modelPath, "--temperature", "0", "--max-tokens", "5", "--threads", "2",
                             "--show-probs", "--top", "3", "--format", "json", "The capital of France is"])
        #expect(r.status == 0, "\(r.stderr)")
        let o = try CLI.json(r.stdout)
        let ids = try #require(o["tokens"] as? [Int])
        let steps = try #require(o["logprobs"] as? [[String: Any]])
        #expect(steps.count == ids.count && ids.count == 5)
        for (i, step) in steps.enumerated() {
            let position = try #require(ref.positions.first { $0.position == 4 + i })
            func reference(_ id: Int) -> Double? { position.ids.firstIndex(of: id).map { position.logprobs[$0] } }
            #expect(step["id"] as? Int == ids[i])
            let chosen = try #require(step["logprob"] as? Double)
            #expect(abs(chosen - (reference(ids[i]) ?? .infinity)) <= 0.05, "step \(i): \(chosen) vs \(String(describing: reference(ids[i])))")
            let top = try #require(step["top_logprobs"] as? [[String: Any]])
            #expect(top.count == 3)
            #expect(top.first?["id"] as? Int == ids[i])
            let values = top.compactMap { $0["logprob"] as? Double }
            #expect(values == values.sorted(by: >))
            for alt in top {
                let id = try #require(alt["id"] as? Int), lp = try #require(alt["logprob"] as? Double)
                #expect(abs(lp - (reference(id) ?? .infinity)) <= 0.05, "step \(i) alternative \(id): \(lp)")
            }
        }
        #expect((steps.first?["token"] as? String) == " Paris")
    }

    /// Plain output (stdout is a pipe): the text, then one line a step with the probability as a number
    /// and the alternatives, no ANSI escapes. Step 1's p(" Paris") is within 0.02 of the float
    /// reference's exp(-0.2581) = 0.7725.
    @Test func showProbsPlainOutput() throws {
        let r = try CLI.run(["generate", "--model", modelPath, "--temperature", "0", "--max-tokens", "3", "--threads", "2",
                             "--show-probs", "--top", "2", "The capital of France is"])
        #expect(r.status == 0, "\(r.stderr)")
        #expect(!r.stdout.contains("\u{1B}["))
        let lines = r.stdout.split(separator: "\n").map(String.init)
        #expect(lines.first == "The capital of France is Paris.")
        let step1 = try #require(lines.first { $0.hasPrefix("   1 ") })
        #expect(step1.contains("\" Paris\"") && step1.contains("|"))
        let p = try #require(step1.components(separatedBy: "p=").last.flatMap { Double($0.prefix(6)) })
        #expect(abs(p - exp(-0.2581)) <= 0.02, "\(step1)")
        #expect(lines.filter { $0.range(of: #"^ +\d+ "#, options: .regularExpression) != nil }.count == 3)
    }
}
