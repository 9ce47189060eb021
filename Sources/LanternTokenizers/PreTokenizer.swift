// Splitting text into pre-tokens ("words") before BPE, as llama.cpp does for each `tokenizer.ggml.pre`.

/// How the pre-tokenizer regexes see one Unicode scalar: `\p{L}`, `\p{N}`, `\s` (the Unicode
/// White_Space property) or anything else. No scalar is in two classes.
enum CharClass: UInt8 {
    case letter, number, whitespace, other

    /// ASCII is looked up; the rest asks the standard library's Unicode tables.
    static func of(_ s: Unicode.Scalar) -> CharClass {
        let v = s.value
        if v < 128 { return ascii[Int(v)] }
        let p = s.properties
        if p.isWhitespace { return .whitespace }
        switch p.generalCategory {
        case .uppercaseLetter, .lowercaseLetter, .titlecaseLetter, .modifierLetter, .otherLetter: return .letter
        case .decimalNumber, .letterNumber, .otherNumber: return .number
        default: return .other
        }
    }

    private static let ascii: [CharClass] = (0..<128).map { v in
        switch v {
        case 9...13, 32: return .whitespace
        case 48...57: return .number
        case 65...90, 97...122: return .letter
        default: return .other
        }
    }
}

/// One run of text (between special tokens) decoded to scalars once, so every splitting stage works
/// on scalar indices. Invariant: `byteOffsets.count == values.count + 1`, `byteOffsets[i]` is where
/// scalar `i` starts in the UTF-8 of the run and the last entry is the run's byte count.
struct ScalarText {
    var values: [UInt32] = []
    var classes: [CharClass] = []
    var byteOffsets: [Int] = [0]

    init<C: Collection<UInt8>>(utf8 bytes: C) {
        values.reserveCapacity(bytes.count)
        classes.reserveCapacity(bytes.count)
        byteOffsets.reserveCapacity(bytes.count + 1)
        var iterator = bytes.makeIterator()
        var decoder = UTF8()
        var offset = 0
        while case .scalarValue(let s) = decoder.decode(&iterator) {
            values.append(s.value)
            classes.append(CharClass.of(s))
            offset += UTF8.width(s)
            byteOffsets.append(offset)
        }
        // Callers pass bytes of a Swift String cut at character boundaries, so decoding cannot
        // stop early on an error; if it ever did, the rest is simply not split (and not lost:
        // `byteOffsets.last` would be short, which `ByteLevelBPETokenizer` guards against).
    }

    var count: Int { values.count }
}

/// The pre-tokenizer of a byte-level BPE model, chosen by GGUF `tokenizer.ggml.pre`.
///
/// llama.cpp applies a list of regexes one after another: each one splits every piece the previous
/// produced, and both its matches and the text between them stay pieces. `stages` mirrors that list,
/// with hand-written scanners instead of regexes (several times faster, and exact for these patterns).
public struct PreTokenizer: Sendable {
    enum RunKind: Sendable {
        case number            // \p{N}
        case asciiDigit        // [0-9]
        case punctuationLike   // [\p{P}\$\+<=>\^~\|]
    }

    enum Stage: Sendable {
        /// `'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+`
        case gpt2
        /// `(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,maxDigits}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+`
        /// (llama3: maxDigits 3, qwen2: 1).
        case llama3(maxDigits: Int)
        /// Maximal runs of `kind`, cut into chunks of at most `chunk` scalars (`Int.max`: uncut),
        /// e.g. `\p{N}` is `.runs(.number, chunk: 1)` and `[0-9][0-9][0-9]` is `.runs(.asciiDigit, chunk: 3)`
        /// (a shorter tail is a between-matches piece, which is kept all the same).
        case runs(RunKind, chunk: Int)
    }

    /// The `tokenizer.ggml.pre` value this was built for.
    public let name: String
    let stages: [Stage]

    static let gpt2Names: Set<String> = ["gpt-2", "gpt2", "phi-2", "roberta-bpe", "jina-es", "jina-de",
                                         "jina-v2-es", "jina-v2-de", "jina-v2-code", "mpt", "olmo", "gigachat"]
    static let starcoderNames: Set<String> = ["smollm", "starcoder", "refact", "command-r", "codeshell",
                                              "exaone", "minerva-7b"]
    static let llama3Names: Set<String> = ["llama3", "llama-v3", "llama-bpe", "falcon3", "dbrx", "smaug-bpe"]
    static let qwen2Names: Set<String> = ["qwen2", "stablelm2", "deepseek-r1-qwen"]
    static var knownNames: Set<String> {
        gpt2Names.union(starcoderNames).union(llama3Names).union(qwen2Names).union(["default"])
    }

    /// Throws `unsupportedPreTokenizer` for names llama.cpp does not know or this library does not
    /// implement, rather than guessing: a wrong split silently changes every prompt's ids.
    public init(name: String) throws(TokenizerError) {
        self.name = name
        if Self.gpt2Names.contains(name) {
            stages = [.gpt2]
        } else if Self.starcoderNames.contains(name) {
            stages = [.runs(.number, chunk: 1), .gpt2]        // every digit alone, then GPT-2
        } else if Self.llama3Names.contains(name) {
            stages = [.llama3(maxDigits: 3)]
        } else if Self.qwen2Names.contains(name) {
            stages = [.llama3(maxDigits: 1)]
        } else if name == "default" {
            // llama.cpp's LLAMA_VOCAB_PRE_TYPE_DEFAULT list, used for a GGUF without a `pre` value.
            stages = [.runs(.punctuationLike, chunk: .max), .gpt2, .runs(.number, chunk: .max),
                      .runs(.asciiDigit, chunk: 3)]
        } else {
            throw .unsupportedPreTokenizer(name)
        }
    }

    /// llama.cpp's ignore_merges: a pre-token that is itself a vocabulary entry is taken whole.
    var ignoresMerges: Bool { Self.llama3Names.contains(name) }
    /// llama.cpp adds BOS by default for these (the GGUF `add_bos_token` key overrides it).
    var addsBOSByDefault: Bool { Self.llama3Names.contains(name) }

    /// The pre-tokens of `text` in order (they concatenate to `text`); for inspection and tests,
    /// `ByteLevelBPETokenizer` works on the byte ranges instead.
    public func pieces(of text: String) -> [String] {
        let scalars = ScalarText(utf8: text.utf8)
        let view = Array(text.unicodeScalars)
        return split(scalars).map { r in
            var piece = String.UnicodeScalarView()
            piece.append(contentsOf: view[r])
            return String(piece)
        }
    }

    /// Pre-token ranges (scalar indices into `text`), in order, covering all of it.
    func split(_ text: ScalarText) -> [Range<Int>] {
        var pieces: [Range<Int>] = text.count > 0 ? [0..<text.count] : []
        var next: [Range<Int>] = []
        for stage in stages {
            next.removeAll(keepingCapacity: true)
            next.reserveCapacity(pieces.count * 2)
            for piece in pieces {
                switch stage {
                case .gpt2: Self.splitGPT2(text, piece, into: &next)
                case .llama3(let maxDigits): Self.splitLlama3(text, piece, maxDigits: maxDigits, into: &next)
                case .runs(let kind, let chunk): Self.splitRuns(text, piece, kind: kind, chunk: chunk, into: &next)
                }
            }
            swap(&pieces, &next)
        }
        return pieces
    }

    // MARK: - Scanners. Each looks only inside `range`: lookaheads see its end as end of text, as in llama.cpp.

    private static let apostrophe: UInt32 = 0x27, space: UInt32 = 0x20, cr: UInt32 = 0x0D, lf: UInt32 = 0x0A

    private static func lowered(_ v: UInt32) -> UInt32 { (65...90).contains(v) ? v + 32 : v }

    /// Length of a contraction (`'s`, `'t`, `'m`, `'d`, `'re`, `'ve`, `'ll`) at `pos`, or 0.
    private static func contractionLength(_ v: [UInt32], _ pos: Int, _ end: Int, caseInsensitive: Bool) -> Int {
        guard v[pos] == apostrophe, pos + 1 < end else { return 0 }
        let a = caseInsensitive ? lowered(v[pos + 1]) : v[pos + 1]
        if a == 0x73 || a == 0x74 || a == 0x6D || a == 0x64 { return 2 }              // s t m d
        guard pos + 2 < end else { return 0 }
        let b = caseInsensitive ? lowered(v[pos + 2]) : v[pos + 2]
        if (a == 0x72 && b == 0x65) || (a == 0x76 && b == 0x65) || (a == 0x6C && b == 0x6C) { return 3 } // re ve ll
        return 0
    }

    /// End of a whitespace run starting at `pos` under `\s+(?!\S)|\s+`: a run followed by a
    /// non-space leaves its last space to the next pre-token (so " word" keeps its space).
    private static func whitespaceEnd(_ c: [CharClass], _ pos: Int, _ end: Int) -> Int {
        var n = 0
        while pos + n < end, c[pos + n] == .whitespace { n += 1 }
        if n > 1 && pos + n < end { return pos + n - 1 }
        return pos + max(n, 1)
    }

    static func splitGPT2(_ t: ScalarText, _ range: Range<Int>, into out: inout [Range<Int>]) {
        let v = t.values, c = t.classes
        let end = range.upperBound
        var pos = range.lowerBound
        while pos < end {
            let start = pos
            let contraction = contractionLength(v, pos, end, caseInsensitive: false)
            if contraction > 0 {
                pos += contraction
            } else {
                // ` ?X+`: the class that decides is the one after an optional leading space.
                let hasSpace = v[pos] == space && pos + 1 < end
                let lead = hasSpace ? c[pos + 1] : c[pos]
                if lead != .whitespace {
                    pos += hasSpace ? 1 : 0
                    while pos < end, c[pos] == lead { pos += 1 }
                } else {
                    pos = whitespaceEnd(c, pos, end)
                }
            }
            out.append(start..<pos)
        }
    }

    static func splitLlama3(_ t: ScalarText, _ range: Range<Int>, maxDigits: Int, into out: inout [Range<Int>]) {
        let v = t.values, c = t.classes
        let end = range.upperBound
        var pos = range.lowerBound
        while pos < end {
            let start = pos
            let cpt = v[pos], cls = c[pos]
            defer { out.append(start..<pos) }
            let contraction = contractionLength(v, pos, end, caseInsensitive: true)
            if contraction > 0 { pos += contraction; continue }
            // [^\r\n\p{L}\p{N}]?\p{L}+
            if cpt != cr && cpt != lf && cls != .number
                && (cls == .letter || (pos + 1 < end && c[pos + 1] == .letter)) {
                pos += 1
                while pos < end, c[pos] == .letter { pos += 1 }
                continue
            }
            // \p{N}{1,maxDigits}
            if cls == .number {
                var n = 0
                while pos < end, c[pos] == .number, n < maxDigits { pos += 1; n += 1 }
                continue
            }
            // ` ?[^\s\p{L}\p{N}]+[\r\n]*`
            let hasSpace = cpt == space && pos + 1 < end
            if (hasSpace ? c[pos + 1] : cls) == .other {
                pos += hasSpace ? 1 : 0
                while pos < end, c[pos] == .other { pos += 1 }
                while pos < end, v[pos] == cr || v[pos] == lf { pos += 1 }
                continue
            }
            // \s*[\r\n]+ : whitespace up to and including the run's last CR/LF.
            var lastNewlineEnd = -1
            var i = pos
            while i < end, c[i] == .whitespace {
                if v[i] == cr || v[i] == lf { lastNewlineEnd = i + 1 }
                i += 1
            }
            if lastNewlineEnd > 0 { pos = lastNewlineEnd; continue }
            pos = whitespaceEnd(c, pos, end)
        }
    }

    static func splitRuns(_ t: ScalarText, _ range: Range<Int>, kind: RunKind, chunk: Int,
                          into out: inout [Range<Int>]) {
        let v = t.values, c = t.classes
        func inRun(_ i: Int) -> Bool {
            switch kind {
            case .number: return c[i] == .number
            case .asciiDigit: return (48...57).contains(v[i])
            case .punctuationLike:
                switch v[i] {
                case 0x24, 0x2B, 0x3C, 0x3D, 0x3E, 0x5E, 0x7E, 0x7C: return true   // $ + < = > ^ ~ |
                default:
                    guard c[i] == .other, let s = Unicode.Scalar(v[i]) else { return false }
                    switch s.properties.generalCategory {
                    case .connectorPunctuation, .dashPunctuation, .openPunctuation, .closePunctuation,
                         .initialPunctuation, .finalPunctuation, .otherPunctuation: return true
                    default: return false
                    }
                }
            }
        }
        var pos = range.lowerBound
        while pos < range.upperBound {
            let start = pos
            if inRun(pos) {
                while pos < range.upperBound, pos - start < chunk, inRun(pos) { pos += 1 }
            } else {
                while pos < range.upperBound, !inRun(pos) { pos += 1 }
            }
            out.append(start..<pos)
        }
    }
}
