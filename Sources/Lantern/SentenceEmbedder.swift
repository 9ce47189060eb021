import Foundation
import LanternFormats
import LanternModels
import LanternTensor
import LanternTokenizers

/// How token states become one sentence vector, as sentence-transformers' `Pooling` module does.
public enum Pooling: String, Sendable, CaseIterable {
    /// The first token's state ([CLS]).
    case cls
    /// The element-wise maximum over the tokens.
    case max
    /// The mean over the tokens (every token of a packed sentence is real: the attention mask is all ones).
    case mean
    /// The sum over the tokens divided by sqrt(token count).
    case meanSqrtLength
    /// The last token's state.
    case lastToken
}

/// The sentence-transformers side files of a model folder, decoded: pooling (1_Pooling/config.json),
/// normalisation (a `Normalize` module in modules.json) and max_seq_length (sentence_bert_config.json).
/// A folder without them gets mean pooling, no normalisation and the model's position limit, as
/// sentence-transformers does for a plain Hugging Face checkpoint.
public struct SentenceConfiguration: Sendable, Equatable {
    /// Concatenated in this order (sentence-transformers' order) when several are set.
    public var pooling: [Pooling] = [.mean]
    public var normalize = false
    public var maxSequenceLength: Int?

    public init(pooling: [Pooling] = [.mean], normalize: Bool = false, maxSequenceLength: Int? = nil) {
        self.pooling = pooling
        self.normalize = normalize
        self.maxSequenceLength = maxSequenceLength
    }

    struct PoolingFile: Decodable {
        var cls: Bool?, mean: Bool?, max: Bool?, meanSqrt: Bool?, weighted: Bool?, last: Bool?, mode: String?
        enum CodingKeys: String, CodingKey {
            case cls = "pooling_mode_cls_token", mean = "pooling_mode_mean_tokens", max = "pooling_mode_max_tokens"
            case meanSqrt = "pooling_mode_mean_sqrt_len_tokens", weighted = "pooling_mode_weightedmean_tokens"
            case last = "pooling_mode_lasttoken", mode = "pooling_mode"
        }
    }
    struct Module: Decodable { var type: String }
    struct BertConfig: Decodable {
        var maxSeqLength: Int?
        enum CodingKeys: String, CodingKey { case maxSeqLength = "max_seq_length" }
    }

    /// Reads the folder's files; a malformed one is an error naming it.
    public init(folder: ModelFolder) throws {
        func decode<T: Decodable>(_ type: T.Type, _ path: String) throws -> T {
            do { return try JSONDecoder().decode(T.self, from: Data(contentsOf: URL(fileURLWithPath: path))) } catch {
                throw EmbeddingError.badFile(path: path, reason: "\(error)")
            }
        }
        if let path = folder.poolingConfigPath {
            let p = try decode(PoolingFile.self, path)
            if p.weighted == true { throw EmbeddingError.badFile(path: path, reason: "weighted-mean pooling is not supported") }
            var modes: [Pooling] = []
            if let mode = p.mode {   // newer files name one mode
                switch mode {
                case "cls": modes = [.cls]
                case "mean": modes = [.mean]
                case "max": modes = [.max]
                case "mean_sqrt_len_tokens": modes = [.meanSqrtLength]
                case "lasttoken": modes = [.lastToken]
                default: throw EmbeddingError.badFile(path: path, reason: "pooling_mode '\(mode)' is not supported")
                }
            } else {
                if p.cls == true { modes.append(.cls) }
                if p.max == true { modes.append(.max) }
                if p.mean == true { modes.append(.mean) }
                if p.meanSqrt == true { modes.append(.meanSqrtLength) }
                if p.last == true { modes.append(.lastToken) }
            }
            guard !modes.isEmpty else { throw EmbeddingError.badFile(path: path, reason: "no pooling mode is set") }
            pooling = modes
        }
        if let path = folder.modulesPath {
            normalize = try decode([Module].self, path).contains { $0.type.hasSuffix("Normalize") }
        }
        let sbert = (folder.path as NSString).appendingPathComponent("sentence_bert_config.json")
        if FileManager.default.fileExists(atPath: sbert) {
            maxSequenceLength = try decode(BertConfig.self, sbert).maxSeqLength
        }
    }
}

public enum EmbeddingError: Error, CustomStringConvertible, Equatable {
    case notAnEncoder(path: String, architecture: String)
    case noMaskedLMHead(path: String)
    case noMaskToken(path: String)
    case badFile(path: String, reason: String)

    public var description: String {
        switch self {
        case let .notAnEncoder(path, arch): return "\(path) is a \(arch) model; embeddings and fill-mask need an encoder (BERT family)"
        case let .noMaskedLMHead(path): return "\(path) has no masked-LM head (cls.predictions.*): it embeds but cannot fill masks"
        case let .noMaskToken(path): return "\(path): the text has no mask token ([MASK]); pass --mask-id with --tokens, or put [MASK] in the text"
        case let .badFile(path, reason): return "\(path): \(reason)"
        }
    }
}

/// Sentence embeddings from an encoder: tokenize, truncate, encode packed batches, pool, normalise.
public final class SentenceEmbedder: @unchecked Sendable {
    public let loaded: LoadedModel
    public let encoder: EncoderModel
    public let configuration: SentenceConfiguration
    /// Longest input in tokens (special tokens included): max_seq_length, else the model's positions.
    public let maxLength: Int
    /// Rows (tokens) per forward pass: sentences are packed whole until a batch holds this many.
    public var tokensPerBatch = 1024

    public init(_ loaded: LoadedModel) throws {
        guard case let .encoder(encoder) = loaded.network else {
            throw EmbeddingError.notAnEncoder(path: loaded.path, architecture: loaded.architecture)
        }
        self.loaded = loaded
        self.encoder = encoder
        configuration = try loaded.folder.map { try SentenceConfiguration(folder: $0) } ?? SentenceConfiguration()
        maxLength = min(configuration.maxSequenceLength ?? encoder.maxContextLength, encoder.maxContextLength)
    }

    public convenience init(path: String, threads: Int, quantizeWeights: DType? = nil,
                            precision: ActivationPrecision = .int8x2) throws {
        try self.init(LoadedModel(path: path, threads: threads, precision: precision, quantizeWeights: quantizeWeights))
    }

    /// all-MiniLM-L6-v2, fetched into the cache on first use.
    public static func openDefault(threads: Int, quantizeWeights: DType? = nil, precision: ActivationPrecision = .int8x2,
                                   progress: @escaping @Sendable (String) -> Void) throws -> SentenceEmbedder {
        var fetcher = ModelFetcher()
        fetcher.progress = progress
        let url = try fetcher.ensure(.defaultEmbeddingModel)
        return try SentenceEmbedder(path: url.path, threads: threads, quantizeWeights: quantizeWeights, precision: precision)
    }

    public var dimension: Int { encoder.hiddenSize * configuration.pooling.count }

    /// Token ids of a text with the tokenizer's special tokens ([CLS] ... [SEP]), cut to `maxLength`
    /// keeping a final special token (as the tokenizer's truncation does); `truncated` says whether it cut.
    public func tokenize(_ text: String) throws -> (ids: [Int], truncated: Bool) {
        guard loaded.hasTokenizer else { throw LanternError.noTokenizer(loaded.path) }
        return truncate(loaded.tokenizer.encode(text, parseSpecial: true, addBOS: true))
    }

    /// `ids` cut to `maxLength`, keeping the last token when it is special ([SEP]).
    public func truncate(_ ids: [Int]) -> (ids: [Int], truncated: Bool) {
        guard ids.count > maxLength else { return (ids, false) }
        if let last = ids.last, loaded.tokenizer.isSpecial(last), maxLength >= 2 {
            return (Array(ids.prefix(maxLength - 1)) + [last], true)
        }
        return (Array(ids.prefix(maxLength)), true)
    }

    /// Embeddings of texts, in their order. `warn` hears about truncated inputs; `progress` (done, total)
    /// after every batch.
    public func embed(_ texts: [String], warn: (String) -> Void = { _ in },
                      progress: ((Int, Int) -> Void)? = nil) throws -> [[Float]] {
        var sequences: [[Int]] = []
        sequences.reserveCapacity(texts.count)
        var cut = 0
        for text in texts {
            let (ids, truncated) = try tokenize(text)
            if truncated { cut += 1 }
            sequences.append(ids)
        }
        if cut > 0 {
            warn("warning: \(cut) input\(cut == 1 ? " was" : "s were") longer than \(maxLength) tokens and truncated (max_seq_length)")
        }
        return try embed(tokens: sequences, progress: progress)
    }

    /// Embeddings of token sequences (each whole, at most `maxLength` tokens), in their order. Sentences
    /// run longest first, packed into batches of about `tokensPerBatch` rows (no padding).
    public func embed(tokens sequences: [[Int]], progress: ((Int, Int) -> Void)? = nil) throws -> [[Float]] {
        for s in sequences where s.count > maxLength { throw ModelError.contextOverflow(needed: s.count, capacity: maxLength) }
        let order = sequences.indices.sorted { sequences[$0].count > sequences[$1].count }
        var result = [[Float]](repeating: [], count: sequences.count)
        var start = 0
        while start < order.count {
            var end = start, rows = 0
            while end < order.count, end == start || rows + sequences[order[end]].count <= tokensPerBatch {
                rows += sequences[order[end]].count
                end += 1
            }
            let batch = order[start..<end].map { sequences[$0] }
            let states = try encoder.encode(batch, tokenTypes: batch.map { [Int](repeating: 0, count: $0.count) })
            for (k, i) in order[start..<end].enumerated() { result[i] = pool(states[k], tokens: batch[k].count) }
            start = end
            progress?(start, order.count)
        }
        return result
    }

    /// One sentence's vector from its token states [tokens, hidden].
    public func pool(_ states: [Float], tokens n: Int) -> [Float] {
        let d = encoder.hiddenSize
        var out: [Float] = []
        out.reserveCapacity(dimension)
        for mode in configuration.pooling {
            switch mode {
            case .cls: out += states[0..<d]
            case .lastToken: out += states[((n - 1) * d)..<(n * d)]
            case .max:
                var m = Array(states[0..<d])
                for t in 1..<max(n, 1) { for i in 0..<d { m[i] = Swift.max(m[i], states[t * d + i]) } }
                out += m
            case .mean, .meanSqrtLength:
                var sum = [Double](repeating: 0, count: d)
                for t in 0..<n { for i in 0..<d { sum[i] += Double(states[t * d + i]) } }
                let divisor = mode == .mean ? Double(Swift.max(n, 1)) : Double(n).squareRoot()
                out += sum.map { Float($0 / divisor) }
            }
        }
        if configuration.normalize {
            // sentence-transformers: x / max(||x||, 1e-12)
            let norm = Swift.max(out.reduce(0.0) { $0 + Double($1) * Double($1) }.squareRoot(), 1e-12)
            out = out.map { Float(Double($0) / norm) }
        }
        return out
    }

    /// Cosine similarity of two vectors (0 when either is zero).
    public static func cosine(_ a: [Float], _ b: [Float]) -> Float {
        var dot = 0.0, na = 0.0, nb = 0.0
        for (x, y) in zip(a, b) { dot += Double(x) * Double(y); na += Double(x) * Double(x); nb += Double(y) * Double(y) }
        let denominator = (na * nb).squareRoot()
        return denominator > 0 ? Float(dot / denominator) : 0
    }
}

/// A masked-LM candidate for one mask position.
public struct MaskCandidate: Sendable, Equatable {
    public var token: Int
    public var probability: Float
    public var text: String?
}

extension SentenceEmbedder {
    /// The `top` most likely tokens at each position of `tokens` holding `maskID`: softmax over the
    /// masked-LM logits of that row. One list per mask, in position order.
    public func fillMask(tokens: [Int], tokenTypes: [Int]? = nil, maskID: Int, top: Int) throws -> [[MaskCandidate]] {
        guard encoder.head != nil else { throw EmbeddingError.noMaskedLMHead(path: loaded.path) }
        let positions = tokens.indices.filter { tokens[$0] == maskID }
        guard !positions.isEmpty else { throw EmbeddingError.noMaskToken(path: loaded.path) }
        let logits = try encoder.encode([tokens], tokenTypes: [tokenTypes ?? [Int](repeating: 0, count: tokens.count)],
                                        output: .logits)[0]
        let v = encoder.vocabularySize
        return positions.map { p in
            let row = logits[(p * v)..<((p + 1) * v)]
            let m = row.max() ?? 0
            var total = 0.0
            for x in row { total += exp(Double(x - m)) }
            let best = row.indices.sorted { row[$0] > row[$1] }.prefix(max(0, top))
            return best.map { i in
                let id = i - p * v
                return MaskCandidate(token: id, probability: Float(exp(Double(row[i] - m)) / total),
                                     text: loaded.hasTokenizer ? loaded.tokenizer.tokenText(id) : nil)
            }
        }
    }

    /// The tokenizer's mask token id ("[MASK]"), when it has one.
    public var maskTokenID: Int? {
        guard loaded.hasTokenizer else { return nil }
        let ids = loaded.tokenizer.encode("[MASK]", parseSpecial: true, addBOS: false)
        return ids.count == 1 && loaded.tokenizer.isSpecial(ids[0]) ? ids[0] : nil
    }
}
