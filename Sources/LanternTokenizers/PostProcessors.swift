// tokenizer.json post-processors: the special tokens wrapped around an encoded sequence.

/// Ids with their token strings, as `tokenizers`' `Encoding` reports them (offsets not kept).
public struct Encoding: Sendable, Equatable {
    public var ids: [Int]
    public var tokens: [String]

    public init(ids: [Int] = [], tokens: [String] = []) {
        self.ids = ids
        self.tokens = tokens
    }

    mutating func append(_ other: Encoding) {
        ids += other.ids
        tokens += other.tokens
    }
}

indirect enum PostProcessor: Sendable {
    enum Piece: Sendable {
        case sequenceA, sequenceB
        case special(Encoding)
    }

    case template(single: [Piece], pair: [Piece])
    /// BertProcessing / RobertaProcessing: `cls A sep` (pairs: `cls A sep B sep`, Roberta `cls A sep sep B sep`).
    case bert(cls: Encoding, sep: Encoding, roberta: Bool)
    case byteLevel
    case sequence([PostProcessor])

    /// Whether processing adds any token to a single sequence.
    var addsTokens: Bool {
        switch self {
        case .template(let single, _):
            return single.contains { piece in
                if case .special(let e) = piece { return !e.ids.isEmpty }
                return false
            }
        case .bert: return true
        case .byteLevel: return false
        case .sequence(let list): return list.contains(where: \.addsTokens)
        }
    }

    /// The first special id put in front of a single sequence (the BOS-like token), if any.
    var leadingSpecialID: Int? {
        switch self {
        case .template(let single, _):
            if case .special(let e) = single.first { return e.ids.first }
            return nil
        case .bert(let cls, _, _): return cls.ids.first
        case .byteLevel: return nil
        case .sequence(let list): return list.lazy.compactMap(\.leadingSpecialID).first
        }
    }

    func process(_ a: Encoding, _ b: Encoding? = nil) -> Encoding {
        switch self {
        case .byteLevel:
            var out = a
            if let b { out.append(b) }
            return out
        case .sequence(let list):
            // Each processor sees the previous one's output as a single sequence, except the
            // first, which receives the pair.
            guard let first = list.first else { return Self.byteLevel.process(a, b) }
            return list.dropFirst().reduce(first.process(a, b)) { $1.process($0) }
        case .bert(let cls, let sep, let roberta):
            var out = cls
            out.append(a)
            out.append(sep)
            if let b {
                if roberta { out.append(sep) }
                out.append(b)
                out.append(sep)
            }
            return out
        case .template(let single, let pair):
            var out = Encoding()
            for piece in b == nil ? single : pair {
                switch piece {
                case .sequenceA: out.append(a)
                case .sequenceB: if let b { out.append(b) }
                case .special(let e): out.append(e)
                }
            }
            return out
        }
    }
}
