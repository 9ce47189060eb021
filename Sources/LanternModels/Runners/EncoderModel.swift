import LanternFormats
import LanternTensor

/// The encoder-only runner (BERT family): embeddings -> bidirectional blocks -> optional final norm ->
/// hidden states, or masked-LM logits through the head. Every sequence of a batch is whole (positions
/// from 0) and attends to itself only, so a batch of sentences needs no padding and gives each one's
/// result exactly as alone.
public final class EncoderModel: LanguageModel, @unchecked Sendable {
    public let architecture: String
    public let stack: TransformerStack
    /// The masked-LM head when the checkpoint has one.
    public let head: LMHead?
    public let maxContextLength: Int
    public let compute: ComputeOptions
    public let workspaceShape: WorkspaceShape
    private let store: any WeightStore

    public init(architecture: String, stack: TransformerStack, head: LMHead?, maxContextLength: Int,
                compute: ComputeOptions, store: any WeightStore) {
        self.architecture = architecture
        self.stack = stack
        self.head = head
        self.maxContextLength = maxContextLength
        self.compute = compute
        self.store = store
        self.workspaceShape = .of(stack, head: head)
    }

    public var vocabularySize: Int { head?.vocabularySize ?? stack.embeddings.tokens.rows }
    public var hiddenSize: Int { stack.hidden }

    /// Runs the batch (every sequence whole, positions from 0; its caches are scratch for the pass) and
    /// writes every output row: hidden states [rows, hidden] or, with `.logits`, masked-LM logits.
    public func forward(_ batch: ForwardBatch, workspace ws: ForwardWorkspace, output: ForwardOutput,
                        into out: UnsafeMutablePointer<Float>) throws(ModelError) {
        if output == .logits && head == nil { throw .invalidBatch("this checkpoint has no masked-LM head") }
        try BatchRunner.run(stack, batch, ws: ws, vocabularySize: stack.embeddings.tokens.rows, wholeSequences: true,
                            requireCross: false, compute) { (rows, first) throws(ModelError) in
            BatchRunner.write(rows, at: first, hidden: stack.hidden, output == .logits ? head : nil, ws: ws, into: out, compute)
        }
    }

    /// Encodes whole sentences; one [tokens, width] array per sentence (width: hidden, or vocabulary
    /// for `.logits`). Builds its own scratch cache and workspace. An `observer` (one sentence only)
    /// records that layer's attention.
    public func encode(_ sequences: [[Int]], tokenTypes: [[Int]]? = nil, output: ForwardOutput = .hidden,
                       observer: AttentionObserver? = nil) throws(ModelError) -> [[Float]] {
        let (batch, longest) = try BatchRunner.scratchBatch(sequences, tokenTypes: tokenTypes, for: stack)
        let ws = makeWorkspace(maxTokens: max(longest, min(batch.rowCount, 512)))
        ws.attentionObserver = observer
        let width = output == .logits ? vocabularySize : hiddenSize
        var flat = [Float](repeating: 0, count: batch.rowCount * width)
        try flat.withUnsafeMutableBufferPointer { (buf) throws(ModelError) in
            try forward(batch, workspace: ws, output: output, into: buf.baseAddress!)
        }
        return batch.sequences.map { Array(flat[($0.rows.lowerBound * width)..<($0.rows.upperBound * width)]) }
    }
}
