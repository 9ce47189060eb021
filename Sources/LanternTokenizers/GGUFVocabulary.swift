// What llama.cpp's vocabulary loader decides beyond the GGUF token types: special ids found by their
// text, "control-looking" tokens promoted to control, and the end-of-generation set.

import LanternFormats

/// The special-token ids a GGUF file names (`tokenizer.ggml.*_token_id`); nil where the key is absent.
/// Every id present is checked against the vocabulary size.
public struct GGUFSpecialTokenIDs: Sendable, Equatable {
    public var bos: Int?
    public var eos: Int?
    public var unknown: Int?
    public var padding: Int?
    public var endOfTurn: Int?
    public var endOfMessage: Int?
    public var fimPrefix: Int?
    public var fimSuffix: Int?
    public var fimMiddle: Int?
    public var fimPad: Int?
    public var fimRepository: Int?
    public var fimSeparator: Int?

    public init() {}

    /// Reads the keys llama.cpp reads (including the deprecated `prefix/suffix/middle_token_id`, which
    /// win over the `fim_*` keys when both are present, as llama.cpp's loop order makes them).
    init(_ meta: MetadataReader, vocabularySize n: Int) throws(TokenizerError) {
        func id(_ name: String) throws(TokenizerError) -> Int? {
            let key = "tokenizer.ggml." + name
            guard let v = try meta.optionalInt(key) else { return nil }
            guard (0..<n).contains(v) else { throw .tokenIDOutOfRange(key: key, id: v, vocabularySize: n) }
            return v
        }
        bos = try id("bos_token_id")
        eos = try id("eos_token_id")
        unknown = try id("unknown_token_id")
        padding = try id("padding_token_id")
        endOfTurn = try id("eot_token_id")
        endOfMessage = try id("eom_token_id")
        func either(_ deprecated: String, _ current: String) throws(TokenizerError) -> Int? {
            let old = try id(deprecated)
            let new = try id(current)
            return old ?? new
        }
        fimPrefix = try either("prefix_token_id", "fim_pre_token_id")
        fimSuffix = try either("suffix_token_id", "fim_suf_token_id")
        fimMiddle = try either("middle_token_id", "fim_mid_token_id")
        fimPad = try id("fim_pad_token_id")
        fimRepository = try id("fim_rep_token_id")
        fimSeparator = try id("fim_sep_token_id")
    }
}

/// llama.cpp's text-based fix-ups of a GGUF vocabulary (`llama_vocab::impl::load`, same for every
/// vocabulary type), so that special parsing, detokenization and stopping agree with it:
///
/// 1. An end-of-turn, end-of-message or FIM id the metadata does not name is looked up by its text
///    (lists below); the token found is promoted to control.
/// 2. Every token whose text is in `endOfGenerationTexts` ends generation and is promoted to control,
///    whatever its stored type (Qwen's ordinary token 128247 `</s>` and Gemma's user-defined 212 `</s>`
///    become control: with special parsing `</s>` in the text is one token, and it renders only when
///    special tokens are asked for). The FIM pad / repository / separator ids end generation too, and so
///    do eos, eot and eom.
/// 3. gpt-oss's `<|channel|>`, `<|message|>`, `<|start|>`, `<|constrain|>` become user-defined (always
///    rendered); `<|end|>` stops ending generation when `<|return|>` and `<|call|>` (or `<|calls|>` and
///    `<|flush|>`) do; `</s>` is a normal token again, not an end, when `<|tool_response>` or
///    `<|plamo:eos|>` ends generation.
///
/// llama.cpp keeps token attributes as bit flags and promotion ORs in the control bit; every behaviour
/// this library has (special parsing, rendering, skipping) treats "control plus anything" exactly as
/// control, so a promoted token simply gets the type `.control`. Where several tokens match one list
/// llama.cpp takes whichever its hash map yields first; we take the lowest id.
enum LlamaCppTokenRules {
    static let endOfTurnTexts: Set<String> = [
        "<|eot_id|>", "<|im_end|>", "<|end|>", "<end_of_turn>", "<|endoftext|>", "<|end_of_text|>", "<EOT>",
        "_<EOT>", "[EOT]", "<｜end▁of▁sentence｜>", "<end_of_utterance>",
    ]
    static let endOfMessageTexts: Set<String> = ["<|eom_id|>"]
    static let fimPrefixTexts: Set<String> = [
        "<|fim_prefix|>", "<fim-prefix>", "<fim_prefix>", "<｜fim▁begin｜>", "<PRE>", "▁<PRE>", "<|code_prefix|>", "<|prefix|>",
    ]
    static let fimSuffixTexts: Set<String> = [
        "<|fim_suffix|>", "<fim-suffix>", "<fim_suffix>", "<｜fim▁hole｜>", "<SUF>", "▁<SUF>", "<|code_suffix|>", "<|suffix|>",
    ]
    static let fimMiddleTexts: Set<String> = [
        "<|fim_middle|>", "<fim-middle>", "<fim_middle>", "<｜fim▁end｜>", "<MID>", "▁<MID>", "<|code_middle|>", "<|middle|>",
    ]
    static let fimPadTexts: Set<String> = ["<|fim_pad|>", "<fim-pad>", "<fim_pad>", "<PAD>", "[PAD]"]
    static let fimRepositoryTexts: Set<String> = ["<|fim_repo|>", "<|repo_name|>", "<fim-repo>", "<REPO>", "<reponame>"]
    static let fimSeparatorTexts: Set<String> = ["<|file_sep|>"]
    /// Texts of tokens that end generation (llama.cpp's list at the commit the references were made with).
    static let endOfGenerationTexts: Set<String> = [
        "<|eot_id|>", "<|im_end|>", "<|end|>", "<|return|>", "<|call|>", "<|flush|>", "<|calls|>", "<end_of_turn>",
        "<|endoftext|>", "</s>", "<|eom_id|>", "<EOT>", "_<EOT>", "[EOT]", "[EOS]", "<|end_of_text|>",
        "<end_of_utterance>", "<eos>", "<turn|>", "<|tool_response>", "<｜end▁of▁sentence｜>", "[e~[",
    ]
    static let alwaysRenderedTexts: Set<String> = ["<|channel|>", "<|message|>", "<|start|>", "<|constrain|>"]

    /// Applies the rules to `types` (by id, parallel to `texts`) and returns the end-of-generation ids.
    static func apply(texts: [String], types: inout [TokenType], ids: GGUFSpecialTokenIDs) -> Set<Int> {
        // One pass finds every token whose text any rule names; the vocabulary itself is not indexed.
        let named = endOfTurnTexts.union(endOfMessageTexts).union(fimPrefixTexts).union(fimSuffixTexts)
            .union(fimMiddleTexts).union(fimPadTexts).union(fimRepositoryTexts).union(fimSeparatorTexts)
            .union(endOfGenerationTexts).union(alwaysRenderedTexts)
        // Every listed text starts with '<', '[', '_' or U+2581 and is at most 32 bytes long: a cheap
        // filter before hashing (Gemma has 262,144 tokens).
        var found: [(id: Int, text: String)] = []
        for (id, text) in texts.enumerated() {
            let utf8 = text.utf8
            guard utf8.count <= 32, let first = utf8.first,
                  first == 0x3C || first == 0x5B || first == 0x5F || first == 0xE2, named.contains(text) else { continue }
            found.append((id, text))
        }

        func promote(_ id: Int) { if types[id] != .control { types[id] = .control } }
        /// The id the metadata names, else the lowest id whose text is in `list` (promoted to control).
        func resolve(_ given: Int?, _ list: Set<String>) -> Int? {
            if let given { return given }
            guard let hit = found.first(where: { list.contains($0.text) }) else { return nil }
            promote(hit.id)
            return hit.id
        }
        let eot = resolve(ids.endOfTurn, endOfTurnTexts)
        let eom = resolve(ids.endOfMessage, endOfMessageTexts)
        _ = resolve(ids.fimPrefix, fimPrefixTexts)
        _ = resolve(ids.fimSuffix, fimSuffixTexts)
        _ = resolve(ids.fimMiddle, fimMiddleTexts)
        let fimPad = resolve(ids.fimPad, fimPadTexts)
        let fimRepository = resolve(ids.fimRepository, fimRepositoryTexts)
        let fimSeparator = resolve(ids.fimSeparator, fimSeparatorTexts)

        var eog = Set([fimPad, fimRepository, fimSeparator].compactMap { $0 })
        for hit in found where endOfGenerationTexts.contains(hit.text) {
            eog.insert(hit.id)
            promote(hit.id)
        }
        for hit in found where alwaysRenderedTexts.contains(hit.text) { types[hit.id] = .userDefined }
        for id in [ids.eos, eot, eom].compactMap({ $0 }) { eog.insert(id) }

        let eogTexts = Dictionary(eog.map { (texts[$0], $0) }, uniquingKeysWith: min)
        let has = { (text: String) in eogTexts[text] != nil }
        if let end = eogTexts["<|end|>"],
           (has("<|return|>") && (has("<|call|>") || has("<|calls|>"))) || ((has("<|call|>") || has("<|calls|>")) && has("<|flush|>")) {
            eog.remove(end)
            types[end] = .userDefined
        }
        if let s = eogTexts["</s>"], has("<|tool_response>") || has("<|plamo:eos|>") {
            eog.remove(s)
            types[s] = .normal
        }
        return eog
    }
}

extension MetadataReader {
    /// An array of numbers (GGUF stores scores as f32; llama.cpp also accepts i32).
    func optionalFloats(_ key: String) throws(TokenizerError) -> [Float]? {
        guard let v = metadata[key] else { return nil }
        guard let a = v.array else { throw .wrongType(key: key, expected: "arr[f32]", found: v.typeName) }
        var out: [Float] = []
        out.reserveCapacity(a.count)
        for e in a {
            guard let d = e.double else { throw .wrongType(key: key, expected: "arr[f32]", found: v.typeName) }
            out.append(Float(d))
        }
        return out
    }
}
