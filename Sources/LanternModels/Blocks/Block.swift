import LanternTensor

/// One transformer layer: self-attention, optional cross-attention (decoders of encoder-decoders) and
/// the feed-forward network, each with its norm, placed before the sublayer (pre-LN: GPT-2, LLaMA, T5,
/// BLOOM) or after the residual sum (post-LN: BERT, BART, Marian). Gemma's extra norms of the sublayer
/// outputs are `attentionOutputNorm` / `feedForwardOutputNorm` (pre-LN only).
public struct TransformerBlock: Sendable {
    public enum Placement: Sendable { case pre, post }
    public let placement: Placement
    public let attentionNorm: Norm
    public let attention: Attention
    public let crossNorm: Norm?
    public let crossAttention: Attention?
    public let feedForwardNorm: Norm
    public let feedForward: FeedForward
    public let attentionOutputNorm: Norm?
    public let feedForwardOutputNorm: Norm?

    public init(placement: Placement, attentionNorm: Norm, attention: Attention, crossNorm: Norm? = nil,
                crossAttention: Attention? = nil, feedForwardNorm: Norm, feedForward: FeedForward,
                attentionOutputNorm: Norm? = nil, feedForwardOutputNorm: Norm? = nil) {
        self.placement = placement
        self.attentionNorm = attentionNorm
        self.attention = attention
        self.crossNorm = crossNorm
        self.crossAttention = crossAttention
        self.feedForwardNorm = feedForwardNorm
        self.feedForward = feedForward
        self.attentionOutputNorm = attentionOutputNorm
        self.feedForwardOutputNorm = feedForwardOutputNorm
    }

    var shape: WorkspaceShape {
        var s = attention.shape
        if let crossAttention { s.include(crossAttention.shape) }
        s.feedForward = feedForward.width
        return s
    }

    /// x [rows, hidden] is updated in place.
    func callAsFunction(_ x: UnsafeMutablePointer<Float>, rows T: Int, layer: Int, chunk: Chunk,
                        ropes: [RotaryEmbedding], ws: ForwardWorkspace, _ compute: ComputeOptions) {
        let n = T * attentionNorm.dimension
        switch placement {
        case .pre:
            attentionNorm(x, tokens: T, into: ws.normed)
            attention(ws.normed, rows: T, layer: layer, chunk: chunk, ropes: ropes, ws: ws, out: ws.residual, compute)
            attentionOutputNorm?(ws.residual, tokens: T, into: ws.residual)
            Kernels.add(x, ws.residual, count: n)
            if let crossAttention, let crossNorm {
                crossNorm(x, tokens: T, into: ws.normed)
                crossAttention.cross(ws.normed, rows: T, layer: layer, chunk: chunk, ws: ws, out: ws.residual, compute)
                Kernels.add(x, ws.residual, count: n)
            }
            feedForwardNorm(x, tokens: T, into: ws.normed)
            feedForward(ws.normed, rows: T, ws: ws, out: ws.residual, compute)
            feedForwardOutputNorm?(ws.residual, tokens: T, into: ws.residual)
            Kernels.add(x, ws.residual, count: n)
        case .post:
            attention(x, rows: T, layer: layer, chunk: chunk, ropes: ropes, ws: ws, out: ws.residual, compute)
            Kernels.add(x, ws.residual, count: n)
            attentionNorm(x, tokens: T, into: x)
            if let crossAttention, let crossNorm {
                crossAttention.cross(x, rows: T, layer: layer, chunk: chunk, ws: ws, out: ws.residual, compute)
                Kernels.add(x, ws.residual, count: n)
                crossNorm(x, tokens: T, into: x)
            }
            feedForward(x, rows: T, ws: ws, out: ws.residual, compute)
            Kernels.add(x, ws.residual, count: n)
            feedForwardNorm(x, tokens: T, into: x)
        }
    }
}

/// Embeddings, a stack of blocks and the final norm: the body every runner drives.
public struct TransformerStack: Sendable {
    public let embeddings: Embeddings
    public let blocks: [TransformerBlock]
    public let finalNorm: Norm?
    /// Distinct rotary tables the blocks' attention refers to by index.
    public let ropes: [RotaryEmbedding]

    /// The scratch this stack needs (computed once: the forward pass checks it on every call).
    let shape: WorkspaceShape

    public init(embeddings: Embeddings, blocks: [TransformerBlock], finalNorm: Norm?, ropes: [RotaryEmbedding] = []) {
        self.embeddings = embeddings
        self.blocks = blocks
        self.finalNorm = finalNorm
        self.ropes = ropes
        var s = WorkspaceShape()
        s.hidden = embeddings.hidden
        for b in blocks { s.include(b.shape) }
        s.ropeTables = ropes.count
        s.ropeHalf = max(1, ropes.map { $0.dimensions / 2 }.max() ?? 1)
        shape = s
    }

    public var hidden: Int { embeddings.hidden }
    public var layers: Int { blocks.count }

    /// Embeds the chunk's rows and runs every block; the residual stream is left in ws.x.
    func run(_ chunk: Chunk, ws: ForwardWorkspace, _ compute: ComputeOptions) {
        let T = chunk.rows
        embeddings(rows: T, ws: ws, into: ws.x)
        for (i, rope) in ropes.enumerated() {
            rope.tables(positions: ws.rowPosition, count: T, cos: ws.cos(table: i), sin: ws.sin(table: i))
        }
        for (i, block) in blocks.enumerated() {
            block(ws.x, rows: T, layer: i, chunk: chunk, ropes: ropes, ws: ws, compute)
        }
    }
}
