// tokenizer.json pre-tokenizers: normalized text -> pieces ("words") the model tokenizes one by one.

/// One piece of normalized text. `atStart`: it begins at offset 0 of the original input (what
/// Metaspace's `prepend_scheme: first` asks).
struct PreToken: Sendable, Equatable {
    var text: String
    var atStart: Bool
}

enum PrependScheme: Sendable {
    case always, first, never

    init?(name: String) {
        switch name.lowercased() {
        case "always": self = .always
        case "first": self = .first
        case "never": self = .never
        default: return nil
        }
    }
}

indirect enum HFPreTokenizer: Sendable {
    case byteLevel(addPrefixSpace: Bool, useRegex: Bool)
    case bert
    case whitespace
    case whitespaceSplit
    case metaspace(replacement: Unicode.Scalar, prepend: PrependScheme, split: Bool)
    case split(TextPattern, SplitBehavior, invert: Bool)
    case digits(individual: Bool)
    case punctuation(SplitBehavior)
    case charDelimiter(Unicode.Scalar)
    case sequence([HFPreTokenizer])

    func apply(_ pieces: [PreToken]) -> [PreToken] {
        switch self {
        case .sequence(let list):
            return list.reduce(pieces) { $1.apply($0) }
        case .bert:
            let words = Self.split(pieces, .predicate(HFChar.isWhitespace), .removed, invert: false)
            return Self.split(words, .predicate(HFChar.isPunctuation), .isolated, invert: false)
        case .whitespaceSplit:
            return Self.split(pieces, .predicate(HFChar.isWhitespace), .removed, invert: false)
        case .whitespace:
            return pieces.flatMap(Self.whitespace)
        case .split(let pattern, let behavior, let invert):
            return Self.split(pieces, pattern, behavior, invert: invert)
        case .digits(let individual):
            return Self.split(pieces, .predicate(HFChar.isNumeric), individual ? .isolated : .contiguous, invert: false)
        case .punctuation(let behavior):
            return Self.split(pieces, .predicate(HFChar.isPunctuation), behavior, invert: false)
        case .charDelimiter(let c):
            return Self.split(pieces, .literal([c]), .removed, invert: false)
        case .byteLevel(let addPrefixSpace, let useRegex):
            var out: [PreToken] = []
            out.reserveCapacity(pieces.count)
            for var piece in pieces {
                if addPrefixSpace && !piece.text.hasPrefix(" ") { piece.text = " " + piece.text }
                let words = useRegex ? Self.split([piece], .scanner(.gpt2), .isolated, invert: false) : [piece]
                for w in words { out.append(PreToken(text: ByteLevel.encode(w.text.utf8), atStart: w.atStart)) }
            }
            return out
        case .metaspace(let replacement, let prepend, let split):
            var out: [PreToken] = []
            let rep = String(replacement)
            for var piece in pieces {
                piece.text = String(scalars: piece.text.unicodeScalars.map { $0 == " " ? replacement : $0 })
                let starts = piece.text.unicodeScalars.first == replacement
                switch prepend {
                case .always where !starts: piece.text = rep + piece.text
                case .first where !starts && piece.atStart: piece.text = rep + piece.text
                default: break
                }
                if split {
                    out += Self.split([piece], .literal([replacement]), .mergedWithNext, invert: false)
                } else {
                    out.append(piece)
                }
            }
            return out
        }
    }

    /// `NormalizedString::split` on every piece.
    static func split(_ pieces: [PreToken], _ pattern: TextPattern, _ behavior: SplitBehavior,
                      invert: Bool) -> [PreToken] {
        var out: [PreToken] = []
        out.reserveCapacity(pieces.count)
        for piece in pieces {
            let scalars = Array(piece.text.unicodeScalars)
            var matches = pattern.findMatches(piece.text, scalars)
            if invert { matches = matches.map { ($0.range, !$0.isMatch) } }
            for r in behavior.apply(matches) {
                out.append(PreToken(text: String(scalars: scalars[r]), atStart: piece.atStart && r.lowerBound == 0))
            }
        }
        return out
    }

    /// `\w+|[^\w\s]+`: runs of word characters and runs of other non-space characters; spaces dropped.
    static func whitespace(_ piece: PreToken) -> [PreToken] {
        let scalars = Array(piece.text.unicodeScalars)
        var out: [PreToken] = []
        var i = 0
        while i < scalars.count {
            if HFChar.isWhitespace(scalars[i]) { i += 1; continue }
            let word = HFChar.isWord(scalars[i])
            let start = i
            while i < scalars.count, !HFChar.isWhitespace(scalars[i]), HFChar.isWord(scalars[i]) == word { i += 1 }
            out.append(PreToken(text: String(scalars: scalars[start..<i]), atStart: piece.atStart && start == 0))
        }
        return out
    }
}
