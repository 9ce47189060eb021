import LanternTensor

/// The position-wise feed-forward network: plain down(act(up x)) or gated down(act(gate x) * up x)
/// (SwiGLU with SiLU, GeGLU with a GELU).
public struct FeedForward: Sendable {
    public enum Kind: Sendable {
        case plain(up: Linear, down: Linear)
        case gated(gate: Linear, up: Linear, down: Linear)
    }
    public let kind: Kind
    public let activation: Activation

    public init(_ kind: Kind, activation: Activation) {
        self.kind = kind
        self.activation = activation
    }

    var width: Int {
        switch kind {
        case let .plain(up, _): return up.outFeatures
        case let .gated(gate, _, _): return gate.outFeatures
        }
    }

    /// x [rows, hidden] -> out [rows, hidden].
    func callAsFunction(_ x: UnsafePointer<Float>, rows T: Int, ws: ForwardWorkspace, out: UnsafeMutablePointer<Float>,
                        _ compute: ComputeOptions) {
        switch kind {
        case let .plain(up, down):
            up(x, tokens: T, into: ws.ffA, compute)                  // [T, intermediate]
            Kernels.activate(activation, ws.ffA, count: T * up.outFeatures)
            down(ws.ffA, tokens: T, into: out, compute)              // [T, hidden]
        case let .gated(gate, up, down):
            Linear.shared(gate, into: ws.ffA, up, into: ws.ffB, x: x, tokens: T, compute)   // [T, intermediate] each
            Kernels.gated(activation, ws.ffA, ws.ffB, count: T * gate.outFeatures)
            down(ws.ffA, tokens: T, into: out, compute)              // [T, hidden]
        }
    }
}

/// Token embeddings (optionally scaled), absolute positions, token types and an embedding norm.
public struct Embeddings: Sendable {
    public enum Positions: Sendable {
        case none
        /// A learned table [maxPositions, hidden]; row position + offset (BART's offset is 2).
        case learned(WeightMatrix, offset: Int)
        /// A fixed table [maxPositions, hidden] (sinusoidal).
        case table([Float], maxPositions: Int)
    }
    public let tokens: WeightMatrix      // [vocab, hidden]
    public let scale: Float              // Marian / scale_embedding: sqrt(hidden); Gemma: sqrt(hidden)
    public let positions: Positions
    public let tokenTypes: WeightMatrix? // [types, hidden]
    public let norm: Norm?

    public init(tokens: WeightMatrix, scale: Float = 1, positions: Positions = .none, tokenTypes: WeightMatrix? = nil,
                norm: Norm? = nil) {
        self.tokens = tokens
        self.scale = scale
        self.positions = positions
        self.tokenTypes = tokenTypes
        self.norm = norm
    }

    public var hidden: Int { tokens.cols }

    /// The highest position this embedding can represent plus one (nil: unbounded).
    public var maxPositions: Int? {
        switch positions {
        case .none: return nil
        case let .learned(w, offset): return w.rows - offset
        case let .table(_, n): return n
        }
    }

    /// x[t] = scale * E[token t] + P[position t] + T[type t], then the norm.
    func callAsFunction(rows T: Int, ws: ForwardWorkspace, into x: UnsafeMutablePointer<Float>) {
        let d = hidden
        let row = ws.gathered   // scratch row
        for t in 0..<T {
            let xt = x + t * d
            tokens.dequantizeRow(ws.rowToken[t], into: xt)
            if scale != 1 { for i in 0..<d { xt[i] *= scale } }
            switch positions {
            case .none: break
            case let .learned(w, offset):
                w.dequantizeRow(ws.rowPosition[t] + offset, into: row)
                Kernels.add(xt, row, count: d)
            case let .table(values, _):
                values.withUnsafeBufferPointer { Kernels.add(xt, $0.baseAddress! + ws.rowPosition[t] * d, count: d) }
            }
            if let tokenTypes {
                tokenTypes.dequantizeRow(ws.rowType[t], into: row)
                Kernels.add(xt, row, count: d)
            }
        }
        if let norm { norm(x, tokens: T, into: x) }
    }
}

/// The language-model head: an optional transform (BERT's dense -> act -> LayerNorm), a scale of the
/// hidden state (T5 with tied embeddings: d_model^-0.5), the projection to the vocabulary (the token
/// embedding when tied) and an optional bias (BART's final_logits_bias, BERT's decoder bias).
public struct LMHead: Sendable {
    public struct Transform: Sendable {
        public let dense: Linear
        public let activation: Activation
        public let norm: Norm
        public init(dense: Linear, activation: Activation, norm: Norm) {
            self.dense = dense; self.activation = activation; self.norm = norm
        }
    }
    public let transform: Transform?
    public let inputScale: Float
    public let projection: Linear    // [vocab, hidden]
    public let bias: [Float]?        // [vocab]

    public init(projection: Linear, transform: Transform? = nil, inputScale: Float = 1, bias: [Float]? = nil) {
        self.projection = projection
        self.transform = transform
        self.inputScale = inputScale
        self.bias = bias
    }

    public var vocabularySize: Int { projection.outFeatures }

    /// h [rows, hidden] (overwritten) -> logits [rows, vocab].
    func callAsFunction(_ h: UnsafeMutablePointer<Float>, rows T: Int, ws: ForwardWorkspace,
                        into logits: UnsafeMutablePointer<Float>, _ compute: ComputeOptions) {
        var input = UnsafePointer(h)
        if let transform {
            transform.dense(h, tokens: T, into: ws.ffA, compute)
            Kernels.activate(transform.activation, ws.ffA, count: T * transform.dense.outFeatures)
            transform.norm(ws.ffA, tokens: T, into: ws.ffA)
            input = UnsafePointer(ws.ffA)
        }
        if inputScale != 1 {
            let n = T * projection.inFeatures
            let p = UnsafeMutablePointer(mutating: input)
            for i in 0..<n { p[i] *= inputScale }
        }
        projection(input, tokens: T, into: logits, compute)
        if let bias {
            bias.withUnsafeBufferPointer { b in
                for t in 0..<T { Kernels.add(logits + t * b.count, b.baseAddress!, count: b.count) }
            }
        }
    }
}
