/// Errors from parsing or rendering a chat template.
///
/// Every failure is typed so callers (CLI, server) can tell a broken template (`syntax`,
/// `unsupported`) from a template that rejected its input on purpose (`raised`, the message of
/// `raise_exception(...)`, which is what a chat API should return to the user).
public enum TemplateError: Error, Equatable, CustomStringConvertible {
    /// The template text is not valid Jinja.
    case syntax(String, line: Int)
    /// Valid Jinja that this renderer deliberately does not implement (names the construct).
    case unsupported(String, line: Int)
    /// An undefined value was used where Jinja raises `UndefinedError` (attribute of undefined,
    /// arithmetic on undefined, calling undefined...).
    case undefined(String, line: Int)
    /// A Python-level type or value error during rendering (e.g. `'a' + 1`).
    case runtime(String, line: Int)
    /// The template called `raise_exception(message)`; carries the message exactly.
    case raised(String)
    /// The JSON given as context is malformed.
    case invalidJSON(String, offset: Int)
    /// The JSON context is valid but not an object.
    case invalidContext(String)

    public var description: String {
        switch self {
        case let .syntax(message, line): return "template syntax error (line \(line)): \(message)"
        case let .unsupported(construct, line): return "unsupported template construct (line \(line)): \(construct)"
        case let .undefined(message, line): return "undefined value (line \(line)): \(message)"
        case let .runtime(message, line): return "template error (line \(line)): \(message)"
        case let .raised(message): return message
        case let .invalidJSON(message, offset): return "invalid JSON at byte \(offset): \(message)"
        case let .invalidContext(message): return "invalid template context: \(message)"
        }
    }
}
