import Foundation
import Testing
import LanternFormats
import LanternModels
@testable import Lantern

/// `lantern perplexity` through the built executable.
@Suite(.serialized) struct PerplexityCLITests {
    var modelPath: String { get throws { try RealModel.get().path } }

    /// llama.cpp's perplexity of SmolLM2 on the Apache license at context 512 (shared/reference
    /// perplexity.json: 15.9546 +/- 1.4240 over 2215 tokens): ours within 1%, its standard error within
    /// 5% (the same formula over slightly different NLLs), the same token count; the JSON shape; a
    /// progress line per window on stderr (not a terminal here).
    @Test func perplexityMatchesLlamaCpp() throws {
        struct Reference: Decodable { let n_tokens: Int; let chunks: Int; let scored: Int; let ppl: Double; let ppl_stderr: Double }
        let ref = try JSONDecoder().decode(Reference.self, from: Data(contentsOf: URL(fileURLWithPath: referencePath("perplexity.json"))))
        let r = try CLI.run(["perplexity", "--model", modelPath, "--file", referencePath("text/apache-2.0.txt"),
                             "--context", "512", "--threads", "2", "--format", "json"])
        #expect(r.status == 0, "\(r.stderr)")
        let o = try CLI.json(r.stdout)
        let ppl = try #require(o["ppl"] as? Double), stderrValue = try #require(o["ppl_stderr"] as? Double)
        print("smollm2 perplexity \(ppl) +/- \(stderrValue) (llama.cpp \(ref.ppl) +/- \(ref.ppl_stderr))")
        #expect(abs(ppl / ref.ppl - 1) <= 0.01, "ppl \(ppl) vs llama.cpp \(ref.ppl)")
        #expect(abs(stderrValue / ref.ppl_stderr - 1) <= 0.05, "stderr \(stderrValue) vs llama.cpp \(ref.ppl_stderr)")
        #expect(o["tokens"] as? Int == ref.n_tokens)
        #expect(o["windows"] as? Int == ref.chunks && o["scored"] as? Int == ref.scored)
        #expect(r.stderr.contains("4/4"), "progress on stderr: \(r.stderr)")
    }

    /// Text output is llama.cpp's "PPL = x +/- y" line; a text shorter than one window is an error
    /// naming the token count, with {"error"} in JSON mode; an encoder-decoder is refused.
    @Test func perplexityTextAndErrors() throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("lantern-ppl-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        let short = dir.appendingPathComponent("short.txt")
        try "Just a few words.".write(to: short, atomically: true, encoding: .utf8)
        let bad = try CLI.run(["perplexity", "--model", modelPath, "--file", short.path, "--format", "json"])
        #expect(bad.status != 0)
        #expect((try CLI.json(bad.stdout)["error"] as? String)?.contains("fewer than one window") == true)
        let seq2seq = try CLI.run(["perplexity", "--model", fixturePath("t5"), "--file", short.path])
        #expect(seq2seq.status != 0 && seq2seq.stderr.contains("decoder-only"), "\(seq2seq.stderr)")
        let text = try CLI.run(["perplexity", "--model", modelPath, "--file", referencePath("text/apache-2.0.txt"),
                                "--context", "128", "--threads", "2"])
        #expect(text.status == 0, "\(text.stderr)")
        #expect(text.stdout.hasPrefix("PPL = ") && text.stdout.contains(" +/- "), "\(text.stdout)")
    }
}
