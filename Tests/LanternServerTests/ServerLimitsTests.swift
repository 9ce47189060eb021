import Foundation
import Testing
import Lantern
import LanternFormats
#if canImport(Glibc)
import Glibc
#endif

/// The server under a client that goes away, a max_tokens the context cannot hold, and the embeddings
/// route's success path, each on its own `lantern serve` (SmolLM2; all-MiniLM-L6-v2 for embeddings),
/// driven over plain sockets so that a test can close one in the middle of a request.
@Suite(.serialized, .timeLimit(.minutes(5))) struct ServerLimitsTests {
    /// SmolLM2's end-of-generation and role tokens, banned so that a sequence runs to its limit.
    static let noEnd = #"{"0": -100, "1": -100, "2": -100}"#

    // MARK: - A client that disconnects cancels its non-streamed sequence

    @Test(arguments: ["/v1/chat/completions", "/v1/completions"])
    func disconnectingCancelsANonStreamedRequest(_ path: String) async throws {
        let server = try LanternServe(["-c", "8192", "--parallel", "1", "--threads", "2"])
        defer { server.stop() }
        let body = path == "/v1/completions"
            ? #"{"prompt": "Once upon a time", "max_tokens": 8000, "temperature": 0.8, "seed": 1, "logit_bias": \#(Self.noEnd)}"#
            : #"{"messages": [{"role": "user", "content": "Tell me a long story."}], "max_tokens": 8000, "temperature": 0.8, "seed": 1, "logit_bias": \#(Self.noEnd)}"#
        let connection = try HTTPConnection(port: server.port)
        try connection.send(HTTPConnection.request("POST", path, body: body))
        // Wait until it decodes (its cache holds more than the prompt's ~2 blocks of 16 positions), then
        // hang up without reading a byte of the answer.
        _ = try await server.waitForMetrics(timeout: 60) {
            $0.value("lantern_requests_running") == 1 && $0.value("lantern_kv_blocks_used") ?? 0 >= 4
        }
        connection.close()
        let start = Date()
        let after = try await server.waitForMetrics(timeout: 30) { $0.value("lantern_requests_running") == 0 }
        let seconds = Date().timeIntervalSince(start)
        // 8,000 tokens take two minutes or more on two cores: stopping well within that (60 s leaves room
        // for a machine saturated by the suites running beside this one, where 25 s has been seen) means
        // it was cancelled, as the counters below confirm.
        #expect(seconds < 60, "the sequence ran \(seconds) s after the client went away")
        #expect(after.value("lantern_sequences_cancelled_total") == 1, "\(after.text)")
        #expect(after.value("lantern_kv_blocks_used") == 0, "a cancelled sequence frees its blocks at once")
        #expect(after.value("lantern_generated_tokens_total") == 0, "no sequence finished")
        #expect(after.value("lantern_requests_waiting") == 0)
        // A later request is answered as usual.
        let next = try HTTPConnection.exchange(port: server.port, "POST", "/v1/completions",
                                               body: #"{"prompt": "The capital of France is", "max_tokens": 4, "temperature": 0}"#)
        #expect(next.status == 200, "\(next.body)")
        let choice = try #require((try next.json()["choices"] as? [[String: Any]])?.first)
        #expect(choice["finish_reason"] as? String == "length")
        #expect(!(choice["text"] as? String ?? "").isEmpty)
    }

    // MARK: - Idle connections and half-sent headers are cut; connections are bounded

    @Test func idleConnectionsAndSlowHeadersAreClosedAfterTheTimeout() async throws {
        let server = try LanternServe(["-c", "512", "--threads", "1", "--timeout", "1"])
        defer { server.stop() }
        // Connected, sends nothing: closed after about a second (EOF, not the test's own 10 s cut-off).
        let silent = try HTTPConnection(port: server.port)
        try silent.setReceiveTimeout(seconds: 10)
        var start = Date()
        #expect(try silent.readToEnd().isEmpty)
        let seconds = Date().timeIntervalSince(start)
        #expect(seconds >= 0.8 && seconds < 6, "an idle connection lived \(seconds) s under --timeout 1")
        // A header dribbled a byte every 200 ms never completes, so it is idle too: cut within seconds
        // although bytes keep arriving: about 1 s on a quiet machine, up to 25 s seen while the other suites
        // saturate both cores, so the bound is 60 s of a 90 s dribble.
        let slow = try HTTPConnection(port: server.port)
        try slow.send("GET /health HTTP/1.1\r\nHost: 127.0.0.1\r\n")
        start = Date()
        var cut: TimeInterval?
        for i in 0..<450 {
            try await Task.sleep(for: .milliseconds(200))
            if (try? slow.send(i % 2 == 0 ? "X" : "y")) == nil { cut = Date().timeIntervalSince(start); break }
        }
        let cutAfter = try #require(cut, "a header sent a byte at a time held its connection for 90 s")
        #expect(cutAfter < 60, "the slow header was cut after \(cutAfter) s")
        // A complete request on a fresh connection is answered as usual.
        let health = try HTTPConnection.exchange(port: server.port, "GET", "/health")
        #expect(health.status == 200)
        // And a streamed completion longer than the timeout is not cut: a request in progress is not idle.
        start = Date()
        let long = try HTTPConnection.exchange(port: server.port, "POST", "/v1/completions",
            body: #"{"prompt": "Once upon a time", "max_tokens": 400, "temperature": 0, "stream": true, "logit_bias": \#(Self.noEnd)}"#)
        let streamed = Date().timeIntervalSince(start)
        #expect(streamed > 1.2, "the stream took \(streamed) s, not longer than the 1 s timeout: this check says nothing")
        #expect(long.status == 200)
        #expect(long.body.contains("data: [DONE]"), "the stream was cut: \(long.body.suffix(200))")
    }

    /// A streaming client that stops reading (but keeps its socket open) fills the socket buffers; the
    /// write that then waits longer than --timeout cancels its sequence and closes the connection, so
    /// the one slot is free for the next request long before the 3,000 tokens would have run out.
    @Test func aClientThatStopsReadingIsCutOffAndFreesItsSequence() async throws {
        let server = try LanternServe(["-c", "4096", "--parallel", "1", "--threads", "2", "--timeout", "2"])
        defer { server.stop() }
        // top_logprobs 20 makes each event about 2 KB, so the buffers fill within a few hundred tokens.
        let body = #"{"messages": [{"role": "user", "content": "Tell me a long story."}], "max_tokens": 3000, "temperature": 0.8, "seed": 1, "stream": true, "logprobs": true, "top_logprobs": 20, "logit_bias": \#(Self.noEnd)}"#
        let stalled = try HTTPConnection(port: server.port, receiveBuffer: 4096)
        try stalled.send(HTTPConnection.request("POST", "/v1/chat/completions", body: body))
        _ = try await server.waitForMetrics(timeout: 60) { $0.value("lantern_requests_running") == 1 }
        // Meanwhile a second request waits for the only slot.
        let waiting = Task.detached {
            try HTTPConnection.exchange(port: server.port, "POST", "/v1/completions",
                                        body: #"{"prompt": "The capital of France is", "max_tokens": 4, "temperature": 0}"#)
        }
        let after = try await server.waitForMetrics(timeout: 120) {
            $0.value("lantern_sequences_cancelled_total") == 1 && $0.value("lantern_requests_running") == 0
                || $0.value("lantern_generated_tokens_total") ?? 0 >= 3000
        }
        #expect(after.value("lantern_sequences_cancelled_total") == 1, "the stalled stream ran to its end:\n\(after.text)")
        let next = try await waiting.value
        #expect(next.status == 200, "\(next.body)")
        let done = try await server.waitForMetrics(timeout: 30) { $0.value("lantern_requests_running") == 0 }
        // The cut-off sequence held about 20 blocks of 16 positions; what stays is the answered request's
        // prompt, cached for reuse (under 16 positions: one block).
        #expect(done.value("lantern_kv_blocks_used") ?? 99 <= 1, "the cut-off sequence freed its blocks:\n\(done.text)")
        // The server closed the stalled connection: what was buffered ends without [DONE].
        try stalled.setReceiveTimeout(seconds: 20)
        let received = String(decoding: (try? stalled.readToEnd()) ?? Data(), as: UTF8.self)
        #expect(received.hasPrefix("HTTP/1.1 200"), "\(received.prefix(200))")
        #expect(!received.contains("data: [DONE]"), "the stalled stream was not cut")
    }

    @Test func connectionsBeyondTheLimitWaitUntilOneCloses() async throws {
        let server = try LanternServe(["-c", "256", "--threads", "1", "--max-connections", "2"])
        defer { server.stop() }
        let first = try HTTPConnection(port: server.port), second = try HTTPConnection(port: server.port)
        try await Task.sleep(for: .milliseconds(300))
        // The third connects (the kernel's backlog takes it) but is not served while two are open.
        let third = try HTTPConnection(port: server.port)
        try third.send(HTTPConnection.request("GET", "/health"))
        try third.setReceiveTimeout(seconds: 1.5)
        #expect(throws: (any Error).self, "a third connection was served beside two open ones under --max-connections 2") {
            _ = try third.readToEnd()
        }
        // Once one closes, the waiting one is accepted and answered.
        first.close()
        try third.setReceiveTimeout(seconds: 20)
        let reply = String(decoding: try third.readToEnd(), as: UTF8.self)
        #expect(reply.hasPrefix("HTTP/1.1 200"), "\(reply.prefix(200))")
        second.close()
    }

    // MARK: - max_tokens is capped by the context

    @Test func maxTokensIsCappedByTheContext() async throws {
        let context = 64
        let server = try LanternServe(["-c", "\(context)", "--threads", "2"])
        defer { server.stop() }
        let unit = [504, 3575, 282, 4649, 314]   // "The capital of France is"
        func prompt(_ n: Int) -> String { "[" + (0..<n).map { "\(unit[$0 % unit.count])" }.joined(separator: ",") + "]" }
        func complete(_ promptLength: Int, maxTokens: String) throws -> (status: Int, finish: String?, completion: Int?, prompt: Int?, text: String) {
            let maxField = maxTokens.isEmpty ? "" : #", "max_tokens": \#(maxTokens)"#
            let r = try HTTPConnection.exchange(port: server.port, "POST", "/v1/completions",
                body: #"{"prompt": \#(prompt(promptLength)), "temperature": 0, "logit_bias": \#(Self.noEnd)\#(maxField)}"#)
            guard r.status == 200 else { return (r.status, nil, nil, nil, r.body) }
            let o = try r.json()
            let choice = (o["choices"] as? [[String: Any]])?.first
            let usage = o["usage"] as? [String: Any]
            return (r.status, choice?["finish_reason"] as? String, usage?["completion_tokens"] as? Int, usage?["prompt_tokens"] as? Int,
                    choice?["text"] as? String ?? "")
        }
        // Far more than fits, or no limit at all: the answer fills the context and says "length".
        for (promptLength, maxTokens) in [(50, "1000"), (50, ""), (60, "9223372036854775807"), (63, "100"), (64, "100")] {
            let r = try complete(promptLength, maxTokens: maxTokens)
            #expect(r.status == 200, "prompt \(promptLength), max_tokens \(maxTokens): \(r.text)")
            #expect(r.finish == "length", "prompt \(promptLength), max_tokens \(maxTokens)")
            #expect(r.prompt == promptLength)
            #expect(r.completion == context - promptLength, "prompt \(promptLength), max_tokens \(maxTokens): prompt + completion = context")
        }
        // Within the room left, max_tokens holds as asked.
        let within = try complete(50, maxTokens: "5")
        #expect(within.finish == "length" && within.completion == 5)
        // Chat too, streamed: the chunks end with finish_reason "length" and [DONE].
        let chat = try HTTPConnection.exchange(port: server.port, "POST", "/v1/chat/completions", body: """
            {"messages": [{"role": "user", "content": "\(String(repeating: "word ", count: 30))"}], "max_tokens": 5000,
             "temperature": 0, "stream": true, "stream_options": {"include_usage": true}, "logit_bias": \(Self.noEnd)}
            """)
        #expect(chat.status == 200)
        let events = chat.body.components(separatedBy: "\n\n").filter { $0.hasPrefix("data: ") }.map { String($0.dropFirst(6)) }
        #expect(events.last == "[DONE]")
        let objects = events.dropLast().compactMap { try? JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any] }
        let finishes = objects.flatMap { ($0["choices"] as? [[String: Any]] ?? []).compactMap { $0["finish_reason"] as? String } }
        #expect(finishes == ["length"])
        let usage = try #require(objects.last?["usage"] as? [String: Any])
        #expect((usage["prompt_tokens"] as? Int ?? 0) + (usage["completion_tokens"] as? Int ?? 0) == context, "\(usage)")
        // A prompt longer than the context is still a clear 400, and the server still answers afterwards.
        let tooLong = try HTTPConnection.exchange(port: server.port, "POST", "/v1/completions", body: #"{"prompt": \#(prompt(65)), "max_tokens": 1}"#)
        #expect(tooLong.status == 400)
        #expect((try tooLong.json()["error"] as? [String: Any])?["code"] as? String == "context_length_exceeded")
        let metrics = try server.metrics()
        #expect(metrics.value("lantern_requests_running") == 0 && metrics.value("lantern_requests_waiting") == 0)
    }

    // MARK: - /v1/embeddings

    @Test func embeddingsInTheOpenAIShape() async throws {
        let folder: URL
        do { folder = try ModelFetcher().ensure(ModelFolderSource.defaultEmbeddingModel) } catch {
            try Test.cancel("all-MiniLM-L6-v2 could not be fetched: \(error)")
        }
        let server = try LanternServe(["-c", "256", "--threads", "2", "--embedding-model", folder.path])
        defer { server.stop() }
        let sentences = try Self.minilmSentences()
        let reference = try SafetensorsFile(path: ServerTests.fixture("minilm/expected.safetensors"))
        let want = try reference.floats("sentence_embeddings"), lengths = try reference.ints("lengths")
        let local = try SentenceEmbedder(path: folder.path, threads: 2).embed(sentences)
        let dimension = 384

        func post(_ body: String) throws -> HTTPConnection.Reply {
            try HTTPConnection.exchange(port: server.port, "POST", "/v1/embeddings", body: body)
        }
        func post(_ body: [String: Any]) throws -> HTTPConnection.Reply {
            try post(String(decoding: try JSONSerialization.data(withJSONObject: body), as: UTF8.self))
        }

        // A list of strings: one vector per input, in order, as sentence-transformers computes them.
        let list = try post(["model": "minilm", "input": sentences])
        #expect(list.status == 200, "\(list.body)")
        let o = try list.json()
        #expect(o["object"] as? String == "list")
        #expect(o["model"] as? String == "minilm")
        let data = try #require(o["data"] as? [[String: Any]])
        #expect(data.count == sentences.count)
        var vectors: [[Float]] = []
        for (i, d) in data.enumerated() {
            #expect(d["object"] as? String == "embedding")
            #expect(d["index"] as? Int == i)
            let v = try #require(d["embedding"] as? [Double]).map(Float.init)
            #expect(v.count == dimension)
            vectors.append(v)
        }
        for i in vectors.indices {
            #expect(maxDifference(vectors[i], local[i]) <= 1e-6, "sentence \(i): the server and the embedder in-process")
            #expect(maxDifference(vectors[i], Array(want[(i * dimension)..<((i + 1) * dimension)])) <= 1e-4, "sentence \(i): sentence-transformers")
        }
        let usage = try #require(o["usage"] as? [String: Any])
        #expect(usage["prompt_tokens"] as? Int == lengths.reduce(0, +), "[CLS] and [SEP] included")
        #expect(usage["total_tokens"] as? Int == lengths.reduce(0, +))

        // One string, and base64: little-endian float32 bytes of the same vector.
        let one = try post(["input": sentences[1]])
        let oneVector = try #require(((try one.json()["data"] as? [[String: Any]])?.first?["embedding"] as? [Double])).map(Float.init)
        #expect(maxDifference(oneVector, vectors[1]) <= 1e-6)
        #expect((try one.json()["usage"] as? [String: Any])?["prompt_tokens"] as? Int == lengths[1])
        let b64 = try post(["input": [sentences[1], sentences[2]], "encoding_format": "base64"])
        #expect(b64.status == 200, "\(b64.body)")
        let encoded = try #require(try b64.json()["data"] as? [[String: Any]])
        #expect(encoded.map { $0["index"] as? Int } == [0, 1])
        for (k, entry) in encoded.enumerated() {
            let bytes = try #require(Data(base64Encoded: entry["embedding"] as? String ?? ""))
            #expect(bytes.count == dimension * 4)
            let floats: [Float] = bytes.withUnsafeBytes { raw in
                (0..<(raw.count / 4)).map { Float(bitPattern: UInt32(littleEndian: raw.loadUnaligned(fromByteOffset: $0 * 4, as: UInt32.self))) }
            }
            // JSON floats are printed shortest-round-trip, so base64 carries the very same values.
            #expect(floats == vectors[k + 1], "input \(k)")
        }

        // Bad input: a 400 naming `input` (or the field at fault) in the OpenAI error shape.
        for (body, param) in [(#"{"input": 5}"#, "input"), (#"{"input": []}"#, "input"), (#"{"input": [1, 2, 3]}"#, "input"),
                              (#"{"input": ["a", 7]}"#, "input"), (#"{}"#, "input"), (#"{"input": "a", "encoding_format": "hex"}"#, "encoding_format")] {
            let r = try post(body)
            #expect(r.status == 400, "\(body): \(r.body)")
            let error = try r.json()["error"] as? [String: Any]
            #expect(error?["type"] as? String == "invalid_request_error", "\(body): \(r.body)")
            #expect(error?["param"] as? String == param, "\(body): \(r.body)")
            #expect((error?["message"] as? String)?.isEmpty == false, "\(body): \(r.body)")
        }
        let metrics = try server.metrics()
        #expect(metrics.text.contains(#"lantern_requests_total{endpoint="/v1/embeddings",status="200"} 3"#), "\(metrics.text)")
    }

    /// The official `openai` client against the same route: its default asks for base64 and decodes it.
    @Test func embeddingsThroughTheOpenAIClient() async throws {
        let folder: URL
        do { folder = try ModelFetcher().ensure(ModelFolderSource.defaultEmbeddingModel) } catch {
            try Test.cancel("all-MiniLM-L6-v2 could not be fetched: \(error)")
        }
        let python: URL
        do { python = try ServerTests.openAIPython() } catch {
            try Test.cancel("the openai Python package could not be installed: \(error)")
        }
        let server = try LanternServe(["-c", "256", "--threads", "2", "--embedding-model", folder.path])
        defer { server.stop() }
        let sentences = Array(try Self.minilmSentences().prefix(3))
        let embedder = try SentenceEmbedder(path: folder.path, threads: 2)
        let local = try embedder.embed(sentences)
        let r = try ServerTests.runClient(python, ServerTests.fixture("server/openai_embeddings.py"),
                                          ["http://127.0.0.1:\(server.port)"] + sentences)
        let vectors = try #require(r["default"] as? [[Double]]).map { $0.map(Float.init) }
        #expect(vectors.count == 3)
        for (v, w) in zip(vectors, local) { #expect(maxDifference(v, w) <= 1e-6) }
        #expect(r["indices"] as? [Int] == [0, 1, 2])
        let lengths = try sentences.map { try embedder.tokenize($0).ids.count }
        #expect(r["prompt_tokens"] as? Int == lengths.reduce(0, +))
        #expect(maxDifference(try #require(r["float_one"] as? [Double]).map(Float.init), local[0]) <= 1e-6)
    }

    static func minilmSentences() throws -> [String] {
        let json = try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: ServerTests.fixture("minilm/case.json")))) as? [String: Any]
        return try #require((json?["inputs"] as? [String: Any])?["sentences"] as? [String])
    }
}

func maxDifference(_ a: [Float], _ b: [Float]) -> Float {
    guard a.count == b.count else { return .infinity }
    return zip(a, b).map { abs($0 - $1) }.max() ?? 0
}

/// A `lantern serve` on a free loopback port with SmolLM2 (cancelled when it cannot be fetched).
struct LanternServe {
    let process = Process()
    let port: Int

    init(_ arguments: [String]) throws {
        let binary = try #require(ServerTests.lanternBinary, "the lantern executable was not built beside the tests")
        let model: URL
        do { model = try ModelFetcher().ensure(.defaultModel) } catch {
            try Test.cancel("SmolLM2 could not be fetched: \(error)")
        }
        process.executableURL = binary
        process.arguments = ["serve", "--model", model.path, "--host", "127.0.0.1", "--port", "0"] + arguments
        let err = Pipe()
        process.standardError = err
        process.standardOutput = FileHandle.nullDevice
        try process.run()
        do {
            (port, _) = try ServerTests.waitForPort(err.fileHandleForReading, timeout: 120)
        } catch {
            process.terminate()
            throw error
        }
        // Keep draining stderr so that the server never blocks on a full pipe.
        err.fileHandleForReading.readabilityHandler = { _ = $0.availableData }
    }

    func stop() {
        process.terminate()
        process.waitUntilExit()
    }

    struct Metrics {
        let text: String
        /// The value of an unlabelled sample.
        func value(_ name: String) -> Int? {
            for line in text.split(separator: "\n") where line.hasPrefix(name + " ") {
                return Double(line.dropFirst(name.count + 1)).map { Int($0) }
            }
            return nil
        }
    }

    func metrics() throws -> Metrics {
        Metrics(text: try HTTPConnection.exchange(port: port, "GET", "/metrics").body)
    }

    /// Polls /metrics every 50 ms until `ready` holds.
    func waitForMetrics(timeout: TimeInterval, _ ready: (Metrics) -> Bool) async throws -> Metrics {
        let deadline = Date().addingTimeInterval(timeout)
        var last = try metrics()
        while !ready(last) {
            guard Date() < deadline else { throw ServerTests.SetupError(description: "/metrics did not reach the state in \(timeout) s:\n\(last.text)") }
            try await Task.sleep(for: .milliseconds(50))
            last = try metrics()
        }
        return last
    }
}

/// One HTTP/1.1 exchange over a plain TCP socket: the tests need to close a connection mid-request,
/// which URLSession does not promise.
final class HTTPConnection {
    private var fd: Int32

    struct Reply {
        var status: Int
        var body: String
        /// The status line and header lines.
        var head = ""
        func json() throws -> [String: Any] {
            try #require(try JSONSerialization.jsonObject(with: Data(body.utf8)) as? [String: Any], "not a JSON object: \(body)")
        }
    }

    /// `receiveBuffer`: SO_RCVBUF in bytes, set before connecting (a small one makes a client that does
    /// not read fill the server's buffers quickly).
    init(port: Int, receiveBuffer: Int? = nil) throws {
        fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { throw ServerTests.SetupError(description: "socket() failed: \(errno)") }
        if var size = receiveBuffer.map(Int32.init) {
            _ = setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &size, socklen_t(MemoryLayout<Int32>.size))
        }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = in_port_t(UInt16(port).bigEndian)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        let rc = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
        guard rc == 0 else { Glibc.close(fd); throw ServerTests.SetupError(description: "connect() to port \(port) failed: \(errno)") }
    }

    deinit { close() }

    static func request(_ method: String, _ path: String, body: String? = nil, headers: [String: String] = [:]) -> String {
        var head = "\(method) \(path) HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n"
        for (name, value) in headers.sorted(by: { $0.key < $1.key }) { head += "\(name): \(value)\r\n" }
        if let body { head += "Content-Type: application/json\r\nContent-Length: \(body.utf8.count)\r\n" }
        return head + "\r\n" + (body ?? "")
    }

    func send(_ text: String) throws {
        let bytes = Array(text.utf8)
        var sent = 0
        while sent < bytes.count {
            let n = bytes[sent...].withUnsafeBytes { Glibc.send(fd, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
            guard n > 0 else { throw ServerTests.SetupError(description: "send() failed: \(errno)") }
            sent += n
        }
    }

    /// Reads until the server closes (every request says Connection: close).
    func readToEnd() throws -> Data {
        var data = Data()
        var buffer = [UInt8](repeating: 0, count: 65536)
        while true {
            let n = buffer.withUnsafeMutableBytes { recv(fd, $0.baseAddress, $0.count, 0) }
            guard n >= 0 else { throw ServerTests.SetupError(description: "recv() failed: \(errno)") }
            if n == 0 { return data }
            data.append(contentsOf: buffer[..<n])
        }
    }

    /// recv() gives up after `seconds` (readToEnd then throws) instead of waiting forever.
    func setReceiveTimeout(seconds: Double) throws {
        var tv = timeval(tv_sec: Int(seconds), tv_usec: Int((seconds - seconds.rounded(.down)) * 1_000_000))
        guard setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, socklen_t(MemoryLayout<timeval>.size)) == 0 else {
            throw ServerTests.SetupError(description: "setsockopt(SO_RCVTIMEO) failed: \(errno)")
        }
    }

    func close() {
        guard fd >= 0 else { return }
        Glibc.close(fd)
        fd = -1
    }

    /// Sends one request and reads the whole reply (chunked bodies are joined).
    static func exchange(port: Int, _ method: String, _ path: String, body: String? = nil,
                         headers: [String: String] = [:]) throws -> Reply {
        let c = try HTTPConnection(port: port)
        defer { c.close() }
        try c.send(request(method, path, body: body, headers: headers))
        let raw = [UInt8](try c.readToEnd())
        let crlf: [UInt8] = [13, 10]
        func find(_ needle: [UInt8], from start: Int) -> Int? {
            guard start <= raw.count - needle.count else { return nil }
            return (start...(raw.count - needle.count)).first { Array(raw[$0..<($0 + needle.count)]) == needle }
        }
        guard let split = find(crlf + crlf, from: 0) else {
            throw ServerTests.SetupError(description: "no HTTP head in: \(String(decoding: raw, as: UTF8.self))")
        }
        let head = String(decoding: raw[..<split], as: UTF8.self)
        let status = Int(head.split(separator: " ").dropFirst().first ?? "") ?? 0
        var body = Array(raw[(split + 4)...])
        if head.lowercased().contains("transfer-encoding: chunked") {
            var joined: [UInt8] = [], at = split + 4
            while let line = find(crlf, from: at), let size = Int(String(decoding: raw[at..<line], as: UTF8.self), radix: 16), size > 0 {
                joined += raw[(line + 2)..<(line + 2 + size)]
                at = line + 2 + size + 2
            }
            body = joined
        }
        return Reply(status: status, body: String(decoding: body, as: UTF8.self), head: head)
    }
}
