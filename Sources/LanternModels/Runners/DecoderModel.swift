import LanternFormats
import LanternTensor

/// The decoder-only runner: embeddings -> causal blocks over each sequence's paged KV cache -> final
/// norm -> head, for the rows that asked for output only. Every decoder architecture (LLaMA, GPT-2,
/// BLOOM, Qwen2, Gemma 3) is one of these; its file only decodes the config and maps tensor names.
public final class DecoderModel: CausalLanguageModel, @unchecked Sendable {
    public let architecture: String
    public let stack: TransformerStack
    public let head: LMHead
    public let maxContextLength: Int
    public let compute: ComputeOptions
    public let workspaceShape: WorkspaceShape
    /// Keeps the mapped file alive: the weights point into it.
    private let store: any WeightStore

    public init(architecture: String, stack: TransformerStack, head: LMHead, maxContextLength: Int,
                compute: ComputeOptions, store: any WeightStore) {
        self.architecture = architecture
        self.stack = stack
        self.head = head
        self.maxContextLength = maxContextLength
        self.compute = compute
        self.store = store
        self.workspaceShape = .of(stack, head: head)
    }

    public var vocabularySize: Int { head.vocabularySize }
    public var hiddenSize: Int { stack.hidden }
    public var cacheLayout: (layers: Int, kvHeads: Int, headDim: Int) {
        let a = stack.blocks[0].attention
        return (stack.layers, a.kvHeads, a.headDim)
    }
    public var defaultKVType: KVType { KVType.following(stack.blocks[0].attention.k.weight.dtype) }

    public func forward(_ batch: ForwardBatch, workspace ws: ForwardWorkspace, output: ForwardOutput,
                        into out: UnsafeMutablePointer<Float>) throws(ModelError) {
        try BatchRunner.run(stack, batch, ws: ws, vocabularySize: vocabularySize, wholeSequences: false,
                            requireCross: false, compute) { (rows, first) throws(ModelError) in
            BatchRunner.write(rows, at: first, hidden: stack.hidden, output == .logits ? head : nil, ws: ws, into: out, compute)
        }
    }
}
