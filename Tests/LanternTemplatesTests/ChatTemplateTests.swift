import Foundation
import Testing

@testable import LanternTemplates

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

@Suite("ChatTemplate constructs")
struct ChatTemplateConstructTests {
    @Test("whitespace control and trim_blocks/lstrip_blocks")
    func whitespace() throws {
        #expect(try render("a  {%- if true %} b {% endif -%}  c") == "a b c")
        #expect(try render("x\n    {% if true %}\n    y\n    {% endif %}\nz") == "x\n    y\nz")
        #expect(try render("  {{- 'v' -}}  \n w") == "vw")
        #expect(try render("{# comment #}\nnext") == "next")
        #expect(try render("kept\n") == "kept")
    }

    @Test("loop variables")
    func loopVariables() throws {
        let source = "{% for x in xs %}{{ loop.index }}{{ loop.index0 }}{{ loop.revindex }}{{ loop.revindex0 }}"
            + "{{ loop.first }}{{ loop.last }}{{ loop.length }} {% endfor %}"
        #expect(try render(source, ["xs": ["a", "b"]]) == "1021TrueFalse2 2110FalseTrue2 ")
    }

    @Test("set, namespace and attribute assignment")
    func namespaces() throws {
        let source = "{% set ns = namespace(seen=0) %}{% for x in xs %}{% set ns.seen = ns.seen + x %}{% set local = 1 %}{% endfor %}"
            + "{{ ns.seen }}{{ local is defined }}"
        #expect(try render(source, ["xs": [1, 2, 3]]) == "6False")
    }

    @Test("tests bind tighter than not")
    func tests() throws {
        #expect(try render("{{ not x is none }}{{ x is not none }}{{ y is defined }}{{ 'abc' is iterable }}", ["x": nil]) == "FalseFalseFalseTrue")
        #expect(try render("{{ 3 is number }}{{ 2.5 is float }}{{ {} is mapping }}{{ [] is sequence }}{{ 's' is string }}") == "TrueTrueTrueTrueTrue")
    }

    @Test("tojson is json.dumps(ensure_ascii=False) with key order kept")
    func tojsonFilter() throws {
        let value = try TemplateValue.parseJSON(#"{"z": 1, "a": [4.5, -3, null, true, "é\"\n"], "e": {}}"#)
        #expect(try render("{{ v|tojson }}", ["v": value]) == #"{"z": 1, "a": [4.5, -3, null, true, "é\"\n"], "e": {}}"#)
        #expect(try render("{{ v|tojson(indent=2) }}", ["v": ["k": [1, 2]]]) == "{\n  \"k\": [\n    1,\n    2\n  ]\n}")
    }

    @Test("Python str() of values")
    func printing() throws {
        #expect(try render("{{ a }} {{ b }} {{ c }} {{ d }} {{ e }} {{ f }}",
            ["a": true, "b": nil, "c": 3, "d": 3.0, "e": ["x", nil, 1.5], "f": ["k": "v"]])
            == "True None 3 3.0 ['x', None, 1.5] {'k': 'v'}")
        #expect(formatPythonFloat(1e16) == "1e+16")
        #expect(formatPythonFloat(1e-5) == "1e-05")
        #expect(formatPythonFloat(0.0001) == "0.0001")
        #expect(formatPythonFloat(123456789012345680.0) == "1.2345678901234568e+17")
        #expect(formatPythonFloat(-0.0) == "-0.0")
    }

    @Test("string methods, slicing, operators")
    func expressions() throws {
        #expect(try render("{{ ' a b '.strip() }}|{{ 'a,b'.split(',') }}|{{ 'abc'[::-1] }}|{{ [1,2,3][1:] }}|{{ 'x' ~ 1 }}|{{ 7 // 2 }}{{ -7 % 3 }}")
            == "a b|['a', 'b']|cba|[2, 3]|x1|32")
        #expect(try render("{{ 'y' if c else 'n' }}{{ 'k' in d }}{{ 'q' not in d }}", ["c": 0, "d": ["k": 1]]) == "nTrueTrue")
    }

    @Test("short-circuit guards an out-of-range index")
    func shortCircuit() throws {
        let source = "{% for m in ms %}{% if loop.last or ms[loop.index0 + 1].r != 't' %}E{% endif %}{% endfor %}"
        #expect(try render(source, ["ms": [["r": "t"], ["r": "u"]]]) == "EE")
    }

    @Test("raise_exception surfaces its message exactly")
    func raiseException() {
        #expect(throws: TemplateError.raised("No system role!")) { try render("{{ raise_exception('No system role!') }}") }
    }

    @Test("strftime_now uses the injected clock")
    func strftimeNow() throws {
        #expect(try render("{{ strftime_now('%d %b %Y') }}") == "14 Mar 2025")
    }

    @Test("unsupported constructs are typed errors naming the construct and line")
    func unsupported() {
        #expect(throws: TemplateError.unsupported("filter 'xmlattr'", line: 3)) { try ChatTemplate("a\nb\n{{ x | xmlattr }}") }
        #expect(throws: TemplateError.unsupported("statement 'include'", line: 2)) { try ChatTemplate("\n{% include 'x' %}") }
        #expect(throws: TemplateError.unsupported("test 'escapedish'", line: 1)) { try ChatTemplate("{{ x is escapedish }}") }
    }

    @Test("syntax errors carry the line")
    func syntaxErrors() {
        #expect(throws: TemplateError.syntax("unexpected end of template, expected 'elif' or 'else' or 'endif'", line: 2)) {
            try ChatTemplate("{% if x %}\nno end")
        }
        #expect(throws: TemplateError.syntax("unclosed variable tag '{{'", line: 1)) { try ChatTemplate("{{ x ") }
        #expect(throws: TemplateError.syntax("'break' outside of a loop", line: 1)) { try ChatTemplate("{% break %}") }
        #expect(throws: TemplateError.syntax("unexpected 'endfor'", line: 1)) { try ChatTemplate("{% endfor %}") }
    }

    @Test("undefined behaves like jinja2's default Undefined")
    func undefined() throws {
        #expect(try render("[{{ u }}]{{ not u }}{{ u|length }}{{ u is defined }}{{ d.missing is defined }}", ["d": [:]]) == "[]True0FalseFalse")
        #expect(throws: TemplateError.undefined("'u' is undefined", line: 1)) { try render("{{ u.x }}") }
    }

    @Test("garbage input throws instead of crashing")
    func robustness() throws {
        let source = try String(contentsOf: fixtureURL("chat-templates/llama-3.1-8b-instruct.jinja"), encoding: .utf8)
        let scalars = Array(source.unicodeScalars)
        let context = ChatTemplate.messagesContext(messages: [(role: "user", content: "hi")], addGenerationPrompt: true,
            bosToken: "<s>", eosToken: "</s>")
        // Every prefix of a real template either parses and renders or throws a TemplateError.
        for end in stride(from: 0, through: scalars.count, by: 7) {
            let prefix = String(String.UnicodeScalarView(scalars[0..<end]))
            do {
                _ = try ChatTemplate(prefix).render(context)
            } catch is TemplateError {
                continue
            }
        }
    }

    @Test("hostile nesting and recursion are errors, not crashes")
    func limits() throws {
        #expect(throws: TemplateError.self) { try ChatTemplate("{{ " + String(repeating: "(", count: 5000) + "1" + String(repeating: ")", count: 5000) + " }}") }
        #expect(throws: TemplateError.self) { try ChatTemplate(String(repeating: "{% if x %}", count: 5000)) }
        #expect(throws: TemplateError.self) { try ChatTemplate("{{ " + String(repeating: "not ", count: 5000) + "x }}") }
        #expect(throws: TemplateError.self) { try render("{% macro f(n) %}{{ f(n + 1) }}{% endmacro %}{{ f(0) }}") }
        #expect(throws: TemplateError.self) { try TemplateValue.parseJSON(String(repeating: "[", count: 5000)) }
        #expect(throws: TemplateError.self) { try render("{{ 'x' * 10**12 }}") }
        #expect(throws: TemplateError.self) { try render("{{ range(10**15)|length }}") }
        #expect(throws: TemplateError.self) { try render("{{ 2 ** 64 }}") }
        #expect(throws: TemplateError.self) { try render("{{ '7'|int(base=99) }}") }
        #expect(try render("{{ (-1) ** 3 }} {{ 3 ** 4 }} {{ [1,2,3][1::9223372036854775807] }} {{ [1,2,3][::-9223372036854775807] }}") == "-1 81 [2] [3]")
    }

    @Test("randomly mutated real templates throw TemplateError or render, never crash")
    func fuzz() throws {
        let names = ["smollm2-135m-instruct", "llama-3-8b-instruct", "llama-3.1-8b-instruct", "llama-3.2-3b-instruct", "gemma-2-2b-it",
            "mistral-7b-instruct-v0.2", "mistral-7b-instruct-v0.2-legacy", "qwen2.5-0.5b-instruct", "phi-3-mini-4k-instruct"]
        let alphabet = Array("{}%#-+()[]'\".|:,=~*/ \nabinotfrls0123456789".unicodeScalars)
        var state: UInt64 = 0x9E37_79B9_7F4A_7C15
        func next(_ bound: Int) -> Int {
            state = state &* 6_364_136_223_846_793_005 &+ 1_442_695_040_888_963_407
            return Int((state >> 33) % UInt64(max(bound, 1)))
        }
        let context = try TemplateValue.parseJSON(#"{"messages": [{"role": "system", "content": "s"}, {"role": "user", "content": "u"}], "tools": [{"name": "t"}], "add_generation_prompt": true}"#)
        guard case let .object(object) = context else { return }
        var variables: [String: TemplateValue] = [:]
        for (key, value) in object.entries { variables[key] = value }
        for name in names {
            let original = Array(try String(contentsOf: fixtureURL("chat-templates/\(name).jinja"), encoding: .utf8).unicodeScalars)
            for _ in 0..<150 {
                var scalars = original
                for _ in 0..<(1 + next(4)) {
                    let position = next(scalars.count + 1)
                    switch next(3) {
                    case 0 where position < scalars.count: scalars.remove(at: position)
                    case 1 where position < scalars.count: scalars[position] = alphabet[next(alphabet.count)]
                    default: scalars.insert(alphabet[next(alphabet.count)], at: position)
                    }
                }
                do {
                    _ = try ChatTemplate(String(String.UnicodeScalarView(scalars))).render(variables, now: fixtureDate)
                } catch is TemplateError {
                    continue
                }
            }
        }
    }

    @Test("JSON context keeps key order and number kinds")
    func jsonContext() throws {
        let template = try ChatTemplate("{{ o|tojson }} {{ o.i }} {{ o.f }}")
        #expect(try template.render(jsonContext: #"{"o": {"b": 1, "a": 2.0, "i": -3, "f": 4.5}}"#)
            == #"{"b": 1, "a": 2.0, "i": -3, "f": 4.5} -3 4.5"#)
        #expect(throws: TemplateError.invalidContext("the JSON context must be an object")) { try template.render(jsonContext: "[1]") }
        #expect(throws: TemplateError.self) { try TemplateValue.parseJSON(#"{"a": }"#) }
        #expect(try TemplateValue.parseJSON(#""\ud83d\ude00\u00e9""#) == .string("😀é"))
    }
}
