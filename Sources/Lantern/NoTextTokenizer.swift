import LanternTokenizers

/// Stands in for the tokenizer of a model folder that has none (the tiny fixture models): token ids
/// work, text has no meaning. Encoding gives no ids and decoding no text; callers check
/// `LoadedModel.hasTokenizer` before accepting text from a user.
struct NoTextTokenizer: Tokenizer {
    let vocabularySize: Int
    let eos: Int?

    init(vocabularySize: Int, eos: Int?) {
        self.vocabularySize = vocabularySize
        self.eos = eos
    }

    var bosTokenID: Int? { nil }
    var eosTokenID: Int? { eos }
    var endOfGenerationIDs: Set<Int> { eos.map { [$0] } ?? [] }
    var addsBOS: Bool { false }
    func encode(_ text: String, parseSpecial: Bool, addBOS: Bool) -> [Int] { [] }
    func decode(_ ids: [Int], skipSpecial: Bool) -> String { "" }
    func tokenBytes(_ id: Int) -> [UInt8] { [] }
    func tokenText(_ id: Int) -> String? { nil }
}
