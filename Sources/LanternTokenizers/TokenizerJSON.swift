// Loading a byte-level BPE tokenizer from a Hugging Face `tokenizer.json`.

import Foundation

/// The parts of `tokenizer.json` a byte-level BPE needs. Other sections (normalizer, post-processor,
/// decoder) are not interpreted: the caller names the pre-tokenizer, as GGUF's `tokenizer.ggml.pre` would.
/// `HFTokenizer` runs the whole tokenizer.json pipeline instead.
struct TokenizerJSONFile: Decodable {
    struct AddedToken: Decodable {
        let id: Int
        let content: String
        let special: Bool
    }

    /// A merge is "left right" in older files and ["left", "right"] in newer ones.
    struct Merge: Decodable {
        let text: String
        init(from decoder: any Decoder) throws {
            let c = try decoder.singleValueContainer()
            if let s = try? c.decode(String.self) {
                text = s
            } else {
                text = try c.decode([String].self).joined(separator: " ")
            }
        }
    }

    struct Model: Decodable {
        let type: String?
        let vocab: [String: Int]
        let merges: [Merge]
    }

    let addedTokens: [AddedToken]
    let model: Model

    enum CodingKeys: String, CodingKey {
        case addedTokens = "added_tokens"
        case model
    }
}

extension ByteLevelBPETokenizer {
    /// Builds the tokenizer from a `tokenizer.json` with a BPE model over the GPT-2 byte alphabet.
    /// Added tokens marked `special` become control tokens (parsed only with `parseSpecial`, skipped by
    /// `skipSpecial`), the others user-defined tokens, as transformers' GGUF conversion maps them.
    public convenience init(tokenizerJSON data: Data, preTokenizer: String = "gpt-2",
                            bosID: Int? = nil, eosID: Int? = nil, addBOS: Bool = false) throws(TokenizerError) {
        let file: TokenizerJSONFile
        do {
            file = try JSONDecoder().decode(TokenizerJSONFile.self, from: data)
        } catch {
            throw .invalidTokenizerJSON("\(error)")
        }
        if let type = file.model.type, type != "BPE" { throw .unsupportedModel(type) }

        // Ids must be dense, so none can reach the number of entries: check every one against that
        // bound before sizing anything by the largest id (which could be Int.max or terabytes).
        let entries = file.model.vocab.count + file.addedTokens.count
        for (text, id) in file.model.vocab where !(0..<entries).contains(id) {
            throw .tokenIDOutOfRange(key: "model.vocab['\(text)']", id: id, vocabularySize: entries)
        }
        for added in file.addedTokens where !(0..<entries).contains(added.id) {
            throw .tokenIDOutOfRange(key: "added_tokens['\(added.content)']", id: added.id, vocabularySize: entries)
        }
        let count = max(file.model.vocab.values.max() ?? -1, file.addedTokens.map(\.id).max() ?? -1) + 1
        guard count > 0 else { throw .emptyVocabulary }
        var vocabulary = [String?](repeating: nil, count: count)
        var types = [Int](repeating: TokenType.normal.rawValue, count: count)
        for (text, id) in file.model.vocab {
            vocabulary[id] = text
        }
        for added in file.addedTokens {
            vocabulary[added.id] = added.content
            types[added.id] = (added.special ? TokenType.control : .userDefined).rawValue
        }
        var tokens: [String] = []
        tokens.reserveCapacity(count)
        for (id, text) in vocabulary.enumerated() {
            guard let text else { throw .invalidTokenizerJSON("no token has id \(id) (ids must be 0..<\(count))") }
            tokens.append(text)
        }
        try self.init(vocabulary: tokens, merges: file.model.merges.map(\.text), tokenTypes: types,
                      preTokenizer: preTokenizer, bosID: bosID, eosID: eosID, addBOS: addBOS)
    }
}
