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

    static func all() throws -> [GreedyReference] {
        let text = try String(contentsOfFile: referencePath("smollm2-greedy-llamacpp.jsonl"), encoding: .utf8)
        return try text.split(separator: "\n").map { try JSONDecoder().decode(GreedyReference.self, from: Data($0.utf8)) }
    }
}

/// The teacher-forced float32 reference (transformers, dequantized GGUF weights): top-256 log-probabilities
/// at every position from the last prompt token on.
struct FloatLogprobs: Decodable {
    struct Position: Decodable { let position: Int; let ids: [Int]; let logprobs: [Double] }
    struct Case: Decodable { let prompt: String; let tokens: [Int]; let positions: [Position] }
    let cases: [Case]

    static func load() throws -> FloatLogprobs {
        try JSONDecoder().decode(FloatLogprobs.self, from: Data(contentsOf: URL(fileURLWithPath: referencePath("smollm2-float-logprobs.json"))))
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
