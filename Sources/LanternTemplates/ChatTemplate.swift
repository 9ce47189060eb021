import Foundation

/// A chat template (the Jinja subset used by Hugging Face `chat_template` strings), rendered
/// the way transformers' `apply_chat_template` does: `trim_blocks` and `lstrip_blocks` on,
/// `tojson` as `json.dumps(ensure_ascii=False)`, and the `raise_exception` / `strftime_now` globals.
///
/// The source is parsed once in `init`; `render` can then be called concurrently.
public struct ChatTemplate: Sendable {
    private let nodes: [JinjaNode]

    public init(_ source: String) throws {
        nodes = try JinjaParser.parse(source)
    }

    /// Renders with the given variables; names absent from `context` are Jinja-undefined.
    /// `now` is the clock `strftime_now` reads (injectable for reproducible output).
    public func render(_ context: [String: TemplateValue], now: Date = Date()) throws -> String {
        var variables: [String: JinjaValue] = [:]
        for (name, value) in context { variables[name] = JinjaValue(value) }
        return try JinjaInterpreter(context: variables, now: now).render(nodes)
    }

    /// Renders with variables read from a JSON object, keeping its key order for `tojson`.
    public func render(jsonContext: String, now: Date = Date()) throws -> String {
        guard case let .object(object) = try TemplateValue.parseJSON(jsonContext) else {
            throw TemplateError.invalidContext("the JSON context must be an object")
        }
        var context: [String: TemplateValue] = [:]
        for (key, value) in object.entries { context[key] = value }
        return try render(context, now: now)
    }

    /// The variables transformers passes for a plain chat: `messages` (role/content objects),
    /// `add_generation_prompt`, `bos_token`, `eos_token` and `tools` (null when no tools).
    public static func messagesContext(
        messages: [(role: String, content: String)], addGenerationPrompt: Bool, bosToken: String, eosToken: String
    ) -> [String: TemplateValue] {
        let list = messages.map { message -> TemplateValue in
            .object(TemplateObject([("role", .string(message.role)), ("content", .string(message.content))]))
        }
        return [
            "messages": .array(list),
            "add_generation_prompt": .bool(addGenerationPrompt),
            "bos_token": .string(bosToken),
            "eos_token": .string(eosToken),
            "tools": .null,
        ]
    }
}
