import Foundation
import Testing

@testable import LanternTokenizers

/// Fixtures live in `Tests/Fixtures`, found from this file's path (no bundle resources).
private func fixtureURL(_ relative: String) -> URL {
    var directory = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
    while directory.path != "/" {
        let candidate = directory.appendingPathComponent("Fixtures")
        if FileManager.default.fileExists(atPath: candidate.path) { return candidate.appendingPathComponent(relative) }
        directory = directory.deletingLastPathComponent()
    }
    return URL(fileURLWithPath: relative)
}

/// The date the fixtures' `strftime_now` was pinned to: 2025-03-14 (local midnight).
private let fixtureDate: Date = {
    var calendar = Calendar(identifier: .gregorian)
    calendar.timeZone = TimeZone.current
    return calendar.date(from: DateComponents(year: 2025, month: 3, day: 14)) ?? Date()
}()

struct RenderCase: Sendable, CustomTestStringConvertible {
    let id: String
    let template: String
    let variables: [String: TemplateValue]
    let expected: String?
    let expectedError: String?
    var testDescription: String { id }
}

private func loadCases() throws -> [RenderCase] {
    let text = try String(contentsOf: fixtureURL("chat-templates/cases.json"), encoding: .utf8)
    guard case let .array(items) = try TemplateValue.parseJSON(text) else { return [] }
    return items.compactMap { item in
        guard case let .object(object) = item, case let .string(id)? = object["id"], case let .string(template)? = object["template"],
            case let .object(variables)? = object["variables"]
        else { return nil }
        var context: [String: TemplateValue] = [:]
        for (key, value) in variables.entries { context[key] = value }
        var expected: String? = nil
        var expectedError: String? = nil
        if case let .string(s)? = object["expected"] { expected = s }
        if case let .string(s)? = object["expected_error"] { expectedError = s }
        return RenderCase(id: id, template: template, variables: context, expected: expected, expectedError: expectedError)
    }
}

private let fixtureCases: [RenderCase] = (try? loadCases()) ?? []

private func loadTemplate(_ name: String) throws -> ChatTemplate {
    let source = try String(contentsOf: fixtureURL("chat-templates/\(name).jinja"), encoding: .utf8)
    return try ChatTemplate(source)
}

private func render(_ source: String, _ context: [String: TemplateValue] = [:]) throws -> String {
    try ChatTemplate(source).render(context, now: fixtureDate)
}

@Suite("ChatTemplate fixtures")
struct ChatTemplateFixtureTests {
    @Test("all 81 fixture cases load")
    func casesLoad() {
        #expect(fixtureCases.count == 81)
    }

    @Test("fixture case renders exactly as jinja2", arguments: fixtureCases)
    func fixture(_ testCase: RenderCase) throws {
        let template = try loadTemplate(testCase.template)
        if let message = testCase.expectedError {
            #expect(throws: TemplateError.raised(message)) {
                try template.render(testCase.variables, now: fixtureDate)
            }
        } else {
            let output = try template.render(testCase.variables, now: fixtureDate)
            #expect(output == testCase.expected, "got \(output.debugDescription), want \((testCase.expected ?? "").debugDescription)")
        }
    }

    @Test("messagesContext matches the fixtures' variables")
    func messagesContext() throws {
        let context = ChatTemplate.messagesContext(
            messages: [(role: "user", content: "Hello! What is the capital of France?")], addGenerationPrompt: true,
            bosToken: "<|im_start|>", eosToken: "<|im_end|>")
        let reference = try #require(fixtureCases.first { $0.id == "smollm2-135m-instruct/user/gen" })
        #expect(context == reference.variables)
        #expect(try loadTemplate("smollm2-135m-instruct").render(context) == reference.expected)
    }
}

/// Extra goldens from `Fixtures/chat-templates/extra/generate.py` (Python jinja2 3.1, configured
/// as transformers does): the real templates with tools, tool calls and template kwargs, and
/// inline templates that each exercise one construct.
struct ExtraCase: Sendable, CustomTestStringConvertible {
    let id: String
    let source: String
    let variables: [String: TemplateValue]
    let expected: String?
    let expectedError: String?
    /// Set when jinja2 itself fails with a non-`raise_exception` error (e.g. `UndefinedError: …`).
    let expectedFailure: String?
    var testDescription: String { id }
}

private func loadExtraCases() throws -> [ExtraCase] {
    let text = try String(contentsOf: fixtureURL("chat-templates/extra/extra-cases.json"), encoding: .utf8)
    guard case let .array(items) = try TemplateValue.parseJSON(text) else { return [] }
    return try items.compactMap { item in
        guard case let .object(object) = item, case let .string(id)? = object["id"],
            case let .object(variables)? = object["variables"]
        else { return nil }
        var source = ""
        if case let .string(inline)? = object["source"] {
            source = inline
        } else if case let .string(file)? = object["template_file"] {
            source = try String(contentsOf: fixtureURL("chat-templates/\(file).jinja"), encoding: .utf8)
        }
        var context: [String: TemplateValue] = [:]
        for (key, value) in variables.entries { context[key] = value }
        func text(_ key: String) -> String? {
            if case let .string(s)? = object[key] { return s }
            return nil
        }
        return ExtraCase(id: id, source: source, variables: context, expected: text("expected"),
            expectedError: text("expected_error"), expectedFailure: text("expected_failure"))
    }
}

private let extraCases: [ExtraCase] = (try? loadExtraCases()) ?? []

@Suite("ChatTemplate jinja2 goldens")
struct ChatTemplateGoldenTests {
    @Test("extra goldens load")
    func load() {
        #expect(extraCases.count >= 70)
    }

    @Test("renders exactly as jinja2", arguments: extraCases)
    func golden(_ testCase: ExtraCase) throws {
        let template = try ChatTemplate(testCase.source)
        if let message = testCase.expectedError {
            #expect(throws: TemplateError.raised(message)) { try template.render(testCase.variables, now: fixtureDate) }
        } else if let failure = testCase.expectedFailure {
            do {
                let output = try template.render(testCase.variables, now: fixtureDate)
                Issue.record("expected jinja2's failure '\(failure)', got output \(output.debugDescription)")
            } catch let error as TemplateError {
                if failure.hasPrefix("UndefinedError: ") {
                    #expect(error == .undefined(String(failure.dropFirst("UndefinedError: ".count)), line: lineOf(error)))
                }
            }
        } else {
            let output = try template.render(testCase.variables, now: fixtureDate)
            #expect(output == testCase.expected, "got \(output.debugDescription), want \((testCase.expected ?? "").debugDescription)")
        }
    }
}

private func lineOf(_ error: TemplateError) -> Int {
    switch error {
    case let .syntax(_, line), let .unsupported(_, line), let .undefined(_, line), let .runtime(_, line): return line
    default: return 0
    }
}
