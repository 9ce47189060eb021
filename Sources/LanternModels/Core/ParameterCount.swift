import Foundation
import LanternFormats

// How big a model is, from its configuration alone (analytically, per architecture) or from a
// checkpoint's tensor table (by name): parameters split by part, weight memory per storage type, and
// the KV cache a position costs. The per-architecture formulas follow the tensors each loader in
// Architectures/ reads, so a checkpoint's element count is the test of a formula.

/// Parameter counts by part of the network. `vectors` counts the values that sit in 1-D tensors (norm
/// weights, biases): llama.cpp's quantizer keeps those in f32 whatever the matrices' type.
public struct ParameterCount: Sendable, Equatable {
    /// Token, position and token-type tables.
    public var embeddings = 0
    /// Q, K, V and output projections with their biases, cross-attention, T5's relative-bias tables.
    public var attention = 0
    public var feedForward = 0
    /// Every LayerNorm / RMSNorm weight and bias, the embedding norms included.
    public var norms = 0
    /// Untied LM head, its bias (BART's final_logits_bias), BERT's MLM transform and pooler.
    public var head = 0
    /// Tensors no rule recognises (checkpoint counts only).
    public var other = 0
    public var vectors = 0

    public init() {}

    public var total: Int { embeddings + attention + feedForward + norms + head + other }

    /// Bytes of the weights stored in `format`: matrices at the format's rate, 1-D tensors in f32.
    public func weightBytes(_ format: WeightFormat) -> Int {
        let matrices = total - vectors
        return vectors * 4 + Int((Double(matrices) * Double(format.blockBytes) / Double(format.blockSize)).rounded(.up))
    }
}

/// Storage types by their block layout (ggml's: q8_0 = f16 scale + 32 int8; q4_0 = f16 scale + 32
/// nibbles; q4_K = 256-value super-block of 8 sub-blocks with 6-bit scales and mins, f16 d and dmin).
public enum WeightFormat: String, Sendable, CaseIterable {
    case f32, f16, q8_0, q4_0, q4_K

    /// Values per block and bytes per block.
    public var blockSize: Int { switch self { case .f32, .f16: 1; case .q8_0, .q4_0: 32; case .q4_K: 256 } }
    public var blockBytes: Int { switch self { case .f32: 4; case .f16: 2; case .q8_0: 34; case .q4_0: 18; case .q4_K: 144 } }
    public var bitsPerWeight: Double { Double(blockBytes * 8) / Double(blockSize) }
}

/// What `lantern params` reports about one model.
public struct ModelSize: Sendable, Equatable {
    public var architecture: String
    public var parameters: ParameterCount
    /// K and V values one position adds to the cache, over all layers of the generating stack's
    /// self-attention (0 for encoder-only models, which keep no cache).
    public var kvValuesPerToken: Int
    /// K and V values an encoder-decoder's cross-attention holds per source token (0 otherwise).
    public var crossKVValuesPerSourceToken: Int = 0
    /// The trained context (positions), the default for KV totals.
    public var maxContext: Int
    public var notes: [String] = []
}

public enum ModelAnatomy {
    // MARK: Presets (Hugging Face config.json texts; counts come from the same formulas as --config)

    public struct Preset: Sendable {
        public let name: String, summary: String, config: String
        /// The figure its authors published, with where (tests compare the computed count with it).
        public let publishedTotal: Double, publishedSource: String
        public let note: String?
    }

    public static let presets: [Preset] = [
        Preset(name: "gpt2", summary: "GPT-2 small (OpenAI 2019)",
               config: #"{"model_type": "gpt2", "architectures": ["GPT2LMHeadModel"], "n_embd": 768, "n_layer": 12, "n_head": 12, "vocab_size": 50257, "n_positions": 1024}"#,
               publishedTotal: 124e6, publishedSource: "openai/gpt-2 README (model name 124M)",
               note: "The GPT-2 paper (Radford et al. 2019, table 2) lists the smallest model as 117M parameters; OpenAI's gpt-2 repository later renamed it 124M, saying the original counts were wrong. Counting the checkpoint gives 124,439,808 with the head tied to the token embeddings (38.6M of them)."),
        Preset(name: "gpt3-175b", summary: "GPT-3 175B (Brown et al. 2020): GPT-2's layout at 96 layers x 12288",
               config: #"{"model_type": "gpt2", "architectures": ["GPT2LMHeadModel"], "n_embd": 12288, "n_layer": 96, "n_head": 96, "vocab_size": 50257, "n_positions": 2048}"#,
               publishedTotal: 175.0e9, publishedSource: "Brown et al. 2020, table 2.1 (175.0B)",
               note: "GPT-3 alternates dense and locally banded sparse attention; that changes no weight shapes."),
        Preset(name: "llama2-70b", summary: "LLaMA 2 70B (Touvron et al. 2023): 80 layers x 8192, GQA 64/8 heads",
               config: #"{"model_type": "llama", "architectures": ["LlamaForCausalLM"], "hidden_size": 8192, "intermediate_size": 28672, "num_hidden_layers": 80, "num_attention_heads": 64, "num_key_value_heads": 8, "vocab_size": 32000, "max_position_embeddings": 4096, "rms_norm_eps": 1e-5, "tie_word_embeddings": false}"#,
               publishedTotal: 68.98e9, publishedSource: "Hugging Face's count for meta-llama/Llama-2-70b-hf (68.98B)",
               note: "\"70B\" is the paper's rounded name."),
        Preset(name: "bert-base", summary: "BERT-base uncased (Devlin et al. 2018) with its MLM head",
               config: #"{"model_type": "bert", "architectures": ["BertForMaskedLM"], "hidden_size": 768, "num_hidden_layers": 12, "num_attention_heads": 12, "intermediate_size": 3072, "vocab_size": 30522, "max_position_embeddings": 512, "type_vocab_size": 2}"#,
               publishedTotal: 110e6, publishedSource: "Devlin et al. 2018, section 3 (110M)", note: nil),
        Preset(name: "t5-base", summary: "T5-base (Raffel et al. 2019), v1.0: ReLU, tied head",
               config: #"{"model_type": "t5", "architectures": ["T5ForConditionalGeneration"], "d_model": 768, "d_kv": 64, "d_ff": 3072, "num_layers": 12, "num_decoder_layers": 12, "num_heads": 12, "vocab_size": 32128, "feed_forward_proj": "relu", "relative_attention_num_buckets": 32, "n_positions": 512, "tie_word_embeddings": true}"#,
               publishedTotal: 220e6, publishedSource: "Raffel et al. 2019, section 3.7 (\"about 220 million\")",
               note: "The paper rounds: the checkpoint holds 222,903,552 values (shared 32128 x 768 table counted once)."),
    ]

    public static func preset(named name: String) -> Preset? { presets.first { $0.name == name } }

    // MARK: From a configuration

    /// The size a Hugging Face config.json describes, for the model types Lantern runs (its
    /// `architectures` choose BERT's head: MLM, pooler or both).
    public static func size(configJSON data: Data) throws -> ModelSize {
        struct Header: Decodable { let model_type: String?; let architectures: [String]? }
        let header: Header
        do { header = try JSONDecoder().decode(Header.self, from: data) } catch {
            throw ModelError.invalidConfiguration("config.json: \(error)")
        }
        guard let type = header.model_type else { throw ModelError.invalidConfiguration("config.json has no model_type") }
        func decode<C: Decodable>(_: C.Type) throws -> C {
            do { return try JSONDecoder().decode(C.self, from: data) } catch let e as ModelError { throw e } catch {
                throw ModelError.invalidConfiguration("config.json (\(type)): \(error)")
            }
        }
        switch type {
        case "llama": return llama(try decode(LlamaConfiguration.self), architecture: "llama", qkvBias: false)
        case "qwen2": return llama(try decode(Qwen2Configuration.self).base, architecture: "qwen2", qkvBias: true)
        case "gpt2": return gpt2(try decode(GPT2Configuration.self))
        case "bloom": return bloom(try decode(BloomConfiguration.self))
        case "bert":
            // The head follows the class transformers saved: MLM transform, pooler, or both (pre-training).
            let a = header.architectures ?? ["BertModel"]
            let mlm = a.contains { ["BertForMaskedLM", "BertForPreTraining", "BertLMHeadModel"].contains($0) }
            let pooler = !a.contains { ["BertForMaskedLM", "BertLMHeadModel"].contains($0) }
            return bert(try decode(BertConfiguration.self), mlm: mlm, pooler: pooler, nextSentence: a.contains("BertForPreTraining"))
        case "t5", "mt5": return t5(try decode(T5Configuration.self), architecture: type)
        case "bart": return postNormSeq2Seq(try decode(BartConfiguration.self).shared, architecture: "bart", learnedPositions: true)
        case "marian": return postNormSeq2Seq(try decode(MarianConfiguration.self).shared, architecture: "marian", learnedPositions: false)
        default: throw ModelError.unsupportedArchitecture(type)
        }
    }

    /// The size a GGUF file's hyper-parameters describe (its `general.architecture`).
    public static func size(gguf file: GGUFFile) throws -> ModelSize {
        let arch = try ModelRegistry.architecture(of: file)
        switch arch {
        case "llama": return llama(try LlamaConfiguration(gguf: file), architecture: arch, qkvBias: false)
        case "qwen2": return llama(try LlamaConfiguration(gguf: file, architecture: arch), architecture: arch, qkvBias: true)
        case "gemma3": return gemma3(try Gemma3Configuration(gguf: file))
        case "gpt2": return gpt2(try GPT2Configuration(gguf: file))
        case "bloom": return bloom(try BloomConfiguration(gguf: file))
        case "bert":
            // llama.cpp's converter keeps the encoder only (no pooler, no MLM head).
            return bert(try BertConfiguration(gguf: file), mlm: false, pooler: false, nextSentence: false)
        case "t5":
            // The converter writes output.weight whenever the checkpoint had an lm_head, even an equal copy.
            return t5(try T5Configuration(gguf: file), architecture: arch, storedHead: file.contains("output.weight"))
        default: throw ModelError.unsupportedArchitecture(arch)
        }
    }

    // MARK: From a checkpoint

    /// The checkpoint's own count: every tensor's elements, put in a part by its name (Hugging Face or
    /// GGUF names). The total is exact by construction; the split is as good as the name rules.
    public static func count(tensors: [(name: String, shape: [Int])]) -> ParameterCount {
        var tally = Tally()
        for (name, shape) in tensors {
            tally.add(part(of: name), shape.reduce(1, *), vector: shape.filter({ $0 > 1 }).count <= 1)
        }
        return tally.p
    }

    /// The tensor table of a WeightStore (safetensors folder or GGUF file).
    public static func tensorTable(_ store: any WeightStore) -> [(name: String, shape: [Int])] {
        if let gguf = store as? GGUFFile { return gguf.tensorInfos.map { ($0.name, $0.shape) } }
        return store.tensorNames.compactMap { name in (try? store.tensor(name)).map { (name, $0.shape) } }
    }

    enum Part { case embeddings, attention, feedForward, norms, head, other }

    static func part(of name: String) -> Part {
        let n = name.lowercased()
        func has(_ s: String...) -> Bool { s.contains { n.contains($0) } }
        if n.hasPrefix("cls.") || has("pooler", "lm_head", "final_logits_bias") || n == "output.weight" || n == "output.bias" { return .head }
        if has("norm", "ln_", "ln_f") { return .norms }
        if has("attn", "attention", "self_attn", "encdecattention") { return .attention }
        if has("mlp", "ffn", "densereludense", "fc1", "fc2", "intermediate", ".output.dense") { return .feedForward }
        if has("embed", "wte", "wpe", "token_embd", "position_embd", "token_types", "shared") { return .embeddings }
        return .other
    }

    // MARK: Per-architecture formulas

    /// Accumulates tensors by part, tracking 1-D ones.
    struct Tally {
        var p = ParameterCount()
        mutating func matrix(_ part: Part, _ rows: Int, _ cols: Int) { add(part, rows * cols, vector: false) }
        mutating func vector(_ part: Part, _ n: Int) { add(part, n, vector: true) }
        /// A linear layer [out, in] with an optional bias [out].
        mutating func linear(_ part: Part, in i: Int, out o: Int, bias: Bool) {
            matrix(part, o, i)
            if bias { vector(part, o) }
        }
        mutating func layerNorm(_ d: Int, bias: Bool) { vector(.norms, d); if bias { vector(.norms, d) } }
        mutating func add(_ part: Part, _ n: Int, vector: Bool) {
            switch part {
            case .embeddings: p.embeddings += n
            case .attention: p.attention += n
            case .feedForward: p.feedForward += n
            case .norms: p.norms += n
            case .head: p.head += n
            case .other: p.other += n
            }
            if vector { p.vectors += n }
        }
    }

    static func llama(_ c: LlamaConfiguration, architecture: String, qkvBias: Bool) -> ModelSize {
        var t = Tally()
        let d = c.hiddenSize, q = c.heads * c.headDim, kv = c.kvHeads * c.headDim
        t.matrix(.embeddings, c.vocabularySize, d)
        for _ in 0..<c.layers {
            t.layerNorm(d, bias: false)
            t.linear(.attention, in: d, out: q, bias: qkvBias)
            t.linear(.attention, in: d, out: kv, bias: qkvBias)
            t.linear(.attention, in: d, out: kv, bias: qkvBias)
            t.linear(.attention, in: q, out: d, bias: false)
            t.layerNorm(d, bias: false)
            for _ in 0..<2 { t.linear(.feedForward, in: d, out: c.intermediateSize, bias: false) }
            t.linear(.feedForward, in: c.intermediateSize, out: d, bias: false)
        }
        t.layerNorm(d, bias: false)
        if !c.tieWordEmbeddings { t.matrix(.head, c.vocabularySize, d) }
        return ModelSize(architecture: architecture, parameters: t.p, kvValuesPerToken: c.layers * 2 * kv, maxContext: c.maxContextLength)
    }

    static func gemma3(_ c: Gemma3Configuration) -> ModelSize {
        var t = Tally()
        let d = c.hiddenSize, q = c.heads * c.headDim, kv = c.kvHeads * c.headDim
        t.matrix(.embeddings, c.vocabularySize, d)
        for _ in 0..<c.layers {
            for _ in 0..<4 { t.layerNorm(d, bias: false) }          // input, post-attention, pre- and post-FFN
            t.layerNorm(c.headDim, bias: false)                       // q norm
            t.layerNorm(c.headDim, bias: false)                       // k norm
            t.linear(.attention, in: d, out: q, bias: false)
            t.linear(.attention, in: d, out: kv, bias: false)
            t.linear(.attention, in: d, out: kv, bias: false)
            t.linear(.attention, in: q, out: d, bias: false)
            for _ in 0..<2 { t.linear(.feedForward, in: d, out: c.intermediateSize, bias: false) }
            t.linear(.feedForward, in: c.intermediateSize, out: d, bias: false)
        }
        t.layerNorm(d, bias: false)
        return ModelSize(architecture: "gemma3", parameters: t.p, kvValuesPerToken: c.layers * 2 * kv, maxContext: c.maxContextLength)
    }

    static func gpt2(_ c: GPT2Configuration) -> ModelSize {
        var t = Tally()
        let d = c.hiddenSize, inner = c.innerSize ?? 4 * d
        t.matrix(.embeddings, c.vocabularySize, d)
        t.matrix(.embeddings, c.maxPositions, d)
        for _ in 0..<c.layers {
            t.layerNorm(d, bias: true)
            t.linear(.attention, in: d, out: 3 * d, bias: true)     // c_attn (fused q|k|v)
            t.linear(.attention, in: d, out: d, bias: true)         // c_proj
            t.layerNorm(d, bias: true)
            t.linear(.feedForward, in: d, out: inner, bias: true)
            t.linear(.feedForward, in: inner, out: d, bias: true)
        }
        t.layerNorm(d, bias: true)
        return ModelSize(architecture: "gpt2", parameters: t.p, kvValuesPerToken: c.layers * 2 * d, maxContext: c.maxPositions,
                         notes: ["head tied to the token embeddings (GPT2LMHeadModel)"])
    }

    static func bloom(_ c: BloomConfiguration) -> ModelSize {
        var t = Tally()
        let d = c.hiddenSize
        t.matrix(.embeddings, c.vocabularySize, d)
        t.layerNorm(d, bias: true)                                   // word_embeddings_layernorm
        for _ in 0..<c.layers {
            t.layerNorm(d, bias: true)
            t.linear(.attention, in: d, out: 3 * d, bias: true)
            t.linear(.attention, in: d, out: d, bias: true)
            t.layerNorm(d, bias: true)
            t.linear(.feedForward, in: d, out: 4 * d, bias: true)
            t.linear(.feedForward, in: 4 * d, out: d, bias: true)
        }
        t.layerNorm(d, bias: true)
        return ModelSize(architecture: "bloom", parameters: t.p, kvValuesPerToken: c.layers * 2 * d, maxContext: c.maxContextLength,
                         notes: ["ALiBi: no position table; head tied to the token embeddings"])
    }

    static func bert(_ c: BertConfiguration, mlm: Bool, pooler: Bool, nextSentence: Bool) -> ModelSize {
        var t = Tally()
        let d = c.hiddenSize
        t.matrix(.embeddings, c.vocabularySize, d)
        t.matrix(.embeddings, c.maxPositions, d)
        t.matrix(.embeddings, c.typeVocabularySize, d)
        t.layerNorm(d, bias: true)
        for _ in 0..<c.layers {
            for _ in 0..<4 { t.linear(.attention, in: d, out: d, bias: true) }
            t.layerNorm(d, bias: true)
            t.linear(.feedForward, in: d, out: c.intermediateSize, bias: true)
            t.linear(.feedForward, in: c.intermediateSize, out: d, bias: true)
            t.layerNorm(d, bias: true)
        }
        var notes: [String] = []
        if mlm {
            // cls.predictions: transform dense + LayerNorm, decoder tied to the word embeddings, its bias.
            t.linear(.head, in: d, out: d, bias: true)
            t.vector(.head, d); t.vector(.head, d)
            t.vector(.head, c.vocabularySize)
            notes.append("MLM head: transform + LayerNorm + output bias, decoder tied to the word embeddings")
        }
        if pooler { t.linear(.head, in: d, out: d, bias: true); notes.append("pooler dense layer") }
        if nextSentence { t.linear(.head, in: d, out: 2, bias: true); notes.append("next-sentence head") }
        return ModelSize(architecture: "bert", parameters: t.p, kvValuesPerToken: 0, maxContext: c.maxPositions,
                         notes: notes + ["encoder only: no KV cache"])
    }

    /// - Parameter storedHead: whether the checkpoint stores an lm_head (nil: as the config's flags say).
    static func t5(_ c: T5Configuration, architecture: String, storedHead: Bool? = nil) -> ModelSize {
        var t = Tally()
        let d = c.hiddenSize, inner = c.heads * c.headDim
        t.matrix(.embeddings, c.vocabularySize, d)                   // shared
        func attention() { for _ in 0..<4 { t.matrix(.attention, inner, d) } }
        func feedForward() {
            for _ in 0..<(c.gated ? 2 : 1) { t.matrix(.feedForward, c.feedForward, d) }
            t.matrix(.feedForward, d, c.feedForward)
        }
        for layer in 0..<c.encoderLayers {
            attention()
            if layer == 0 { t.matrix(.attention, c.buckets, c.heads) }   // relative_attention_bias, stack-wide
            t.layerNorm(d, bias: false)
            feedForward()
            t.layerNorm(d, bias: false)
        }
        t.layerNorm(d, bias: false)
        for layer in 0..<c.decoderLayers {
            attention()
            if layer == 0 { t.matrix(.attention, c.buckets, c.heads) }
            t.layerNorm(d, bias: false)
            attention()                                                 // EncDecAttention
            t.layerNorm(d, bias: false)
            feedForward()
            t.layerNorm(d, bias: false)
        }
        t.layerNorm(d, bias: false)
        // transformers 5 writes tie_word_embeddings true for untied v1.1 checkpoints but records
        // scale_decoder_outputs false for them (T5.swift): either flag false means a stored lm_head.
        let untied = storedHead ?? (!c.tieWordEmbeddings || !c.scaleDecoderOutputs)
        if untied { t.matrix(.head, c.vocabularySize, d) }
        return ModelSize(architecture: architecture, parameters: t.p, kvValuesPerToken: c.decoderLayers * 2 * inner,
                         crossKVValuesPerSourceToken: c.decoderLayers * 2 * inner, maxContext: c.maxPositions,
                         notes: [untied ? "separate lm_head" : "head tied to the shared embeddings"])
    }

    static func postNormSeq2Seq(_ c: PostNormSeq2SeqConfiguration, architecture: String, learnedPositions: Bool) -> ModelSize {
        var t = Tally()
        let d = c.hiddenSize
        t.matrix(.embeddings, c.vocabularySize, d)                   // model.shared
        func stack(layers: Int, ffn: Int, cross: Bool) {
            if learnedPositions {
                t.matrix(.embeddings, c.maxPositions + 2, d)              // BART's learned positions, offset 2
                t.layerNorm(d, bias: true)                                // layernorm_embedding
            }
            for _ in 0..<layers {
                for _ in 0..<4 { t.linear(.attention, in: d, out: d, bias: true) }
                t.layerNorm(d, bias: true)
                if cross {
                    for _ in 0..<4 { t.linear(.attention, in: d, out: d, bias: true) }
                    t.layerNorm(d, bias: true)
                }
                t.linear(.feedForward, in: d, out: ffn, bias: true)
                t.linear(.feedForward, in: ffn, out: d, bias: true)
                t.layerNorm(d, bias: true)
            }
        }
        stack(layers: c.encoderLayers, ffn: c.encoderFeedForward, cross: false)
        stack(layers: c.decoderLayers, ffn: c.decoderFeedForward, cross: true)
        t.vector(.head, c.vocabularySize)                            // final_logits_bias [1, vocab]
        if !c.tieWordEmbeddings { t.matrix(.head, c.vocabularySize, d) }
        return ModelSize(architecture: architecture, parameters: t.p, kvValuesPerToken: c.decoderLayers * 2 * d,
                         crossKVValuesPerSourceToken: c.decoderLayers * 2 * d, maxContext: c.maxPositions,
                         notes: learnedPositions ? [] : ["sinusoidal positions: not stored"])
    }
}
