import Foundation
import Hummingbird
import Lantern
import NIOCore

/// `POST /v1/lantern/attention`: `{"text": String, "layer": Int, "head": Int?}`. `model` may be sent
/// (checked against --alias like the OpenAI routes).
struct AttentionFields: Decodable, Sendable {
    var model: String?
    var text: String
    var layer: Int
    var head: Int?
}

// The routes of Lantern's own page: the page itself, the model's shape and attention maps. Chat and
// token probabilities go through the OpenAI routes.
extension OpenAIServer {
    /// `GET /`: the self-contained page (inline CSS and JS, no external resources).
    func page() -> Response {
        Response(status: .ok, headers: [.contentType: "text/html; charset=utf-8", .cacheControl: "no-cache"],
                 body: .init(byteBuffer: ByteBuffer(string: Page.html)))
    }

    /// `GET /v1/lantern/info`: what the page's selectors offer.
    func info() throws(APIError) -> Response {
        let layout = try attentionLayout()
        return jsonResponse(.object([
            ("object", "lantern.info"), ("model", .string(modelName)), ("architecture", .string(layout.architecture)),
            ("layers", .int(layout.heads.count)), ("heads", .array(layout.heads.map(JSON.int))),
            ("max_attention_tokens", .int(layout.maxTokens)),
            ("context_length", .int(backend.contextLength)), ("vocab_size", .int(backend.vocabularySize)),
        ]))
    }

    /// `POST /v1/lantern/attention`: one layer's self-attention over the text's tokens (BOS first when
    /// the model adds one, special tokens parsed), one head or all: `weights[head][row][column]`, each row
    /// summing to 1, keys a causal row does not see exactly 0.
    func attention(_ request: Request) async throws -> Response {
        let fields = try decodeBody(AttentionFields.self, from: try await readBody(request))
        try checkModel(fields.model)
        let layout = try attentionLayout()
        guard (0..<layout.heads.count).contains(fields.layer) else {
            throw APIError.invalid("layer \(fields.layer) is outside 0..<\(layout.heads.count)", param: "layer")
        }
        let heads = layout.heads[fields.layer]
        if let head = fields.head, !(0..<heads).contains(head) {
            throw APIError.invalid("head \(head) is outside 0..<\(heads) (layer \(fields.layer) has \(heads) heads)", param: "head")
        }
        let tokens = backend.tokenize(fields.text, addSpecial: true)
        guard !tokens.isEmpty else { throw APIError.invalid("'text' gives no tokens", param: "text") }
        guard tokens.count <= layout.maxTokens else {
            throw APIError.invalid("'text' has \(tokens.count) tokens; an attention map covers at most \(layout.maxTokens)",
                                   param: "text", code: "context_length_exceeded")
        }
        let map: AttentionMap
        do {
            map = try await backend.attention(tokens: tokens, layer: fields.layer, head: fields.head)
        } catch let e as AttentionMapError {
            throw APIError.invalid(e.description)
        } catch {
            throw APIError(.internalServerError, "the attention map failed: \(error)", type: "server_error")
        }
        let (lo, hi) = map.range
        func floats(_ row: [Float]) -> JSON { .array(row.map(JSON.float)) }
        return jsonResponse(.object([
            ("object", "lantern.attention"), ("model", .string(modelName)),
            ("layer", .int(map.layer)), ("layers", .int(layout.heads.count)), ("heads_in_layer", .int(heads)),
            ("heads", .array(map.heads.map(JSON.int))),
            ("tokens", .array(map.columnTokens.map(JSON.int))), ("labels", .array(map.columnLabels.map(JSON.string))),
            ("shape", .array([map.heads.count, map.rowTokens.count, map.columnTokens.count].map(JSON.int))),
            ("range", .array([.float(lo), .float(hi)])),
            ("weights", .array(map.weights.map { .array($0.map(floats)) })),
        ]))
    }

    func attentionLayout() throws(APIError) -> AttentionLayout {
        guard let layout = backend.attentionLayout else {
            throw APIError(.notFound, "this server's backend draws no attention maps", code: "not_found")
        }
        return layout
    }
}
