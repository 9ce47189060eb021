// Text helpers shared by the tokenizer.json pipeline: patterns, split behaviours, a byte trie and
// the Unicode character classes the Hugging Face `tokenizers` library uses.

/// Character classes as Rust's `char` methods and the `tokenizers` crate define them.
enum HFChar {
    /// Rust `char::is_whitespace`: the Unicode White_Space property.
    static func isWhitespace(_ s: Unicode.Scalar) -> Bool { s.properties.isWhitespace }

    /// BERT punctuation: ASCII punctuation or any Unicode P* category.
    static func isPunctuation(_ s: Unicode.Scalar) -> Bool {
        if s.isASCII {
            let v = s.value
            return (33...47).contains(v) || (58...64).contains(v) || (91...96).contains(v) || (123...126).contains(v)
        }
        switch s.properties.generalCategory {
        case .connectorPunctuation, .dashPunctuation, .openPunctuation, .closePunctuation,
             .initialPunctuation, .finalPunctuation, .otherPunctuation: return true
        default: return false
        }
    }

    /// Rust `char::is_numeric`: Nd, Nl, No.
    static func isNumeric(_ s: Unicode.Scalar) -> Bool {
        switch s.properties.generalCategory {
        case .decimalNumber, .letterNumber, .otherNumber: return true
        default: return false
        }
    }

    /// `\w` of Oniguruma and Rust's regex with Unicode (UTS #18): Alphabetic, marks, decimal numbers, connector
    /// punctuation, join controls.
    static func isWord(_ s: Unicode.Scalar) -> Bool {
        if s.value == 0x200C || s.value == 0x200D { return true }
        if s.properties.isAlphabetic { return true }
        switch s.properties.generalCategory {
        case .nonspacingMark, .spacingMark, .enclosingMark, .decimalNumber, .connectorPunctuation: return true
        default: return false
        }
    }

    static func isCombiningMark(_ s: Unicode.Scalar) -> Bool {
        switch s.properties.generalCategory {
        case .nonspacingMark, .spacingMark, .enclosingMark: return true
        default: return false
        }
    }
}

extension String {
    init<S: Sequence<Unicode.Scalar>>(scalars: S) {
        var view = String.UnicodeScalarView()
        view.append(contentsOf: scalars)
        self = String(view)
    }
}

/// A compiled Swift `Regex` matched over Unicode scalars (Oniguruma and Rust regex match code
/// points, not grapheme clusters). `Regex` caches its compiled program thread-safely, hence the
/// unchecked conformance.
struct CompiledRegex: @unchecked Sendable {
    let source: String
    let regex: Regex<AnyRegexOutput>

    init(_ source: String) throws(TokenizerError) {
        self.source = source
        do {
            regex = try Regex(Self.onigurumaClasses(source)).matchingSemantics(.unicodeScalar)
        } catch {
            throw .invalidTokenizerJSON("regex \(source.debugDescription) does not compile: \(error)")
        }
    }

    /// Rewrites the class escapes whose Swift meaning differs from Oniguruma's Unicode one:
    /// `\d` is Nd only (Swift also takes other digits such as ①) and `\w` is UTS #18's word set.
    static func onigurumaClasses(_ source: String) -> String {
        let word = #"\p{Alphabetic}\p{M}\p{Nd}\p{Pc}\u{200C}\u{200D}"#
        var out = String.UnicodeScalarView()
        var inClass = 0
        var it = source.unicodeScalars.makeIterator()
        while let c = it.next() {
            if c == "\\", let e = it.next() {
                switch e {
                case "d": out += #"\p{Nd}"#.unicodeScalars
                case "D": out += #"\P{Nd}"#.unicodeScalars
                case "w": out += (inClass > 0 ? word : "[" + word + "]").unicodeScalars
                case "W" where inClass == 0: out += ("[^" + word + "]").unicodeScalars
                default: out.append(c); out.append(e)
                }
                continue
            }
            if c == "[" { inClass += 1 } else if c == "]" && inClass > 0 { inClass -= 1 }
            out.append(c)
        }
        return String(out)
    }

    /// Match ranges in scalar offsets of `text`, in order, non-overlapping.
    func matches(in text: String) -> [Range<Int>] {
        var out: [Range<Int>] = []
        let view = text.unicodeScalars
        var lastIndex = view.startIndex
        var lastOffset = 0
        for m in text.matches(of: regex) {
            let lo = lastOffset + view.distance(from: lastIndex, to: m.range.lowerBound)
            let hi = lo + view.distance(from: m.range.lowerBound, to: m.range.upperBound)
            lastIndex = m.range.upperBound
            lastOffset = hi
            out.append(lo..<hi)
        }
        return out
    }
}

/// `{"String": "..."}` or `{"Regex": "..."}` in tokenizer.json, or a character test built in code.
enum TextPattern: Sendable {
    case literal([Unicode.Scalar])
    case regex(CompiledRegex)
    /// The GPT-2 / LLaMA-3 / Qwen2 regexes, recognised by their source and run by the scanners of
    /// `PreTokenizer` (exact, and much faster than `Regex`). Every scalar is inside some match.
    case scanner(PreTokenizer.Stage)
    case predicate(@Sendable (Unicode.Scalar) -> Bool)

    static let gpt2Regex = #"'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+"#
    static let llama3Regex = #"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+"#
    static let qwen2Regex = #"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+"#

    static func compile(regex source: String) throws(TokenizerError) -> TextPattern {
        switch source {
        case gpt2Regex: return .scanner(.gpt2)
        case llama3Regex: return .scanner(.llama3(maxDigits: 3))
        case qwen2Regex: return .scanner(.llama3(maxDigits: 1))
        default: return .regex(try CompiledRegex(source))
        }
    }

    /// `tokenizers`' `Pattern::find_matches`: pieces covering all of `scalars`, each flagged as a
    /// match or not. Empty matches come out as empty pieces (callers drop them).
    func findMatches(_ text: String, _ scalars: [Unicode.Scalar]) -> [(range: Range<Int>, isMatch: Bool)] {
        var ranges: [Range<Int>] = []
        switch self {
        case .literal(let needle):
            guard !needle.isEmpty, needle.count <= scalars.count else { break }
            var i = 0
            while i + needle.count <= scalars.count {
                if scalars[i] == needle[0] && scalars[i..<(i + needle.count)].elementsEqual(needle) {
                    ranges.append(i..<(i + needle.count))
                    i += needle.count
                } else {
                    i += 1
                }
            }
        case .regex(let regex):
            ranges = regex.matches(in: text)
        case .scanner(let stage):
            let t = ScalarText(utf8: text.utf8)
            guard t.count == scalars.count, t.count > 0 else { break }
            switch stage {
            case .gpt2: PreTokenizer.splitGPT2(t, 0..<t.count, into: &ranges)
            case .llama3(let maxDigits): PreTokenizer.splitLlama3(t, 0..<t.count, maxDigits: maxDigits, into: &ranges)
            case .runs(let kind, let chunk): PreTokenizer.splitRuns(t, 0..<t.count, kind: kind, chunk: chunk, into: &ranges)
            }
        case .predicate(let test):
            for (i, s) in scalars.enumerated() where test(s) { ranges.append(i..<(i + 1)) }
        }
        var out: [(range: Range<Int>, isMatch: Bool)] = []
        out.reserveCapacity(ranges.count * 2 + 1)
        var previous = 0
        for r in ranges {
            if previous < r.lowerBound { out.append((previous..<r.lowerBound, false)) }
            out.append((r, true))
            previous = r.upperBound
        }
        if previous < scalars.count { out.append((previous..<scalars.count, false)) }
        return out
    }

    /// Replaces every match with `content` (the Replace normalizer and decoder).
    func replacingMatches(in text: String, with content: String) -> String {
        let scalars = Array(text.unicodeScalars)
        var out = String.UnicodeScalarView()
        for (range, isMatch) in findMatches(text, scalars) {
            if isMatch { out.append(contentsOf: content.unicodeScalars) } else { out.append(contentsOf: scalars[range]) }
        }
        return String(out)
    }
}

/// `SplitDelimiterBehavior`: what happens to the matches of a split pattern.
enum SplitBehavior: Sendable {
    case removed, isolated, mergedWithPrevious, mergedWithNext, contiguous

    /// Accepts the JSON spelling ("MergedWithPrevious") and snake case ("merged_with_previous").
    init?(name: String) {
        switch String(name.lowercased().filter { $0 != "_" }) {
        case "removed": self = .removed
        case "isolated": self = .isolated
        case "mergedwithprevious": self = .mergedWithPrevious
        case "mergedwithnext": self = .mergedWithNext
        case "contiguous": self = .contiguous
        default: return nil
        }
    }

    /// `NormalizedString::split`: the kept pieces, non-empty, in order.
    func apply(_ matches: [(range: Range<Int>, isMatch: Bool)]) -> [Range<Int>] {
        var acc: [Range<Int>] = []
        acc.reserveCapacity(matches.count)
        switch self {
        case .isolated:
            acc = matches.map(\.range)
        case .removed:
            acc = matches.filter { !$0.isMatch }.map(\.range)
        case .contiguous:
            var previousMatch = false
            for (r, isMatch) in matches {
                if isMatch == previousMatch, let last = acc.last {
                    acc[acc.count - 1] = last.lowerBound..<r.upperBound
                } else {
                    acc.append(r)
                }
                previousMatch = isMatch
            }
        case .mergedWithPrevious:
            var previousMatch = false
            for (r, isMatch) in matches {
                if isMatch && !previousMatch, let last = acc.last {
                    acc[acc.count - 1] = last.lowerBound..<r.upperBound
                } else {
                    acc.append(r)
                }
                previousMatch = isMatch
            }
        case .mergedWithNext:
            var previousMatch = false
            for (r, isMatch) in matches.reversed() {
                if isMatch && !previousMatch, let last = acc.last {
                    acc[acc.count - 1] = r.lowerBound..<last.upperBound
                } else {
                    acc.append(r)
                }
                previousMatch = isMatch
            }
            acc.reverse()
        }
        return acc.filter { !$0.isEmpty }
    }
}

/// A trie over byte strings held in one hash table (`node << 8 | byte` -> child), compact enough
/// for vocabularies of hundreds of thousands of entries. Node 0 is the root.
struct ByteTrie: Sendable {
    private var children: [UInt64: Int32] = [:]
    /// The value stored at each node, -1 where no key ends.
    private(set) var values: [Int32] = [-1]

    /// Inserts `key` (a later insert of the same key replaces the value).
    mutating func insert<C: Collection<UInt8>>(_ key: C, value: Int32) {
        var node = 0
        for b in key {
            let k = UInt64(node) << 8 | UInt64(b)
            if let c = children[k] {
                node = Int(c)
            } else {
                values.append(-1)
                node = values.count - 1
                children[k] = Int32(node)
            }
        }
        values[node] = value
    }

    @inline(__always)
    func child(_ node: Int, _ b: UInt8) -> Int? {
        children[UInt64(node) << 8 | UInt64(b)].map(Int.init)
    }
}
