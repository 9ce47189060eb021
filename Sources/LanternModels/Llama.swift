import Foundation
import LanternFormats
import LanternTensor

// LLaMA family (Touvron et al. 2023): pre-RMSNorm blocks, rotary positions, grouped-query attention,
// SwiGLU MLP, optional tied output embedding. Covers SmolLM2, LLaMA 2/3, Mistral-style checkpoints.

// MARK: - Configuration

/// LLaMA hyper-parameters, read from a GGUF file's `llama.*` metadata or a Hugging Face config.json.
public struct LlamaConfiguration: Sendable, Decodable, Equatable {
    public var hiddenSize: Int
    public var intermediateSize: Int
    public var layers: Int
    public var heads: Int
    public var kvHeads: Int
    public var headDim: Int
    public var vocabularySize: Int
    public var rmsNormEps: Float
    public var ropeBase: Double
    /// Leading features of each head that RoPE rotates (all of them unless the checkpoint says less).
    public var ropeDimensions: Int
    public var maxContextLength: Int
    public var tieWordEmbeddings: Bool

    enum CodingKeys: String, CodingKey {
        case hiddenSize = "hidden_size", intermediateSize = "intermediate_size", layers = "num_hidden_layers"
        case heads = "num_attention_heads", kvHeads = "num_key_value_heads", headDim = "head_dim"
        case vocabularySize = "vocab_size", rmsNormEps = "rms_norm_eps", ropeTheta = "rope_theta"
        case ropeParameters = "rope_parameters", maxContextLength = "max_position_embeddings"
        case tieWordEmbeddings = "tie_word_embeddings", ropeScaling = "rope_scaling"
    }

    struct RopeParameters: Decodable { var rope_theta: Double?; var rope_type: String?; var type: String? }

    public init(hiddenSize: Int, intermediateSize: Int, layers: Int, heads: Int, kvHeads: Int, headDim: Int,
                vocabularySize: Int, rmsNormEps: Float, ropeBase: Double, maxContextLength: Int,
                tieWordEmbeddings: Bool) throws(ModelError) {
        self.hiddenSize = hiddenSize
        self.intermediateSize = intermediateSize
        self.layers = layers
        self.heads = heads
        self.kvHeads = kvHeads
        self.headDim = headDim
        self.vocabularySize = vocabularySize
        self.rmsNormEps = rmsNormEps
        self.ropeBase = ropeBase
        self.ropeDimensions = headDim
        self.maxContextLength = maxContextLength
        self.tieWordEmbeddings = tieWordEmbeddings
        try validate()
    }

    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        hiddenSize = try c.decode(Int.self, forKey: .hiddenSize)
        intermediateSize = try c.decode(Int.self, forKey: .intermediateSize)
        layers = try c.decode(Int.self, forKey: .layers)
        heads = try c.decode(Int.self, forKey: .heads)
        kvHeads = try c.decodeIfPresent(Int.self, forKey: .kvHeads) ?? heads
        headDim = try c.decodeIfPresent(Int.self, forKey: .headDim) ?? (hiddenSize / max(heads, 1))
        vocabularySize = try c.decode(Int.self, forKey: .vocabularySize)
        rmsNormEps = try c.decodeIfPresent(Float.self, forKey: .rmsNormEps) ?? 1e-6
        let rope = try c.decodeIfPresent(RopeParameters.self, forKey: .ropeParameters)
        ropeBase = try c.decodeIfPresent(Double.self, forKey: .ropeTheta) ?? rope?.rope_theta ?? 10000
        // Scaled RoPE variants (linear, dynamic, yarn, llama3) change every angle; refuse rather than run wrong.
        let scaling = try c.decodeIfPresent(RopeParameters.self, forKey: .ropeScaling)
        for type in [rope?.rope_type, scaling?.rope_type, scaling?.type].compactMap({ $0 }) where type != "default" {
            throw ModelError.invalidConfiguration("RoPE scaling type '\(type)' is not supported")
        }
        ropeDimensions = headDim
        maxContextLength = try c.decodeIfPresent(Int.self, forKey: .maxContextLength) ?? 2048
        tieWordEmbeddings = try c.decodeIfPresent(Bool.self, forKey: .tieWordEmbeddings) ?? false
        try validate()
    }

    /// Reads `<arch>.*` keys of a GGUF file (arch is `general.architecture`, "llama" here).
    public init(gguf file: GGUFFile, architecture arch: String = "llama") throws {
        func int(_ key: String) throws -> Int { try file.int("\(arch).\(key)") }
        hiddenSize = try int("embedding_length")
        intermediateSize = try int("feed_forward_length")
        layers = try int("block_count")
        heads = try int("attention.head_count")
        kvHeads = (try? int("attention.head_count_kv")) ?? heads
        headDim = (try? int("attention.key_length")) ?? hiddenSize / max(heads, 1)
        vocabularySize = (try? int("vocab_size")) ?? (file.metadata["tokenizer.ggml.tokens"]?.array?.count ?? 0)
        rmsNormEps = Float((try? file.double("\(arch).attention.layer_norm_rms_epsilon")) ?? 1e-5)
        ropeBase = (try? file.double("\(arch).rope.freq_base")) ?? 10000
        ropeDimensions = (try? int("rope.dimension_count")) ?? headDim
        if let type = try? file.string("\(arch).rope.scaling.type"), type != "none" {
            throw ModelError.invalidConfiguration("RoPE scaling type '\(type)' is not supported")
        }
        maxContextLength = (try? int("context_length")) ?? 2048
        tieWordEmbeddings = !file.contains("output.weight")
        try validate()
    }

    /// Upper bounds far above any real checkpoint; they keep corrupt metadata from overflowing products
    /// or asking for absurd allocations before a tensor is even looked at.
    var sizesAndLimits: [(name: String, value: Int, limit: Int)] {
        [("hidden size", hiddenSize, 1 << 16), ("feed-forward size", intermediateSize, 1 << 18),
         ("layer count", layers, 1 << 10), ("attention heads", heads, 1 << 10), ("key/value heads", kvHeads, 1 << 10),
         ("head dimension", headDim, 1 << 12), ("vocabulary size", vocabularySize, 1 << 22),
         ("context length", maxContextLength, 1 << 24), ("RoPE dimensions", ropeDimensions, 1 << 12)]
    }

    func validate() throws(ModelError) {
        for (name, v, limit) in sizesAndLimits {
            guard v > 0 else { throw .invalidConfiguration("\(name) must be positive, found \(v)") }
            guard v <= limit else { throw .invalidConfiguration("\(name) \(v) exceeds \(limit)") }
        }
        guard heads % kvHeads == 0 else {
            throw .invalidConfiguration("\(heads) attention heads are not a multiple of \(kvHeads) key/value heads")
        }
        guard ropeDimensions % 2 == 0, ropeDimensions <= headDim else {
            throw .invalidConfiguration("RoPE dimensions \(ropeDimensions) must be even and at most head_dim \(headDim)")
        }
        guard rmsNormEps > 0, ropeBase > 0 else { throw .invalidConfiguration("rms_norm_eps and rope_theta must be positive") }
    }
}

// MARK: - Attention

/// Grouped-query self-attention with RoPE over a KV cache.
struct LlamaAttention: Sendable {
    let q: Linear   // [heads * headDim, hidden]
    let k: Linear   // [kvHeads * headDim, hidden]
    let v: Linear   // [kvHeads * headDim, hidden]
    let o: Linear   // [hidden, heads * headDim]
    let heads: Int, kvHeads: Int, headDim: Int

    /// x: [T, hidden] normed input; writes the attention output projection to `out` [T, hidden].
    func callAsFunction(_ x: UnsafePointer<Float>, tokens T: Int, layer: Int, cache: KVCache, rope: RotaryEmbedding,
                        ws: LlamaWorkspace, out: UnsafeMutablePointer<Float>, pool: ThreadPool) {
        let start = cache.count
        q(x, tokens: T, into: ws.q, pool: pool)                          // [T, heads, headDim]
        let kRow = cache.keys[layer] + start * cache.rowSize            // [T, kvHeads, headDim]
        let vRow = cache.values[layer] + start * cache.rowSize          // [T, kvHeads, headDim]
        k(x, tokens: T, into: kRow, pool: pool)
        v(x, tokens: T, into: vRow, pool: pool)
        rope.apply(ws.q, tokens: T, heads: heads, headDim: headDim, cos: ws.cos, sin: ws.sin)
        rope.apply(kRow, tokens: T, heads: kvHeads, headDim: headDim, cos: ws.cos, sin: ws.sin)

        var job = AttentionJob(q: ws.q, out: ws.attn, keys: cache.keys[layer], values: cache.values[layer],
                               start: start, heads: heads, group: heads / kvHeads, headDim: headDim,
                               rowSize: cache.rowSize, scale: 1 / Float(headDim).squareRoot())
        withUnsafeMutablePointer(to: &job) { pool.parallelFor(T * heads, context: $0, attendChunk) }
        o(ws.attn, tokens: T, into: out, pool: pool)
    }
}

/// One attention call's arguments, handed to the pool's workers by pointer (no closure, no allocation).
struct AttentionJob {
    let q: UnsafeMutablePointer<Float>       // [T, heads, headDim]
    let out: UnsafeMutablePointer<Float>     // [T, heads, headDim]
    let keys: UnsafeMutablePointer<Float>    // [capacity, kvHeads, headDim]
    let values: UnsafeMutablePointer<Float>  // [capacity, kvHeads, headDim]
    let start: Int, heads: Int, group: Int, headDim: Int, rowSize: Int
    let scale: Float
}

/// Attention for items lo..<hi, item = token * heads + head: causal, so token t (position start + t)
/// sees keys 0...start + t of its key/value head (head / group).
private let attendChunk: ThreadPool.ChunkFunction = { context, lo, hi in
    guard let job = context?.assumingMemoryBound(to: AttentionJob.self).pointee else { return }
    let hd = job.headDim
    let longest = job.start + (hi - 1) / job.heads + 1
    let scores = MatmulWorkspace.current.scratch(bytes: longest * MemoryLayout<Float>.stride)
        .assumingMemoryBound(to: Float.self)                                   // [positions]
    for item in lo..<hi {
        let t = item / job.heads, h = item % job.heads, g = h / job.group
        Kernels.attendHead(query: job.q + item * hd, keys: job.keys + g * hd, values: job.values + g * hd,
                           stride: job.rowSize, count: job.start + t + 1, headDim: hd, scale: job.scale,
                           scores: scores, into: job.out + item * hd)
    }
}

// MARK: - MLP

/// SwiGLU feed-forward: down(silu(gate(x)) * up(x)).
struct LlamaMLP: Sendable {
    let gate: Linear   // [intermediate, hidden]
    let up: Linear     // [intermediate, hidden]
    let down: Linear   // [hidden, intermediate]

    func callAsFunction(_ x: UnsafePointer<Float>, tokens T: Int, ws: LlamaWorkspace, out: UnsafeMutablePointer<Float>, pool: ThreadPool) {
        gate(x, tokens: T, into: ws.gate, pool: pool)   // [T, intermediate]
        up(x, tokens: T, into: ws.up, pool: pool)       // [T, intermediate]
        Kernels.swiglu(ws.gate, ws.up, count: T * gate.outFeatures)
        down(ws.gate, tokens: T, into: out, pool: pool) // [T, hidden]
    }
}

// MARK: - Block

struct LlamaBlock: Sendable {
    let attentionNorm: RMSNorm
    let attention: LlamaAttention
    let mlpNorm: RMSNorm
    let mlp: LlamaMLP

    /// x [T, hidden] is updated in place: x += attn(norm(x)); x += mlp(norm(x)).
    func callAsFunction(_ x: UnsafeMutablePointer<Float>, tokens T: Int, layer: Int, cache: KVCache, rope: RotaryEmbedding,
                        ws: LlamaWorkspace, pool: ThreadPool) {
        let n = T * attentionNorm.weight.count
        attentionNorm(x, tokens: T, into: ws.normed)
        attention(ws.normed, tokens: T, layer: layer, cache: cache, rope: rope, ws: ws, out: ws.residual, pool: pool)
        Kernels.add(x, ws.residual, count: n)
        mlpNorm(x, tokens: T, into: ws.normed)
        mlp(ws.normed, tokens: T, ws: ws, out: ws.residual, pool: pool)
        Kernels.add(x, ws.residual, count: n)
    }
}

// MARK: - Model

/// Scratch buffers for one forward chunk of up to `maxTokens` tokens, reused across calls so the
/// decode loop does not allocate.
final class LlamaWorkspace: @unchecked Sendable {
    let config: LlamaConfiguration
    let maxTokens: Int
    let x, normed, residual, q, attn, gate, up, cos, sin: UnsafeMutablePointer<Float>

    init(config c: LlamaConfiguration, maxTokens: Int) {
        self.config = c
        self.maxTokens = maxTokens
        func buf(_ n: Int) -> UnsafeMutablePointer<Float> { .allocate(capacity: max(n, 1)) }
        x = buf(maxTokens * c.hiddenSize)
        normed = buf(maxTokens * c.hiddenSize)
        residual = buf(maxTokens * c.hiddenSize)
        q = buf(maxTokens * c.heads * c.headDim)
        attn = buf(maxTokens * c.heads * c.headDim)
        gate = buf(maxTokens * c.intermediateSize)
        up = buf(maxTokens * c.intermediateSize)
        cos = buf(maxTokens * c.headDim / 2)
        sin = buf(maxTokens * c.headDim / 2)
    }

    deinit { [x, normed, residual, q, attn, gate, up, cos, sin].forEach { $0.deallocate() } }
}

/// A LLaMA-family decoder. Weights stay in their file's dtype (quantized blocks are used as stored).
public final class LlamaModel: CausalLanguageModel, @unchecked Sendable {
    public let config: LlamaConfiguration
    let embedding: WeightMatrix      // [vocab, hidden]
    let blocks: [LlamaBlock]
    let finalNorm: RMSNorm
    let output: Linear               // [vocab, hidden]; the embedding itself when tied
    let rope: RotaryEmbedding
    public let pool: ThreadPool
    /// Prompts longer than this are evaluated in chunks.
    public let maxBatch: Int
    private let store: any WeightStore   // keeps the mapped file alive

    public var vocabularySize: Int { config.vocabularySize }
    public var hiddenSize: Int { config.hiddenSize }
    public var maxContextLength: Int { config.maxContextLength }

    /// Loads from a GGUF file (llama.cpp names, attn_q/attn_k rows permuted for adjacent-pair RoPE).
    public convenience init(gguf file: GGUFFile, architecture: String = "llama", threads: Int, maxBatch: Int = 512) throws {
        let config = try LlamaConfiguration(gguf: file, architecture: architecture)
        try self.init(config: config, store: file, names: .gguf, pairing: .adjacent, threads: threads, maxBatch: maxBatch)
    }

    /// Loads from a Hugging Face checkpoint (config.json + model.safetensors).
    public convenience init(config: LlamaConfiguration, safetensors file: SafetensorsFile, threads: Int, maxBatch: Int = 512) throws {
        try self.init(config: config, store: file, names: .huggingFace, pairing: .halves, threads: threads, maxBatch: maxBatch)
    }

    init(config c: LlamaConfiguration, store: any WeightStore, names: LlamaNames, pairing: RotaryEmbedding.Pairing,
         threads: Int, maxBatch: Int) throws {
        self.config = c
        self.store = store
        self.maxBatch = max(1, maxBatch)
        let load = TensorLoader(store)
        embedding = try load.tensor(names.embedding, shape: [c.vocabularySize, c.hiddenSize]).matrix()
        let qDim = c.heads * c.headDim, kvDim = c.kvHeads * c.headDim
        blocks = try (0..<c.layers).map { i in
            LlamaBlock(
                attentionNorm: try load.norm(names.attentionNorm(i), dim: c.hiddenSize, eps: c.rmsNormEps),
                attention: LlamaAttention(
                    q: try load.linear(names.q(i), out: qDim, in: c.hiddenSize),
                    k: try load.linear(names.k(i), out: kvDim, in: c.hiddenSize),
                    v: try load.linear(names.v(i), out: kvDim, in: c.hiddenSize),
                    o: try load.linear(names.o(i), out: c.hiddenSize, in: qDim),
                    heads: c.heads, kvHeads: c.kvHeads, headDim: c.headDim),
                mlpNorm: try load.norm(names.mlpNorm(i), dim: c.hiddenSize, eps: c.rmsNormEps),
                mlp: LlamaMLP(
                    gate: try load.linear(names.gate(i), out: c.intermediateSize, in: c.hiddenSize),
                    up: try load.linear(names.up(i), out: c.intermediateSize, in: c.hiddenSize),
                    down: try load.linear(names.down(i), out: c.hiddenSize, in: c.intermediateSize)))
        }
        finalNorm = try load.norm(names.finalNorm, dim: c.hiddenSize, eps: c.rmsNormEps)
        if c.tieWordEmbeddings {
            output = Linear(embedding)
            load.ignore(names.output)   // some tied checkpoints store a copy anyway
        } else {
            output = try load.linear(names.output, out: c.vocabularySize, in: c.hiddenSize)
        }
        // llama3-style long-context RoPE: per-frequency divisors stored with the weights (GGUF).
        let factors = load.has("rope_freqs.weight")
            ? try load.tensor("rope_freqs.weight", shape: [c.ropeDimensions / 2]).floats() : nil
        try load.checkAllUsed(ignoring: names.ignorable)
        rope = RotaryEmbedding(dimensions: c.ropeDimensions, base: c.ropeBase, pairing: pairing, frequencyFactors: factors)
        pool = ThreadPool(threads: threads)
    }

    public func makeCache(capacity: Int) -> KVCache {
        KVCache(layers: config.layers, kvHeads: config.kvHeads, headDim: config.headDim, capacity: capacity)
    }

    public func forward(_ tokens: UnsafeBufferPointer<Int>, cache: KVCache, output mode: LogitsOutput,
                        into logits: UnsafeMutablePointer<Float>) throws(ModelError) {
        try run(tokens, cache: cache, rows: mode == .all ? tokens.count : 1, logits: true, into: logits)
    }

    public func hiddenStates(_ tokens: [Int], cache: KVCache) throws(ModelError) -> [Float] {
        var result = [Float](repeating: 0, count: tokens.count * config.hiddenSize)
        try tokens.withUnsafeBufferPointer { (ids) throws(ModelError) in
            try result.withUnsafeMutableBufferPointer { (out) throws(ModelError) in
                try run(ids, cache: cache, rows: ids.count, logits: false, into: out.baseAddress!)
            }
        }
        return result
    }

    /// The cache's scratch, grown to hold a chunk of `tokens` tokens.
    private func workspace(for cache: KVCache, tokens: Int) -> LlamaWorkspace {
        let want = min(tokens, maxBatch)
        if let ws = cache.scratch as? LlamaWorkspace, ws.config == config, ws.maxTokens >= want { return ws }
        let ws = LlamaWorkspace(config: config, maxTokens: want)
        cache.scratch = ws
        return ws
    }

    /// Evaluates `tokens` in chunks of `maxBatch`, writing the last `rows` positions' logits (or hidden
    /// states) to `out` [rows, vocabularySize or hiddenSize].
    private func run(_ tokens: UnsafeBufferPointer<Int>, cache: KVCache, rows: Int, logits: Bool,
                     into out: UnsafeMutablePointer<Float>) throws(ModelError) {
        guard !tokens.isEmpty else { throw .emptyInput }
        guard cache.layers == config.layers, cache.kvHeads == config.kvHeads, cache.headDim == config.headDim else {
            throw .cacheMismatch
        }
        guard cache.count + tokens.count <= cache.capacity else {
            throw .contextOverflow(needed: cache.count + tokens.count, capacity: cache.capacity)
        }
        for t in tokens where t < 0 || t >= config.vocabularySize {
            throw .invalidToken(id: t, vocabularySize: config.vocabularySize)
        }
        let width = logits ? config.vocabularySize : config.hiddenSize
        let firstRow = tokens.count - rows
        let ws = workspace(for: cache, tokens: tokens.count)
        var begin = 0
        while begin < tokens.count {
            let end = min(tokens.count, begin + maxBatch)
            chunk(UnsafeBufferPointer(rebasing: tokens[begin..<end]), cache: cache, ws: ws)
            // rows of this chunk that are wanted: global index >= firstRow
            let lo = max(begin, firstRow)
            if lo < end {
                let n = end - lo
                finalNorm(ws.x + (lo - begin) * config.hiddenSize, tokens: n, into: ws.normed)
                let dst = out + (lo - firstRow) * width
                if logits {
                    output(ws.normed, tokens: n, into: dst, pool: pool)
                } else {
                    dst.update(from: ws.normed, count: n * width)
                }
            }
            begin = end
        }
    }

    /// One chunk: embeddings -> blocks, leaving the final residual stream in ws.x and the chunk in the cache.
    private func chunk(_ tokens: UnsafeBufferPointer<Int>, cache: KVCache, ws: LlamaWorkspace) {
        let T = tokens.count, d = config.hiddenSize
        for (t, id) in tokens.enumerated() { embedding.dequantizeRow(id, into: ws.x + t * d) }
        rope.tables(positions: cache.count..<(cache.count + T), cos: ws.cos, sin: ws.sin)
        for (i, block) in blocks.enumerated() {
            block(ws.x, tokens: T, layer: i, cache: cache, rope: rope, ws: ws, pool: pool)
        }
        cache.advance(by: T)
    }
}

// MARK: - Checkpoint names

/// Tensor names of the two checkpoint layouts.
struct LlamaNames: Sendable {
    typealias Name = @Sendable (Int) -> String
    let embedding: String, finalNorm: String, output: String
    let attentionNorm: Name, q: Name, k: Name, v: Name, o: Name
    let mlpNorm: Name, gate: Name, up: Name, down: Name
    /// Tensors a file may carry that this model does not use.
    let ignorable: @Sendable (String) -> Bool

    static let gguf = LlamaNames(
        embedding: "token_embd.weight", finalNorm: "output_norm.weight", output: "output.weight",
        attentionNorm: { "blk.\($0).attn_norm.weight" }, q: { "blk.\($0).attn_q.weight" },
        k: { "blk.\($0).attn_k.weight" }, v: { "blk.\($0).attn_v.weight" }, o: { "blk.\($0).attn_output.weight" },
        mlpNorm: { "blk.\($0).ffn_norm.weight" }, gate: { "blk.\($0).ffn_gate.weight" },
        up: { "blk.\($0).ffn_up.weight" }, down: { "blk.\($0).ffn_down.weight" },
        // attn_rot_embd: precomputed RoPE tables some old converters stored; recomputed here.
        ignorable: { $0.hasSuffix(".attn_rot_embd") })

    static let huggingFace = LlamaNames(
        embedding: "model.embed_tokens.weight", finalNorm: "model.norm.weight", output: "lm_head.weight",
        attentionNorm: { "model.layers.\($0).input_layernorm.weight" }, q: { "model.layers.\($0).self_attn.q_proj.weight" },
        k: { "model.layers.\($0).self_attn.k_proj.weight" }, v: { "model.layers.\($0).self_attn.v_proj.weight" },
        o: { "model.layers.\($0).self_attn.o_proj.weight" },
        mlpNorm: { "model.layers.\($0).post_attention_layernorm.weight" }, gate: { "model.layers.\($0).mlp.gate_proj.weight" },
        up: { "model.layers.\($0).mlp.up_proj.weight" }, down: { "model.layers.\($0).mlp.down_proj.weight" },
        ignorable: { $0.hasSuffix("rotary_emb.inv_freq") })
}
