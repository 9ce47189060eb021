import Foundation
import Testing

@testable import LanternTemplates

/// `==`, `!=`, ordering and `in` on values that share themselves: thirty top-level
/// `{% set a = [a, a] %}` build a list of 2^30 leaves in 30 small steps, which compares in 2^30 steps.
/// Each comparison spends from the render's budget, so such a template ends with a typed error.
@Suite("Comparison budget")
struct ComparisonBudgetTests {
    static let doubling = "{% set a = [1] %}" + String(repeating: "{% set a = [a, a] %}", count: 30)

    /// The message of the runtime error `source` raises under a comparison budget of `limit`.
    func runtimeMessage(_ source: String, limit: Int) throws -> String? {
        let interpreter = JinjaInterpreter(context: [:], now: Date(timeIntervalSince1970: 0), maxComparisonWork: limit)
        do {
            _ = try interpreter.render(try JinjaParser.parse(source))
        } catch let TemplateError.runtime(message, _) {
            return message
        }
        return nil
    }

    @Test("comparing exponentially large self-sharing values is a typed error", .timeLimit(.minutes(1)))
    func selfSharingValues() throws {
        for expression in ["{{ a == a }}", "{{ a != a }}", "{{ a < a }}", "{{ a >= a }}", "{{ a in [0, a] }}", "{{ a not in [a] }}",
                           "{{ a is eq(a) }}", "{{ a is lt(a) }}", "{{ [a, a]|unique|list|length }}", "{{ [a, a]|sort|length }}",
                           "{{ [a, a]|max|length }}", "{{ a is in([a]) }}"] {
            let message = try runtimeMessage(Self.doubling + expression, limit: 100_000)
            #expect(message?.contains("comparisons in this render visited more than 100000") == true, "\(expression): \(message ?? "no error")")
        }
        // Through the public API, with the default budget.
        let start = Date()
        #expect {
            try ChatTemplate(Self.doubling + "{{ a == a }}").render([:], now: Date(timeIntervalSince1970: 0))
        } throws: { error in
            guard case let TemplateError.runtime(message, _) = error else { return false }
            return message.contains("comparisons in this render")
        }
        #expect(Date().timeIntervalSince(start) < 30)
    }

    @Test("the budget is per render, shared by every comparison in it")
    func perRender() throws {
        // 200 comparisons of 1,000-element lists: about 200,000 units.
        let source = "{% set l = range(1000)|list %}{% for i in range(200) %}{{ l == l }}{% endfor %}"
        #expect(try runtimeMessage(source, limit: 100_000) != nil)
        let interpreter = JinjaInterpreter(context: [:], now: Date(), maxComparisonWork: 1_000_000)
        #expect(try interpreter.render(try JinjaParser.parse(source)) == String(repeating: "True", count: 200))
    }

    @Test("ordinary comparisons are unchanged")
    func ordinary() throws {
        let render = { (s: String) in try ChatTemplate(s).render([:], now: Date(timeIntervalSince1970: 0)) }
        #expect(try render("{{ [1, [2, 'x']] == [1, [2, 'x']] }}{{ [1, 2] < [1, 3] }}{{ 'b' in ['a', 'b'] }}{{ 'ab' in 'cabd' }}{{ {'k': [1]} == {'k': [1]} }}")
            == "TrueTrueTrueTrueTrue")
        #expect(try render("{{ [3, 1, 2]|sort|join(',') }} {{ [1, 1, 2]|unique|join(',') }} {{ [1, 5, 2]|max }} {{ 1 is eq(1.0) }}")
            == "1,2,3 1,2 5 True")
        // The brief's loop form: `set` inside a loop is local to each iteration, so `a` stays [1].
        #expect(try render("{% set a = [1] %}{% for i in range(30) %}{% set a = [a, a] %}{% endfor %}{{ a == a }}") == "True")
        #expect(JinjaLimits.maxComparisonWork == 4_000_000)
    }
}
