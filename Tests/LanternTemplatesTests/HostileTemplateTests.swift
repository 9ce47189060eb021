import Foundation
import Testing

@testable import LanternTemplates

/// Inputs from an untrusted chat template or tokenizer.json that used to crash the process
/// (stack overflow, trap, or memory exhaustion) and must now be typed errors.

private func render(_ source: String, _ context: [String: TemplateValue] = [:]) throws -> String {
    try ChatTemplate(source).render(context, now: Date(timeIntervalSince1970: 0))
}

/// The message of a runtime error, or nil for any other outcome.
private func runtimeMessage(_ body: () throws -> Void) -> String? {
    do {
        try body()
    } catch let TemplateError.runtime(message, _) {
        return message
    } catch {
        return nil
    }
    return nil
}

@Suite("Hostile chat templates")
struct HostileTemplateTests {
    @Test("self-referencing namespaces print as jinja2 3.1.6 prints them")
    func namespaceCycles() throws {
        #expect(try render("{% set ns = namespace(a=1) %}{% set ns.me = ns %}{{ ns }}")
            == "<Namespace {'a': 1, 'me': <Namespace {...}>}>")
        #expect(try render("{% set ns = namespace(a=1) %}{% set ns.l = [ns] %}{{ ns }}")
            == "<Namespace {'a': 1, 'l': [<Namespace {...}>]}>")
        #expect(try render(#"{% set ns = namespace(a=1) %}{% set ns.d = {"k": ns} %}{{ ns }}"#)
            == "<Namespace {'a': 1, 'd': {'k': <Namespace {...}>}}>")
        #expect(try render("{% set ns = namespace(a=1) %}{% set ns.me = ns %}{{ ns|string|length }}{{ (ns ~ '')|length }}") == "4545")
        #expect(throws: TemplateError.self) { try render("{% set ns = namespace(a=1) %}{% set ns.l = [ns] %}{{ ns.l|tojson }}") }
    }

    @Test("a namespace holding itself is freed when the render ends")
    func namespaceCycleIsFreed() throws {
        weak var weakNamespace: JinjaNamespace?
        do {
            let interpreter = JinjaInterpreter(context: [:], now: Date())
            _ = try interpreter.render(try JinjaParser.parse("{% set ns = namespace(a=1) %}{% set ns.me = ns %}{% set ns.l = [ns] %}"))
            guard case let .namespace(ns) = interpreter.lookup("ns") else {
                Issue.record("ns is not a namespace")
                return
            }
            weakNamespace = ns
            #expect(weakNamespace != nil)
        }
        #expect(weakNamespace == nil)
    }

    @Test("values nested deeper than the limit are errors, not stack overflows")
    func deepValues() throws {
        let deep = "{% set ns = namespace(x=0) %}{% for i in range(100000) %}{% set ns.x = [ns.x] %}{% endfor %}{{ ns.x }}"
        #expect(runtimeMessage { _ = try render(deep) }?.contains("nested too deeply") == true)
        let chain = "{% set ns = namespace(c=0) %}{% for i in range(20000) %}{% set ns.c = namespace(n=ns.c) %}{% endfor %}{{ ns.c }}"
        #expect(runtimeMessage { _ = try render(chain) }?.contains("nested too deeply") == true)
        let shallow = "{% set ns = namespace(x=0) %}{% for i in range(3) %}{% set ns.x = [ns.x] %}{% endfor %}{{ ns.x }}{{ ns.x|tojson }}"
        #expect(try render(shallow) == "[[[0]]][[[0]]]")
    }
}

@Suite("Hostile template nesting")
struct HostileNestingTests {
    /// The syntax error's message, or nil when parsing succeeded or failed otherwise.
    private func syntaxMessage(_ source: String) -> String? {
        do {
            _ = try ChatTemplate(source)
        } catch let TemplateError.syntax(message, _) {
            return message
        } catch {
            return nil
        }
        return nil
    }

    @Test("every AST nesting level counts: else-chains and left-nested operator/postfix/filter chains")
    func chains() throws {
        let hostile: [(String, String)] = [
            ("{{ " + String(repeating: "1 if 1 else ", count: 40_000) + "1 }}", "'if … else' expression"),
            ("{{ " + String(repeating: "1 if ", count: 5_000) + "1 }}", "'if … else' expression"),
            ("{{ 1" + String(repeating: "+1", count: 10_000) + " }}", "'+' chain"),
            ("{{ 1" + String(repeating: "-1", count: 10_000) + " }}", "'-' chain"),
            ("{{ 1" + String(repeating: "*1", count: 10_000) + " }}", "'*' chain"),
            ("{{ 2" + String(repeating: "**1", count: 10_000) + " }}", "'**' chain"),
            ("{{ 1" + String(repeating: " or 1", count: 10_000) + " }}", "'or' chain"),
            ("{{ 1" + String(repeating: " and 1", count: 10_000) + " }}", "'and' chain"),
            ("{{ x" + String(repeating: ".a", count: 10_000) + " }}", "'.attribute' chain"),
            ("{{ x" + String(repeating: "[0]", count: 10_000) + " }}", "'[…]' subscript chain"),
            ("{{ x" + String(repeating: "()", count: 10_000) + " }}", "'(…)' call chain"),
            ("{{ x" + String(repeating: "|trim", count: 10_000) + " }}", "'|filter' chain"),
            ("{{ x" + String(repeating: " is defined", count: 10_000) + " }}", "'is' test chain"),
        ]
        for (source, construct) in hostile {
            let message = syntaxMessage(source)
            #expect(message?.contains(construct) == true, "\(construct): \(message ?? "no syntax error")")
        }
        #expect(throws: TemplateError.syntax("nesting too deep ('+' chain, more than \(JinjaParser.maxNesting) levels)", line: 3)) {
            try ChatTemplate("\n\n{{ 1" + String(repeating: "+1", count: 10_000) + " }}")
        }
    }

    @Test("a tree just under the limit parses, renders and is freed")
    func deepButAllowed() throws {
        let terms = JinjaParser.maxNesting - 10
        #expect(try render("{{ 1" + String(repeating: "+1", count: terms) + " }}") == String(terms + 1))
        #expect(try render("{{ " + String(repeating: "0 if 0 else ", count: terms) + "7 }}") == "7")
        #expect(try render("{{ 'a'" + String(repeating: "|upper", count: terms) + " }}") == "A")
        // `~` builds one flat node, so long chains stay fine.
        #expect(try render("{{ 'a'" + String(repeating: " ~ 'a'", count: 10_000) + " }}").count == 10_001)
    }
}

@Suite("Hostile template arithmetic")
struct HostileArithmeticTests {
    @Test("divisibleby -1 is true for every integer, Int.min included (no trap)")
    func divisibleByMinusOne() throws {
        #expect(try render("{{ x is divisibleby(-1) }}{{ 7 is divisibleby(-1) }}{{ x is divisibleby(2) }}{{ 7 is divisibleby(-2) }}",
            ["x": .int(Int.min)]) == "TrueTrueTrueFalse")
    }
}

@Suite("Hostile template budgets")
struct HostileBudgetTests {
    @Test("doubling a string in a loop stops at the string cap instead of exhausting memory")
    func doubling() throws {
        let source = "{% set ns = namespace(s='ab') %}{% for i in range(60) %}{% set ns.s = ns.s ~ ns.s %}{% endfor %}{{ ns.s|length }}"
        #expect(runtimeMessage { _ = try render(source) }?.contains("MiB limit") == true)
        let plus = "{% set ns = namespace(s='ab') %}{% for i in range(60) %}{% set ns.s = ns.s + ns.s %}{% endfor %}"
        #expect(runtimeMessage { _ = try render(plus) }?.contains("MiB limit") == true)
        let list = "{% set ns = namespace(l=[1]) %}{% for i in range(60) %}{% set ns.l = ns.l + ns.l %}{% endfor %}"
        #expect(runtimeMessage { _ = try render(list) }?.contains("item limit") == true)
        let replace = "{% set s = 'a' * 10000 %}{{ s.replace('a', s) }}"
        #expect(runtimeMessage { _ = try render(replace) }?.contains("MiB") == true)
        let join = "{% set ns = namespace(s='abcd' * 1000000) %}{% for i in range(60) %}{% set ns.s = [ns.s, ns.s]|join %}{% endfor %}"
        #expect(runtimeMessage { _ = try render(join) }?.contains("MiB limit") == true)
        // The output itself is capped too, even when every printed piece is small enough.
        let output = "{% set s = 'x' * 10000000 %}{% for i in range(10) %}{{ s }}{% endfor %}"
        #expect(runtimeMessage { _ = try render(output) }?.contains("output larger than") == true)
        #expect(try render("{% set ns = namespace(s='ab') %}{% for i in range(3) %}{% set ns.s = ns.s ~ ns.s %}{% endfor %}{{ ns.s }}")
            == "abababababababab")
    }

    @Test("loop iterations are budgeted per render")
    func iterations() throws {
        let nodes = try JinjaParser.parse("{% for i in range(1000) %}{% for j in range(1000) %}{% endfor %}{% endfor %}")
        let limited = JinjaInterpreter(context: [:], now: Date(), maxIterations: 50_000)
        #expect(throws: TemplateError.runtime("more than 50000 loop iterations in one render", line: 1)) { try limited.render(nodes) }
        let filtered = try JinjaParser.parse("{% for i in range(1000) if i > 0 %}{% endfor %}")
        #expect(throws: TemplateError.self) { try JinjaInterpreter(context: [:], now: Date(), maxIterations: 999).render(filtered) }
        #expect(try JinjaInterpreter(context: [:], now: Date(), maxIterations: 2000).render(filtered) == "")
        #expect(JinjaLimits.maxIterations == 10_000_000)
    }

    @Test("find/rfind/count are linear and match Python", .timeLimit(.minutes(1)))
    func linearSearch() throws {
        let source = "{% set s = 'a' * 1000000 %}{{ s.count('a') }} {{ s.find('ab') }} {{ s.rfind('aa') }} {{ s.count('aa') }} "
            + "{{ s.find('a' * 500000 ~ 'b') }} {{ 'aaa'.rfind('aa') }} {{ 'abcabc'.find('c') }} {{ 'abcabc'.rfind('bc') }} "
            + "{{ 'abc'.count('') }}{{ 'abc'.rfind('') }}{{ 'abab'.replace('ab', 'x') }}{{ 'aaaa'.replace('aa', 'b', 1) }}{{ 'ab'.replace('', '-') }}"
            + "{{ ('a' * 500000 ~ 'b') in s }}"
        // Reference: jinja2 3.1.6 prints the same up to the final `in` test.
        #expect(try render(source) == "1000000 -1 999998 500000 -1 1 2 4 43xxbaa-a-b-False")
    }
}
