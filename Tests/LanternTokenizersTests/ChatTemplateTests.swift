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
            #expect(output == testCase.expected)
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
