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
        var out = Encoding()
        for e in processList(b.map { [a, $0] } ?? [a]) { out.append(e) }
        return out
    }

    /// `process_encodings`: ByteLevel passes the sequences through, the others merge one or two
    /// sequences into one, and a Sequence hands each processor the previous one's list.
    private func processList(_ encodings: [Encoding]) -> [Encoding] {
        switch self {
        case .byteLevel:
            return encodings
        case .sequence(let list):
            return list.reduce(encodings) { $1.processList($0) }
        case .bert(let cls, let sep, let roberta):
            var out = cls
            out.append(encodings.first ?? Encoding())
            out.append(sep)
            if encodings.count > 1 {
                if roberta { out.append(sep) }
                out.append(encodings[1])
                out.append(sep)
            }
            return [out]
        case .template(let single, let pair):
            var out = Encoding()
            for piece in encodings.count > 1 ? pair : single {
                switch piece {
                case .sequenceA: out.append(encodings.first ?? Encoding())
                case .sequenceB: if encodings.count > 1 { out.append(encodings[1]) }
                case .special(let e): out.append(e)
                }
            }
            return [out]
        }
    }
}
