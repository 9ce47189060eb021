import Foundation
import Testing
import LanternFuzzing

/// Replays the fuzz targets' seed corpora (real files) and every input the fuzzers ever crashed on
/// (fuzz/regressions/TARGET/, kept by fuzz/run.sh) through the same target bodies libFuzzer runs.
@Suite struct FuzzRegressionTests {
    static let regressions = FuzzTarget.fuzzFolder.appendingPathComponent("regressions")

    static func kept(_ target: FuzzTarget) -> [URL] {
        let dir = regressions.appendingPathComponent(target.rawValue)
        let names = (try? FileManager.default.contentsOfDirectory(atPath: dir.path)) ?? []
        return names.filter { !$0.hasPrefix(".") }.sorted().map { dir.appendingPathComponent($0) }
    }

    @Test(arguments: FuzzTarget.allCases)
    func seedsGiveResultsOrTypedErrors(_ target: FuzzTarget) async throws {
        let seeds = target.seeds()
        // Every target has real files to start from (gguf: the fixtures' models, and so on).
        #expect(seeds.count >= 3, "\(target.rawValue) has \(seeds.count) seeds")
        var accepted = 0
        for (i, seed) in seeds.enumerated() {
            let outcome = await target.asyncOutcome(seed)
            if case let .finding(what) = outcome { Issue.record("seed \(i) of \(target.rawValue): \(what)") }
            if outcome == .accepted { accepted += 1 }
        }
        // The real files load: most seeds are accepted, so the fuzzers start from inputs that go deep.
        #expect(accepted * 2 >= seeds.count, "\(target.rawValue): \(accepted) of \(seeds.count) seeds accepted")
    }

    @Test(arguments: FuzzTarget.allCases)
    func keptCrashesStayFixed(_ target: FuzzTarget) async throws {
        for file in Self.kept(target) {
            let data = try Data(contentsOf: file)
            let outcome = await target.asyncOutcome(data)
            if case let .finding(what) = outcome { Issue.record("\(file.lastPathComponent): \(what)") }
        }
    }

    /// Malformed inputs of each kind end in a typed error (not a crash, not an untyped error).
    @Test func malformedInputsAreTypedErrors() async {
        // Truncated GGUF, a safetensors header claiming more bytes than exist, a template with an
        // unclosed block, a config that is not JSON, a request body that is not JSON.
        #expect(FuzzTarget.gguf.outcome(Data("GGUF\u{3}\0\0\0".utf8)).isRefused)
        #expect(FuzzTarget.safetensors.outcome(Data([0, 0xFF, 0xFF, 0, 0, 0, 0, 0, 0, 0x7B])).isRefused)
        #expect(FuzzTarget.jinja.outcome(Data("{% for x in y %}".utf8)).isRefused)
        #expect(FuzzTarget.config.outcome(Data([0]) + Data("{\"model_type\": [".utf8)).isRefused)
        #expect(await FuzzTarget.request.asyncOutcome(Data([0]) + Data("{\"messages\": 3".utf8)).isRefused)
        #expect(FuzzTarget.tokenizerJSON.outcome(Data("{\"model\": {\"type\": \"BPE\"}}".utf8)).isRefused)
    }
}
