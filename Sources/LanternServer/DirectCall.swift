import Foundation
import Hummingbird
import NIOCore

/// What a route answered when called in-process (`OpenAIServer.respond(path:body:)`).
public struct DirectResponse: Sendable {
    public var status: Int
    /// The whole body: JSON, or every Server-Sent Event of a streamed answer.
    public var body: Data
}

extension OpenAIServer {
    /// The POST routes `respond(path:body:)` reaches.
    public static let postRoutes = ["/v1/chat/completions", "/v1/completions", "/v1/embeddings", "/tokenize", "/detokenize"]

    /// Calls one POST route's handler in-process with `body`, as the HTTP server does after routing and
    /// the API-key check, and collects the whole answer (a streamed one through every event). An
    /// `APIError` becomes its status and OpenAI error body, as the middleware writes it. Any other
    /// error is thrown: the fuzz target for request decoding (LanternFuzzing) treats it as a finding.
    public func respond(path: String, body: Data) async throws -> DirectResponse {
        var head = HTTPRequest(method: .post, scheme: "http", authority: "127.0.0.1", path: path)
        head.headerFields[.contentType] = "application/json"
        head.headerFields[.contentLength] = String(body.count)
        let request = Request(head: head, body: RequestBody(buffer: ByteBuffer(bytes: body)))
        do {
            let response: Response
            switch path {
            case "/v1/chat/completions": response = try await chat(request)
            case "/v1/completions": response = try await completions(request)
            case "/v1/embeddings": response = try await embeddings(request)
            case "/tokenize": response = try await tokenize(request)
            case "/detokenize": response = try await detokenize(request)
            default: throw APIError(.notFound, "no route \(path)")
            }
            let collector = CollectingWriter()
            try await response.body.write(collector)
            return DirectResponse(status: Int(response.status.code), body: collector.data)
        } catch let error as APIError {
            var out = ""
            error.body.write(to: &out)
            return DirectResponse(status: Int(error.status.code), body: Data(out.utf8))
        }
    }
}

/// Gathers a response body in memory.
private final class CollectingWriter: ResponseBodyWriter, @unchecked Sendable {
    var data = Data()
    func write(_ buffer: ByteBuffer) async throws { data.append(contentsOf: buffer.readableBytesView) }
    func finish(_ trailingHeaders: HTTPFields?) async throws {}
}
