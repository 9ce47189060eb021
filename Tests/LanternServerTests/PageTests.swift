import Foundation
import Testing
@testable import Lantern
@testable import LanternServer

/// The page at `/` and the JSON routes behind it (`/v1/lantern/info`, `/v1/lantern/attention`), on a
/// `lantern serve` of SmolLM2 with an API key, driven over plain sockets.
@Suite(.serialized, .timeLimit(.minutes(5))) struct PageTests {
    static let key = "page-key-1"
    static var auth: [String: String] { ["Authorization": "Bearer \(key)"] }
    static let text = "The cat sat on the mat because it was warm."

    @Test func pageIsSelfContainedAndPublic() throws {
        let server = try LanternServe(["-c", "256", "--threads", "2", "--api-key", Self.key])
        defer { server.stop() }
        let page = try HTTPConnection.exchange(port: server.port, "GET", "/")   // no key: the page is public
        #expect(page.status == 200)
        #expect(page.head.lowercased().contains("content-type: text/html; charset=utf-8"), "\(page.head)")
        let html = page.body
        #expect(html.hasPrefix("<!DOCTYPE html>"))
        for element in [#"<form id="form""#, #"<textarea id="prompt""#, #"<button id="send" type="submit""#,
                        #"<select id="layer""#, #"<select id="head""#, #"<canvas id="map""#, #"<input id="atext""#,
                        "<style>", "<script>", "/v1/chat/completions", "/v1/lantern/attention", "/v1/lantern/info",
                        "logprobs: true, top_logprobs: 5"] {
            #expect(html.contains(element), "the page lacks \(element)")
        }
        // Nothing is loaded from elsewhere: no absolute URL at all, no external script, style or font.
        for external in ["http://", "https://", "//cdn", "<link", " src=", "@import", "url("] {
            #expect(!html.contains(external), "the page refers to something external: \(external)")
        }
        for colour in Page.probabilityColours {
            let (r, g, b) = colour.rgb
            #expect(html.contains("rgb(\(r),\(g),\(b))"), "the page uses the probability colour rgb(\(r),\(g),\(b))")
        }
        // A query string does not change the route.
        #expect(try HTTPConnection.exchange(port: server.port, "GET", "/?demo=The+cat&layer=0").status == 200)

        // The JSON routes follow the key rule.
        for (method, path) in [("GET", "/v1/lantern/info"), ("POST", "/v1/lantern/attention")] {
            let r = try HTTPConnection.exchange(port: server.port, method, path, body: method == "POST" ? #"{"text": "a", "layer": 0}"# : nil)
            #expect(r.status == 401, "\(path) without a key: \(r.body)")
            #expect((try r.json()["error"] as? [String: Any])?["code"] as? String == "invalid_api_key")
        }
        let info = try HTTPConnection.exchange(port: server.port, "GET", "/v1/lantern/info", headers: Self.auth)
        #expect(info.status == 200, "\(info.body)")
        let o = try info.json()
        #expect(o["layers"] as? Int == 30)
        #expect(o["heads"] as? [Int] == [Int](repeating: 9, count: 30))
        #expect(o["architecture"] as? String == "llama")
        #expect(o["max_attention_tokens"] as? Int == 512)
        #expect(o["context_length"] as? Int == 256)
    }

    @Test func attentionEqualsTheModelsMap() throws {
        let server = try LanternServe(["-c", "256", "--threads", "2", "--api-key", Self.key])
        defer { server.stop() }
        let loaded = try LoadedModel(path: try ModelFetcher().ensure(.defaultModel).path, threads: 2, precision: .environmentDefault)
        let tokens = loaded.encodePrompt(Self.text)
        let n = tokens.count
        #expect(n > 8)

        for (layer, head) in [(3, 8 as Int?), (0, nil), (29, 0)] {
            var body = #"{"text": "\#(Self.text)", "layer": \#(layer)"#
            if let head { body += #", "head": \#(head)"# }
            let r = try HTTPConnection.exchange(port: server.port, "POST", "/v1/lantern/attention", body: body + "}", headers: Self.auth)
            try #require(r.status == 200, "\(r.body)")
            let o = try r.json()
            let want = try loaded.attentionMap(tokens: tokens, layer: layer, head: head)
            let heads = head.map { [$0] } ?? Array(0..<9)
            #expect(o["layer"] as? Int == layer)
            #expect(o["heads"] as? [Int] == heads)
            #expect(o["layers"] as? Int == 30 && o["heads_in_layer"] as? Int == 9)
            #expect(o["shape"] as? [Int] == [heads.count, n, n])
            #expect(o["tokens"] as? [Int] == tokens)
            #expect(o["labels"] as? [String] == want.columnLabels)
            let weights = try #require(o["weights"] as? [[[Double]]]).map { $0.map { $0.map(Float.init) } }
            try #require(weights.count == heads.count && weights.allSatisfy { $0.count == n && $0.allSatisfy { $0.count == n } })
            // JSON carries each Float's shortest decimal, which reads back as the same Float.
            #expect(weights == want.weights, "layer \(layer) head \(head.map(String.init) ?? "all"): the map differs from LoadedModel.attentionMap")
            for (h, map) in weights.enumerated() {
                for (row, values) in map.enumerated() {
                    let sum = values.reduce(0, +)
                    #expect(abs(sum - 1) <= 1e-5, "head \(heads[h]) row \(row) sums to \(sum)")
                    #expect(values[(row + 1)...].allSatisfy { $0 == 0 }, "head \(heads[h]) row \(row): keys after the query must be exactly 0")
                }
            }
            let all = weights.joined().joined()
            let range = try #require(o["range"] as? [Double]).map(Float.init)
            #expect(range == [all.min() ?? -1, all.max() ?? -1])
        }
    }

    @Test func attentionErrorsAreOpenAIShaped400s() throws {
        let server = try LanternServe(["-c", "256", "--threads", "2", "--api-key", Self.key])
        defer { server.stop() }
        let cases: [(String, String?, String?)] = [
            (#"{"layer": 0}"#, "text", nil),
            (#"{"text": "The cat"}"#, "layer", nil),
            (#"{"text": "The cat", "layer": 30}"#, "layer", nil),
            (#"{"text": "The cat", "layer": -1}"#, "layer", nil),
            (#"{"text": "The cat", "layer": 0, "head": 9}"#, "head", nil),
            (#"{"text": "The cat", "layer": 0, "head": -1}"#, "head", nil),
            (#"{"text": "The cat", "layer": "3"}"#, "layer", nil),
            (#"{"text": 5, "layer": 0}"#, "text", nil),
            (#"{"text": "", "layer": 0}"#, "text", nil),
            (#"{"text": "\#(String(repeating: "cat ", count: 600))", "layer": 0}"#, "text", "context_length_exceeded"),
            (#"{"text": "The cat", "#, nil, nil),
        ]
        for (body, param, code) in cases {
            let r = try HTTPConnection.exchange(port: server.port, "POST", "/v1/lantern/attention", body: body, headers: Self.auth)
            #expect(r.status == 400, "\(body.prefix(60)): \(r.body)")
            let e = try #require(try r.json()["error"] as? [String: Any], "\(r.body)")
            #expect(e["type"] as? String == "invalid_request_error", "\(r.body)")
            #expect(!(e["message"] as? String ?? "").isEmpty)
            if let param { #expect(e["param"] as? String == param, "\(body.prefix(60)): \(r.body)") }
            if let code { #expect(e["code"] as? String == code, "\(r.body)") }
        }
        let layer = try HTTPConnection.exchange(port: server.port, "POST", "/v1/lantern/attention",
                                                body: #"{"text": "The cat", "layer": 30}"#, headers: Self.auth)
        #expect(((try layer.json()["error"] as? [String: Any])?["message"] as? String ?? "").contains("0..<30"))
        let head = try HTTPConnection.exchange(port: server.port, "POST", "/v1/lantern/attention",
                                               body: #"{"text": "The cat", "layer": 2, "head": 9}"#, headers: Self.auth)
        #expect(((try head.json()["error"] as? [String: Any])?["message"] as? String ?? "").contains("0..<9"))
    }

    /// A greedy chat gives the same text whether or not attention maps are computed while it runs (900
    /// tokens: several seconds even on a fast machine, so the maps are asked while it decodes; the
    /// reference map is computed before the chat starts).
    @Test func attentionLeavesARunningGenerationAlone() async throws {
        let server = try LanternServe(["-c", "1024", "--threads", "2"])
        defer { server.stop() }
        let loaded = try LoadedModel(path: try ModelFetcher().ensure(.defaultModel).path, threads: 2, precision: .environmentDefault)
        let want = try loaded.attentionMap(tokens: loaded.encodePrompt(Self.text), layer: 5, head: nil)
        let chat = #"{"messages": [{"role": "user", "content": "Tell me about cats."}], "max_tokens": 900, "temperature": 0, "logit_bias": \#(ServerLimitsTests.noEnd)}"#
        let port = server.port
        @Sendable func reply() throws -> String {
            let r = try HTTPConnection.exchange(port: port, "POST", "/v1/chat/completions", body: chat)
            let message = ((try r.json()["choices"] as? [[String: Any]])?.first?["message"] as? [String: Any])
            return try #require(message?["content"] as? String, "\(r.body)")
        }
        let alone = try reply()
        #expect(!alone.isEmpty)

        let box = ResultBox()
        let done = DispatchSemaphore(value: 0)
        DispatchQueue.global().async {
            box.set(Result { try reply() })
            done.signal()
        }
        _ = try await server.waitForMetrics(timeout: 30) { $0.value("lantern_requests_running") == 1 }
        var overlapped = 0
        for _ in 0..<3 {
            let r = try HTTPConnection.exchange(port: server.port, "POST", "/v1/lantern/attention", body: #"{"text": "\#(Self.text)", "layer": 5}"#)
            #expect(r.status == 200, "\(r.body)")
            let weights = try #require(try r.json()["weights"] as? [[[Double]]]).map { $0.map { $0.map(Float.init) } }
            #expect(weights == want.weights)
            if try server.metrics().value("lantern_requests_running") == 1 { overlapped += 1 }
        }
        #expect(overlapped >= 1, "the attention requests ran while the chat was decoding")
        await withCheckedContinuation { c in DispatchQueue.global().async { done.wait(); c.resume() } }
        #expect(try box.get() == alone, "a chat during attention requests answers as it does alone")
    }

    /// ScreenshotPNG reads Lantern's own PNG writer (fixed Huffman, run-length matches) back exactly.
    @Test func screenshotReaderReadsLanternsPNG() throws {
        let (w, h) = (37, 11)
        let rgb = (0..<(w * h * 3)).map { UInt8(truncatingIfNeeded: ($0 / 30) * 7) }
        let png = try ScreenshotPNG(PNG.encode(width: w, height: h, rgb: rgb))
        #expect(png.width == w && png.height == h && png.rgb == rgb)
    }
}

final class ResultBox: @unchecked Sendable {
    private let lock = NSLock()
    private var result: Result<String, any Error>?
    func set(_ r: Result<String, any Error>) { lock.lock(); result = r; lock.unlock() }
    func get() throws -> String? { lock.lock(); defer { lock.unlock() }; return try result?.get() }
}
