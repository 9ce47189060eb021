// BERT's tokenizer built from vocab.txt (+ tokenizer_config.json), for models shipped without a
// tokenizer.json: the pipeline transformers' BertConverter gives BertTokenizerFast.

import Foundation

/// Builds the BERT WordPiece pipeline as an `HFTokenizer`: BertNormalizer (clean text, CJK
/// spacing, accents, lowercase), BertPreTokenizer, WordPiece (`##`, 100 characters a word),
/// `[CLS] $A [SEP]`, WordPiece decoder with cleanup; the five special tokens are special added
/// tokens (matched in the original text, skipped by `decode(skipSpecial: true)`).
public enum WordPieceTokenizer {
    /// The keys of tokenizer_config.json this pipeline reads (token values may be strings or
    /// `{"content": ...}` objects).
    struct Config: Decodable {
        struct TokenText: Decodable {
            let text: String
            init(from decoder: any Decoder) throws {
                let c = try decoder.singleValueContainer()
                if let s = try? c.decode(String.self) {
                    text = s
                } else {
                    struct Object: Decodable { let content: String }
                    text = try c.decode(Object.self).content
                }
            }
        }
        var doLowerCase: Bool?
        var stripAccents: Bool?
        var tokenizeChineseChars: Bool?
        var unkToken: TokenText?, sepToken: TokenText?, padToken: TokenText?, clsToken: TokenText?, maskToken: TokenText?

        enum CodingKeys: String, CodingKey {
            case doLowerCase = "do_lower_case", stripAccents = "strip_accents", tokenizeChineseChars = "tokenize_chinese_chars"
            case unkToken = "unk_token", sepToken = "sep_token", padToken = "pad_token", clsToken = "cls_token"
            case maskToken = "mask_token"
        }
    }

    /// - Parameters:
    ///   - vocabulary: vocab.txt's text: one token a line, its id the line number (trailing
    ///     whitespace trimmed, a repeated token keeps its last line, as `WordPiece::read_file`).
    ///   - stripAccents: nil follows `lowercase`.
    public static func bert(vocabulary: String, lowercase: Bool = true, stripAccents: Bool? = nil,
                            tokenizeChineseChars: Bool = true, unkToken: String = "[UNK]", sepToken: String = "[SEP]",
                            padToken: String = "[PAD]", clsToken: String = "[CLS]",
                            maskToken: String = "[MASK]") throws(TokenizerError) -> HFTokenizer {
        var lines = vocabulary.split(separator: "\n", omittingEmptySubsequences: false)
        if lines.last?.isEmpty == true { lines.removeLast() }
        var vocab: [String: Int] = [:]
        vocab.reserveCapacity(lines.count)
        for (id, line) in lines.enumerated() {
            var token = Substring(line)
            while let last = token.unicodeScalars.last, last.properties.isWhitespace { token.unicodeScalars.removeLast() }
            vocab[String(token)] = id
        }
        guard !vocab.isEmpty else { throw .emptyVocabulary }
        for (name, token) in [("cls_token", clsToken), ("sep_token", sepToken)] where vocab[token] == nil {
            throw .invalidTokenizerJSON("vocab.txt has no \(name) '\(token)'")
        }
        let cls = Encoding(ids: [vocab[clsToken] ?? 0], tokens: [clsToken])
        let sep = Encoding(ids: [vocab[sepToken] ?? 0], tokens: [sepToken])
        let specials = [padToken, unkToken, clsToken, sepToken, maskToken].map {
            AddedTokenSpec(id: vocab[$0] ?? 0, content: $0, special: true)
        }
        return try HFTokenizer(
            model: .wordPiece(WordPieceModel(vocab: vocab, count: lines.count, unkToken: unkToken, prefix: "##",
                                             maxInputCharsPerWord: 100)),
            modelSize: vocab.count, addedTokens: specials,
            normalizer: .bert(cleanText: true, chineseChars: tokenizeChineseChars,
                              stripAccents: stripAccents ?? lowercase, lowercase: lowercase),
            preTokenizer: .bert,
            postProcessor: .template(single: [.special(cls), .sequenceA, .special(sep)],
                                     pair: [.special(cls), .sequenceA, .special(sep), .sequenceB, .special(sep)]),
            decoder: .wordPiece(prefix: "##", cleanup: true), bosID: cls.ids[0], eosID: sep.ids[0])
    }

    /// From vocab.txt and, when given, tokenizer_config.json (`do_lower_case`, `strip_accents`,
    /// `tokenize_chinese_chars` and the special tokens; absent keys take BERT's defaults).
    public static func bert(vocabTxt: Data, tokenizerConfig: Data? = nil) throws(TokenizerError) -> HFTokenizer {
        var config = Config()
        if let tokenizerConfig {
            do { config = try JSONDecoder().decode(Config.self, from: tokenizerConfig) } catch {
                throw .invalidTokenizerJSON("tokenizer_config.json: \(error)")
            }
        }
        return try bert(vocabulary: String(decoding: vocabTxt, as: UTF8.self), lowercase: config.doLowerCase ?? true,
                        stripAccents: config.stripAccents, tokenizeChineseChars: config.tokenizeChineseChars ?? true,
                        unkToken: config.unkToken?.text ?? "[UNK]", sepToken: config.sepToken?.text ?? "[SEP]",
                        padToken: config.padToken?.text ?? "[PAD]", clsToken: config.clsToken?.text ?? "[CLS]",
                        maskToken: config.maskToken?.text ?? "[MASK]")
    }

    /// From a folder holding vocab.txt and optionally tokenizer_config.json.
    public static func bert(directory: URL) throws(TokenizerError) -> HFTokenizer {
        let vocabURL = directory.appendingPathComponent("vocab.txt")
        let vocab: Data
        do { vocab = try Data(contentsOf: vocabURL) } catch {
            throw .invalidTokenizerJSON("cannot read \(vocabURL.path): \(error.localizedDescription)")
        }
        let config = try? Data(contentsOf: directory.appendingPathComponent("tokenizer_config.json"))
        return try bert(vocabTxt: vocab, tokenizerConfig: config)
    }
}
