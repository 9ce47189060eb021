import Foundation
import Testing
@testable import Lantern

/// SmolLM2-135M-Instruct Q4_1, loaded once for every test that needs the real model. Fetched into the
/// cache with the same code path the CLI uses, so a fresh machine gets it on the first test run.
enum RealModel {
    static let loaded: Result<LoadedModel, any Error> = Result {
        var fetcher = ModelFetcher()
        fetcher.progress = { FileHandle.standardError.write(Data(("[lantern tests] " + $0 + "\n").utf8)) }
        let url = try fetcher.ensure(.defaultModel)
        return try LoadedModel(path: url.path, threads: 2, precision: .environmentDefault)
    }

    static func get() throws -> LoadedModel { try loaded.get() }

    /// A catalog model's cached file, fetched on first use; a test that cannot get it is cancelled (skipped)
    /// with the reason, never passed.
    static func file(_ name: String) throws -> String {
        do {
            var fetcher = ModelFetcher()
            fetcher.progress = { FileHandle.standardError.write(Data(("[lantern tests] " + $0 + "\n").utf8)) }
            return try fetcher.ensure(try #require(ModelCatalog.entry(named: name))).path
        } catch {
            try Test.cancel("\(name) could not be fetched: \(error)")
        }
    }
}

/// `Tests/Fixtures/<relative>`, found from this source file (no bundle resources needed).
func fixturePath(_ relative: String) -> String {
    URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .appendingPathComponent("Fixtures").appendingPathComponent(relative).path
}

/// The copies of the shared reference outputs under Tests/Fixtures/reference.
func referencePath(_ name: String) -> String { fixturePath("reference/" + name) }

struct GreedyReference: Decodable {
    let prompt: String
    let prompt_ids: [Int]
    let greedy_ids: [Int]
    let text: String

    static func all(_ model: String = "smollm2") throws -> [GreedyReference] {
        let text = try String(contentsOfFile: referencePath("\(model)-greedy-llamacpp.jsonl"), encoding: .utf8)
        return try text.split(separator: "\n").map { try JSONDecoder().decode(GreedyReference.self, from: Data($0.utf8)) }
    }
}

/// The teacher-forced float32 reference (transformers, dequantized GGUF weights): top-256 log-probabilities
/// at every position from the last prompt token on.
struct FloatLogprobs: Decodable {
    struct Position: Decodable { let position: Int; let ids: [Int]; let logprobs: [Double] }
    struct Case: Decodable { let prompt: String; let tokens: [Int]; let positions: [Position] }
    let cases: [Case]

    static func load(_ model: String = "smollm2") throws -> FloatLogprobs {
        try JSONDecoder().decode(FloatLogprobs.self, from: Data(contentsOf: URL(fileURLWithPath: referencePath("\(model)-float-logprobs.json"))))
    }
}

/// llama.cpp's own scores against the float reference, per case (`<model>-llamacpp-scores.json`).
struct LlamaCppScores: Decodable {
    struct Case: Decodable { let prompt: String; let mean_kl: Double; let max_kl: Double; let top1_agreement: Double }
    let cases: [Case]

    static func load(_ model: String) throws -> LlamaCppScores {
        try JSONDecoder().decode(LlamaCppScores.self, from: Data(contentsOf: URL(fileURLWithPath: referencePath("\(model)-llamacpp-scores.json"))))
    }
}

/// llama.cpp's perplexity of text/apache-2.0.txt at context 512 (`<model>-perplexity.json`).
struct PerplexityReference: Decodable {
    let context: Int, n_tokens: Int, chunks: Int, scored: Int, add_bos: Bool, ppl: Double

    static func load(_ model: String) throws -> PerplexityReference {
        try JSONDecoder().decode(PerplexityReference.self, from: Data(contentsOf: URL(fileURLWithPath: referencePath("\(model)-perplexity.json"))))
    }
}

/// Mean and max KL(reference || engine) over the reference's stored ids, and top-1 agreement, computed
/// exactly as shared/tools/score_logprobs.py does.
func score(_ c: FloatLogprobs.Case, logits: [Float], vocab: Int) -> (meanKL: Double, maxKL: Double, top1: Double) {
    var kls: [Double] = [], agree = 0
    for p in c.positions {
        let row = logits[(p.position * vocab)..<((p.position + 1) * vocab)].map(Double.init)
        let m = row.max() ?? 0
        let lse = m + log(row.reduce(0) { $0 + exp($1 - m) })
        var kl = 0.0
        for (id, lp) in zip(p.ids, p.logprobs) { kl += exp(lp) * (lp - (row[id] - lse)) }
        kls.append(kl)
        let best = row.indices.max { row[$0] < row[$1] } ?? -1
        if best == p.ids[0] { agree += 1 }
    }
    return (kls.reduce(0, +) / Double(kls.count), kls.max() ?? 0, Double(agree) / Double(kls.count))
}
