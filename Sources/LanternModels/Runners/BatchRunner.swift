import LanternTensor

/// Drives a stack over a packed batch: checks it, takes KV blocks, splits it into chunks that fit the
/// workspace, runs each chunk and hands the rows that want output to `emit`, in output order.
enum BatchRunner {
    /// - Parameters:
    ///   - wholeSequences: a bidirectional stack needs every row of a sequence in one chunk, starting at 0.
    ///   - emit: (rows gathered at ws.gathered [count, hidden], count, first output row).
    static func run(_ stack: TransformerStack, _ batch: ForwardBatch, ws: ForwardWorkspace, vocabularySize: Int,
                    wholeSequences: Bool, requireCross: Bool, _ compute: ComputeOptions,
                    emit: (Int, Int) throws(ModelError) -> Void) throws(ModelError) {
        try validate(stack, batch, ws: ws, vocabularySize: vocabularySize, wholeSequences: wholeSequences, requireCross: requireCross)
        for s in batch.sequences {
            let start = batch.positions[s.rows.lowerBound]
            s.cache.truncate(to: start)
            try s.cache.reserve(start + s.rows.count)
        }
        let d = stack.hidden
        var outputRow = 0
        var seqIndex = 0
        var row = 0
        while row < batch.rowCount {
            // Chunk: rows row..<end, never splitting a sequence when wholeSequences.
            var end = min(batch.rowCount, row + ws.maxTokens)
            if wholeSequences {
                var e = row, i = seqIndex
                while i < batch.sequences.count, batch.sequences[i].rows.upperBound - row <= ws.maxTokens {
                    e = batch.sequences[i].rows.upperBound; i += 1
                }
                end = e
            }
            let firstSeq = seqIndex
            var local = 0
            for r in row..<end {
                while batch.sequences[seqIndex].rows.upperBound <= r { seqIndex += 1 }
                ws.rowToken[r - row] = batch.tokens[r]
                ws.rowPosition[r - row] = batch.positions[r]
                ws.rowType[r - row] = batch.tokenTypes.isEmpty ? 0 : batch.tokenTypes[r]
                ws.rowSequence[r - row] = Int32(seqIndex - firstSeq)
            }
            let lastSeq = seqIndex
            for i in firstSeq...lastSeq {
                let s = batch.sequences[i]
                ws.sequences[i - firstSeq] = ChunkSequence(
                    cache: Unmanaged.passUnretained(s.cache), table: s.cache.table, blockSize: s.cache.pool.blockSize,
                    visible: batch.positions[s.rows.lowerBound] + s.rows.count, keys: s.cache.pool.keys[0],
                    values: s.cache.pool.values[0], kvType: s.cache.pool.type, rowBytes: s.cache.pool.rowBytes,
                    headBytes: s.cache.pool.headBytes, crossCount: s.cache.cross?.positions ?? 0)
                local += 1
            }
            let chunk = Chunk(rows: end - row, sequences: local)
            withExtendedLifetime(batch) {
                stack.run(chunk, ws: ws, compute)
            }
            for i in firstSeq...lastSeq {
                let s = batch.sequences[i]
                let lastRow = min(end, s.rows.upperBound) - 1
                if lastRow >= s.rows.lowerBound { s.cache.setCount(batch.positions[lastRow] + 1) }
            }
            // Gather the rows that want output.
            var g = 0
            for r in row..<end {
                let s = batch.sequences[firstSeq + Int(ws.rowSequence[r - row])]
                if s.outputRows.contains(r) {
                    (ws.gathered + g * d).update(from: ws.x + (r - row) * d, count: d)
                    g += 1
                }
            }
            if g > 0 {
                if let norm = stack.finalNorm { norm(ws.gathered, tokens: g, into: ws.gathered) }
                try emit(g, outputRow)
                outputRow += g
            }
            if end < batch.rowCount, batch.sequences[seqIndex].rows.upperBound <= end { seqIndex += 1 }
            row = end
        }
    }

    static func validate(_ stack: TransformerStack, _ batch: ForwardBatch, ws: ForwardWorkspace, vocabularySize: Int,
                         wholeSequences: Bool, requireCross: Bool) throws(ModelError) {
        guard batch.rowCount > 0, !batch.sequences.isEmpty else { throw .emptyInput }
        guard ws.shape.covers(stack.shape) else { throw .workspaceMismatch }
        if ws.attentionObserver != nil, batch.sequences.count != 1 {
            throw .invalidBatch("an attention observer watches one sequence; the batch has \(batch.sequences.count)")
        }
        let kvDim = stack.blocks.first.map { $0.attention.kvHeads * $0.attention.headDim } ?? 0
        let limit = stack.embeddings.maxPositions
        for t in batch.tokens where t < 0 || t >= vocabularySize {
            throw .invalidToken(id: t, vocabularySize: vocabularySize)
        }
        if let types = stack.embeddings.tokenTypes {
            for t in batch.tokenTypes where t < 0 || t >= types.rows {
                throw .invalidBatch("token type \(t) is outside 0..<\(types.rows)")
            }
        }
        for (i, s) in batch.sequences.enumerated() {
            guard !s.rows.isEmpty else { throw .invalidBatch("sequence \(i) has no tokens") }
            guard s.cache.layers == stack.layers, s.cache.kvHeads * s.cache.headDim == kvDim else { throw .cacheMismatch }
            let start = batch.positions[s.rows.lowerBound]
            guard start >= 0, start <= s.cache.count else {
                throw .invalidBatch("sequence \(i) starts at position \(start) but its cache holds \(s.cache.count)")
            }
            for (k, r) in s.rows.enumerated() where batch.positions[r] != start + k {
                throw .invalidBatch("sequence \(i): positions must be consecutive (row \(r) has \(batch.positions[r]), expected \(start + k))")
            }
            let end = start + s.rows.count
            guard end <= s.cache.capacity else { throw .contextOverflow(needed: end, capacity: s.cache.capacity) }
            if let limit, end > limit { throw .contextOverflow(needed: end, capacity: limit) }
            if wholeSequences {
                guard start == 0 else { throw .invalidBatch("an encoder sequence must start at position 0") }
                guard s.rows.count <= ws.maxTokens else {
                    throw .contextOverflow(needed: s.rows.count, capacity: ws.maxTokens)
                }
            }
            if requireCross, s.cache.cross == nil { throw .invalidBatch("sequence \(i) has no encoder output; encode first") }
            for j in 0..<i where batch.sequences[j].cache === s.cache {
                throw .invalidBatch("sequences \(j) and \(i) share one KV cache")
            }
        }
    }

    /// The usual `emit`: the `rows` gathered rows (hidden width `hidden`) as logits through `head`
    /// ([rows, vocab]) or, without a head, as they are ([rows, hidden]), at output row `first` of `out`.
    static func write(_ rows: Int, at first: Int, hidden: Int, _ head: LMHead?, ws: ForwardWorkspace,
                      into out: UnsafeMutablePointer<Float>, _ compute: ComputeOptions) {
        if let head {
            head(ws.gathered, rows: rows, ws: ws, into: out + first * head.vocabularySize, compute)
        } else {
            (out + first * hidden).update(from: ws.gathered, count: rows * hidden)
        }
    }

    /// Whole sequences (positions from 0, every row output) on a scratch pool just large enough for
    /// them, each rounded up to whole blocks: the batch an encoder pass runs. Returns it with the
    /// longest sequence's length (the smallest workspace that keeps every sequence in one chunk).
    static func scratchBatch(_ sequences: [[Int]], tokenTypes: [[Int]]? = nil,
                             for stack: TransformerStack) throws(ModelError) -> (ForwardBatch, longest: Int) {
        guard let a = stack.blocks.first?.attention else { throw .invalidConfiguration("a stack without blocks") }
        let blockSize = 16
        let blocks = sequences.reduce(0) { $0 + ($1.count + blockSize - 1) / blockSize }
        // Scratch for one pass, so float32: an encoder's output is then exactly the float computation.
        let pool = try KVPool(layers: stack.layers, kvHeads: a.kvHeads, headDim: a.headDim, blockSize: blockSize,
                              blocks: max(1, blocks), type: .f32)
        var batch = ForwardBatch(reservingRows: sequences.reduce(0) { $0 + $1.count }, sequences: sequences.count)
        for (i, s) in sequences.enumerated() {
            guard !s.isEmpty else { throw .emptyInput }
            batch.add(s, startingAt: 0, cache: try KVCache(pool: pool, capacity: s.count), output: .all,
                      tokenTypes: tokenTypes.flatMap { i < $0.count ? $0[i] : nil })
        }
        return (batch, sequences.map(\.count).max() ?? 1)
    }
}
