/// Which rows of a sequence in a batch produce output (logits or hidden states).
public enum OutputRows: Sendable, Equatable {
    case none
    /// Only the sequence's last row (generation).
    case last
    /// Every row (scoring, `lantern forward`, encoders).
    case all
}

/// One sequence's part of a `ForwardBatch`: its rows in the packed token array, its cache, its outputs.
public struct BatchSequence: Sendable {
    public let cache: KVCache
    /// Rows of the packed batch that belong to this sequence.
    public let rows: Range<Int>
    public let output: OutputRows

    /// Rows that produce output, in order.
    public var outputRows: Range<Int> {
        switch output {
        case .none: return rows.upperBound..<rows.upperBound
        case .last: return (rows.upperBound - 1)..<rows.upperBound
        case .all: return rows
        }
    }
}

/// The forward contract: a batch of sequences packed row by row, positions explicit.
///
/// `tokens[r]` and `positions[r]` describe row r; each sequence owns a contiguous range of rows whose
/// positions are consecutive and start at or before its cache's `count` (starting before it rewrites the
/// cache from there). Every weight matrix is read once per forward call for all rows, so a decode step of
/// eight sequences costs little more than one. Output rows are written in sequence order, then row order.
///
/// Reuse one batch across steps (`removeAll()` keeps its capacity) and a decode loop allocates nothing.
public struct ForwardBatch: Sendable {
    public private(set) var tokens: [Int] = []
    public private(set) var positions: [Int] = []
    /// Segment ids (BERT token types); empty means 0 for every row.
    public private(set) var tokenTypes: [Int] = []
    public private(set) var sequences: [BatchSequence] = []

    public init(reservingRows rows: Int = 0, sequences: Int = 1) {
        tokens.reserveCapacity(rows)
        positions.reserveCapacity(rows)
        self.sequences.reserveCapacity(sequences)
    }

    /// Adds a sequence whose tokens take positions `start ..< start + tokens.count`.
    public mutating func add(_ tokens: UnsafeBufferPointer<Int>, startingAt start: Int, cache: KVCache,
                             output: OutputRows, tokenTypes: [Int]? = nil) {
        let first = self.tokens.count
        self.tokens.append(contentsOf: tokens)
        for i in 0..<tokens.count { positions.append(start + i) }
        if let tokenTypes {
            if self.tokenTypes.count < first { self.tokenTypes.append(contentsOf: repeatElement(0, count: first - self.tokenTypes.count)) }
            self.tokenTypes.append(contentsOf: tokenTypes.prefix(tokens.count))
            if tokenTypes.count < tokens.count { self.tokenTypes.append(contentsOf: repeatElement(0, count: tokens.count - tokenTypes.count)) }
        } else if !self.tokenTypes.isEmpty {
            self.tokenTypes.append(contentsOf: repeatElement(0, count: tokens.count))
        }
        sequences.append(BatchSequence(cache: cache, rows: first..<self.tokens.count, output: output))
    }

    public mutating func add(_ tokens: [Int], startingAt start: Int, cache: KVCache, output: OutputRows,
                             tokenTypes: [Int]? = nil) {
        tokens.withUnsafeBufferPointer { add($0, startingAt: start, cache: cache, output: output, tokenTypes: tokenTypes) }
    }

    /// Adds a sequence continuing its cache: positions `cache.count ..< cache.count + tokens.count`.
    public mutating func append(_ tokens: [Int], to cache: KVCache, output: OutputRows) {
        add(tokens, startingAt: cache.count, cache: cache, output: output)
    }

    public mutating func removeAll() {
        tokens.removeAll(keepingCapacity: true)
        positions.removeAll(keepingCapacity: true)
        tokenTypes.removeAll(keepingCapacity: true)
        sequences.removeAll(keepingCapacity: true)
    }

    public var rowCount: Int { tokens.count }

    /// Rows of output the batch asks for (the first dimension of the output buffer).
    public var outputRowCount: Int { sequences.reduce(0) { $0 + $1.outputRows.count } }
}

/// What a forward pass writes for each output row.
public enum ForwardOutput: Sendable, Equatable {
    /// Logits over the vocabulary (for an encoder with a masked-LM head, its logits).
    case logits
    /// The final hidden state (after the last norm, before the head).
    case hidden
}
