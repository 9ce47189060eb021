import Foundation
import Testing
import Lantern

/// Starts the built `lantern serve` on a free loopback port with SmolLM2 and drives it with the
/// official `openai` Python client (Tests/Fixtures/server/openai_client.py), installed into a virtual
/// environment outside the repository on first use (~/.cache/lantern/openai-venv).
@Suite(.serialized, .timeLimit(.minutes(5))) struct ServerTests {
    static let apiKey = "test-key-123"
    static let alias = "smol"
    static let context = 256
    static let maxBody = 65536

    @Test func openAIClientAgainstLanternServe() async throws {
        let binary = try #require(Self.lanternBinary, "the lantern executable was not built beside the tests")
        let model: URL
        do { model = try ModelFetcher().ensure(.defaultModel) } catch {
            try Test.cancel("SmolLM2 could not be fetched: \(error)")
        }
        let python: URL
        do { python = try Self.openAIPython() } catch {
            try Test.cancel("the openai Python package could not be installed: \(error)")
        }

        let server = Process()
        server.executableURL = binary
        server.arguments = ["serve", "--model", model.path, "--host", "127.0.0.1", "--port", "0",
                            "--api-key", Self.apiKey, "--alias", Self.alias, "-c", "\(Self.context)",
                            "--max-queue", "1", "--max-body-bytes", "\(Self.maxBody)", "--threads", "2",
                            "-b", "512", "-ngl", "99"]   // the last two are llama-server flags Lantern ignores
        let errPipe = Pipe()
        server.standardError = errPipe
        server.standardOutput = FileHandle.nullDevice
        try server.run()
        defer { server.terminate(); server.waitUntilExit() }
        let (port, startupLog) = try Self.waitForPort(errPipe.fileHandleForReading, timeout: 120)
        #expect(startupLog.contains("--batch-size") && startupLog.contains("ignored"), "\(startupLog)")
        let base = "http://127.0.0.1:\(port)"

        let r = try Self.runClient(python, Self.fixture("server/openai_client.py"),
                                   [base, Self.apiKey, Self.alias, "\(Self.context)", "\(Self.maxBody)"])
        try check(r)
    }

    func check(_ r: [String: Any]) throws {
        #expect(r["models"] as? [String] == [Self.alias])

        // chat, and the same chat streamed
        let chat = try #require(r["chat"] as? [String: Any])
        let text = try #require(chat["text"] as? String)
        #expect(!text.isEmpty)
        #expect(chat["role"] as? String == "assistant")
        #expect(chat["object"] as? String == "chat.completion")
        #expect(chat["model"] as? String == Self.alias)
        #expect((chat["id"] as? String)?.hasPrefix("chatcmpl-") == true)
        #expect(["stop", "length"].contains(chat["finish"] as? String))
        let usage = try #require(chat["usage"] as? [String: Any])
        let promptTokens = try #require(usage["prompt_tokens"] as? Int)
        #expect(promptTokens > 10)
        #expect(usage["total_tokens"] as? Int == promptTokens + (usage["completion_tokens"] as? Int ?? -1))

        let stream = try #require(r["chat_stream"] as? [String: Any])
        #expect(stream["text"] as? String == text, "streamed deltas must add up to the non-streamed text at temperature 0")
        #expect(stream["roles"] as? [String] == ["assistant"])
        #expect(stream["finishes"] as? [String] == [chat["finish"] as? String ?? ""])
        let deltas = try #require(stream["deltas"] as? [String])
        #expect(deltas.count > 3, "one chunk per token")
        #expect(!deltas.contains { $0.contains("\u{FFFD}") })
        let usageChunks = try #require(stream["usage_chunks"] as? [[String: Any]])
        #expect(usageChunks.count == 1)
        #expect(usageChunks.first?["completion_tokens"] as? Int == usage["completion_tokens"] as? Int)
        let streamCached = (usageChunks.first?["prompt_tokens_details"] as? [String: Any])?["cached_tokens"] as? Int
        #expect(streamCached == promptTokens - 1, "the repeated prompt is reused but its last token")

        // completions
        let completion = try #require(r["completion"] as? [String: Any])
        let completionText = try #require(completion["text"] as? String)
        #expect(!completionText.isEmpty)
        #expect(completion["object"] as? String == "text_completion")
        #expect((r["completion_stream"] as? [String: Any])?["text"] as? String == completionText)
        #expect((r["completion_stream"] as? [String: Any])?["finishes"] as? [String] == [completion["finish"] as? String ?? ""])
        #expect((r["completion_ids"] as? [String: Any])?["text"] as? String == completionText, "token-id prompts")
        let list = try #require(r["completion_list"] as? [String: Any])
        #expect(list["count"] as? Int == 2)
        #expect(list["indices"] as? [Int] == [0, 1])
        #expect(completionText.hasPrefix(list["first"] as? String ?? "-"))

        // logprobs: greedy picks the most likely token, and top_logprobs are sorted
        let logprobs = try #require(r["chat_logprobs"] as? [[String: Any]])
        #expect(logprobs.count >= 1 && logprobs.count <= 5)
        for entry in logprobs {
            let lp = try #require(entry["logprob"] as? Double)
            let top = try #require(entry["top"] as? [[String: Any]])
            #expect(lp <= 0)
            #expect(top.count == 3)
            #expect(top.first?["token"] as? String == entry["token"] as? String)
            #expect(abs((top.first?["logprob"] as? Double ?? 1) - lp) < 1e-5)
            let values = top.compactMap { $0["logprob"] as? Double }
            #expect(values == values.sorted(by: >))
            #expect(entry["bytes"] as? [Int] == Array((entry["token"] as? String ?? "").utf8).map(Int.init))
        }
        let joined = logprobs.compactMap { $0["token"] as? String }.joined()
        #expect(joined == r["chat_logprobs_text"] as? String)
        let clp = try #require(r["completion_logprobs"] as? [String: Any])
        #expect((clp["tokens"] as? [String])?.count == 4)
        #expect((clp["token_logprobs"] as? [Double])?.allSatisfy { $0 <= 0 } == true)
        #expect((clp["top"] as? [[String: Double]])?.allSatisfy { $0.count == 2 } == true)
        #expect((clp["tokens"] as? [String])?.joined() == clp["text"] as? String)

        // stop strings
        let stop = try #require(r["stop"] as? [String: Any])
        #expect(stop["text"] as? String == stop["expected"] as? String, "\(stop)")
        #expect(stop["finish"] as? String == "stop")
        #expect(r["stop_stream"] as? String == stop["expected"] as? String)

        // a repeated prefix is served from the cache
        let cached = try #require(r["cached"] as? [String: Any])
        let second = try #require(cached["second"] as? [String: Any])
        let secondCached = try #require((second["prompt_tokens_details"] as? [String: Any])?["cached_tokens"] as? Int)
        #expect(secondCached > 60, "the shared system prompt (~70 tokens) is reused: \(cached)")
        #expect(secondCached < second["prompt_tokens"] as? Int ?? 0)

        // errors, each in the OpenAI shape
        let errors = try #require(r["errors"] as? [String: [String: Any]])
        func expectError(_ name: String, _ status: Int, param: String? = nil, code: String? = nil, says: [String] = [],
                         sourceLocation: SourceLocation = #_sourceLocation) {
            guard let e = errors[name] else { Issue.record("no result for \(name)", sourceLocation: sourceLocation); return }
            #expect(e["status"] as? Int == status, "\(name): \(e)", sourceLocation: sourceLocation)
            #expect(e["type"] is String, "\(name): \(e)", sourceLocation: sourceLocation)
            #expect(!(e["message"] as? String ?? "").isEmpty, "\(name): \(e)", sourceLocation: sourceLocation)
            if let param { #expect(e["param"] as? String == param, "\(name): \(e)", sourceLocation: sourceLocation) }
            if let code { #expect(e["code"] as? String == code, "\(name): \(e)", sourceLocation: sourceLocation) }
            for s in says { #expect((e["message"] as? String ?? "").contains(s), "\(name): \(e)", sourceLocation: sourceLocation) }
        }
        expectError("malformed", 400, says: ["JSON"])
        expectError("messages_type", 400, param: "messages")
        expectError("temperature_type", 400, param: "temperature")
        expectError("nan", 400, param: "temperature")
        expectError("negative_temperature", 400, param: "temperature")
        expectError("top_p", 400, param: "top_p")
        expectError("top_p_zero", 400, param: "top_p")
        expectError("unknown_model", 404, param: "model", code: "model_not_found")
        expectError("n", 400, param: "n")
        expectError("too_long", 400, code: "context_length_exceeded", says: ["\(Self.context)", "tokens"])
        if let message = errors["too_long"]?["message"] as? String {
            #expect(message.contains(where: \.isNumber) && message.split(separator: " ").compactMap { Int($0) }.count == 2, "\(message)")
        }
        expectError("wrong_key", 401, code: "invalid_api_key")
        expectError("no_key", 401, code: "invalid_api_key")
        expectError("too_large", 413)
        expectError("embeddings", 404, code: "model_not_found")
        expectError("unknown_route", 404)
        expectError("queue_full", 429)
        #expect(errors["queue_full"]?["retry_after"] as? String == "1")
        #expect(r["health_without_key"] as? Int == 200)

        let tokenize = try #require(r["tokenize"] as? [String: Any])
        #expect(tokenize["tokens"] as? [Int] == [504, 3575, 282, 4649, 314])
        #expect(tokenize["content"] as? String == "The capital of France is")

        // disconnecting cancels: the queue drains at once and the next request is answered promptly
        #expect((r["after_cancel_seconds"] as? Double ?? 99) < 10)
        #expect(((r["after_cancel"] as? [String: Any])?["seconds"] as? Double ?? 99) < 20)
        let metrics = try #require(r["metrics"] as? String)
        for name in ["lantern_requests_total{endpoint=\"/v1/chat/completions\",status=\"200\"}",
                     "lantern_requests_total{endpoint=\"/v1/chat/completions\",status=\"429\"}",
                     "lantern_prompt_tokens_total", "lantern_generated_tokens_total", "lantern_tokens_per_second",
                     "lantern_requests_waiting 0", "lantern_requests_running 0", "lantern_kv_blocks_used",
                     "lantern_prompt_tokens_reused_total", "# TYPE lantern_requests_total counter"] {
            #expect(metrics.contains(name), "\(name) missing from /metrics")
        }
        let cancelledLine = metrics.split(separator: "\n").first { $0.hasPrefix("lantern_sequences_cancelled_total ") }
        #expect((cancelledLine?.split(separator: " ").last.flatMap { Int($0) } ?? 0) >= 1, "\(cancelledLine ?? "")")
    }

    // MARK: - Set-up

    /// The built `lantern` executable beside the test bundle in the build folder.
    static let lanternBinary: URL? = {
        var dir = URL(fileURLWithPath: CommandLine.arguments[0]).resolvingSymlinksInPath().deletingLastPathComponent()
        for _ in 0..<4 {
            let candidate = dir.appendingPathComponent("lantern")
            if FileManager.default.isExecutableFile(atPath: candidate.path) { return candidate }
            dir = dir.deletingLastPathComponent()
        }
        return nil
    }()

    /// Runs a Python client script of Fixtures/server and returns the JSON object it prints; a non-zero
    /// exit fails the test with the script's stderr.
    static func runClient(_ python: URL, _ script: String, _ arguments: [String]) throws -> [String: Any] {
        let client = Process()
        client.executableURL = python
        client.arguments = [script] + arguments
        let out = Pipe(), err = Pipe()
        client.standardOutput = out
        client.standardError = err
        try client.run()
        let stdout = out.fileHandleForReading.readDataToEndOfFile()
        let stderr = err.fileHandleForReading.readDataToEndOfFile()
        client.waitUntilExit()
        try #require(client.terminationStatus == 0, "client failed: \(String(decoding: stderr, as: UTF8.self))")
        return try #require(try JSONSerialization.jsonObject(with: stdout) as? [String: Any])
    }

    static func fixture(_ relative: String) -> String {
        URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .appendingPathComponent("Fixtures").appendingPathComponent(relative).path
    }

    struct SetupError: Error, CustomStringConvertible { let description: String }

    /// ~/.cache/lantern/openai-venv/bin/python with `openai` importable, created on first use.
    static func openAIPython() throws -> URL {
        let home = FileManager.default.homeDirectoryForCurrentUser
        let venv = home.appendingPathComponent(".cache/lantern/openai-venv")
        let python = venv.appendingPathComponent("bin/python")
        if FileManager.default.isExecutableFile(atPath: python.path), (try? run(python.path, ["-c", "import openai"])) != nil {
            return python
        }
        try FileManager.default.createDirectory(at: venv.deletingLastPathComponent(), withIntermediateDirectories: true)
        try run("/usr/bin/env", ["python3", "-m", "venv", venv.path])
        try run(python.path, ["-m", "pip", "install", "--quiet", "openai"])
        try run(python.path, ["-c", "import openai"])
        return python
    }

    @discardableResult
    static func run(_ executable: String, _ args: [String]) throws -> String {
        let p = Process()
        p.executableURL = URL(fileURLWithPath: executable)
        p.arguments = args
        let out = Pipe()
        p.standardOutput = out
        p.standardError = out
        try p.run()
        let data = out.fileHandleForReading.readDataToEndOfFile()
        p.waitUntilExit()
        let text = String(decoding: data, as: UTF8.self)
        guard p.terminationStatus == 0 else { throw SetupError(description: "\(executable) \(args.joined(separator: " ")): \(text)") }
        return text
    }

    /// Reads the server's stderr until its "listening on http://HOST:PORT" line.
    static func waitForPort(_ handle: FileHandle, timeout: TimeInterval) throws -> (Int, String) {
        let deadline = Date().addingTimeInterval(timeout)
        var log = ""
        while Date() < deadline {
            let data = handle.availableData
            if data.isEmpty { throw SetupError(description: "lantern serve exited: \(log)") }
            log += String(decoding: data, as: UTF8.self)
            if let range = log.range(of: "listening on http://127.0.0.1:") {
                let digits = log[range.upperBound...].prefix { $0.isNumber }
                if let port = Int(digits), log[range.upperBound...].dropFirst(digits.count).first == "\n" { return (port, log) }
            }
        }
        throw SetupError(description: "lantern serve did not start listening in \(timeout) s: \(log)")
    }
}
