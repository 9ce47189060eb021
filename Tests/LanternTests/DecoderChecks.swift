import Foundation
import Testing
import LanternModels

/// Checks every decoder architecture shares, run on real models.
enum DecoderChecks {
    /// Teacher-forced logits of every float-reference case (its `tokens` in one pass) scored against the
    /// reference: mean KL at most llama.cpp's own mean KL for the case, top-1 agreement >= 0.9.
    static func teacherForced(_ model: any CausalLanguageModel, reference name: String) throws {
        let reference = try FloatLogprobs.load(name), llama = try LlamaCppScores.load(name)
        try #require(reference.cases.count == llama.cases.count)
        for (c, anchor) in zip(reference.cases, llama.cases) {
            #expect(c.prompt == anchor.prompt)
            let logits = try model.forward(c.tokens, cache: try model.makeCache(capacity: c.tokens.count), rows: .all)
            let s = score(c, logits: logits, vocab: model.vocabularySize)
            print("score \(name) \(c.prompt.prefix(30).debugDescription): mean KL \(s.meanKL) (llama.cpp \(anchor.mean_kl)), "
                  + "max KL \(s.maxKL) (\(anchor.max_kl)), top-1 \(s.top1) (\(anchor.top1_agreement))")
            #expect(s.meanKL <= anchor.mean_kl, "\(c.prompt.debugDescription): mean KL \(s.meanKL) > llama.cpp's \(anchor.mean_kl)")
            #expect(s.top1 >= 0.9, "\(c.prompt.debugDescription): top-1 agreement \(s.top1)")
        }
    }

    /// The logits of `tokens` fed in one pass equal those fed through the KV cache as a prefill of
    /// `prefill` tokens and then one token per call (every row compared), within `tolerance`.
    static func stepwiseDecodeEqualsOnePass(_ model: any CausalLanguageModel, tokens: [Int], prefill: Int,
                                            tolerance: Float) throws {
        let full = try model.forward(tokens, cache: try model.makeCache(capacity: tokens.count), rows: .all)
        let cache = try model.makeCache(capacity: tokens.count)
        var steps = try model.forward(Array(tokens[..<prefill]), cache: cache, rows: .all)
        for t in tokens[prefill...] { steps += try model.forward([t], cache: cache, rows: .all) }
        try #require(steps.count == full.count)
        var worst: Float = 0
        for i in 0..<full.count { worst = max(worst, abs(full[i] - steps[i])) }
        print("\(model.architecture) one pass vs step by step over \(tokens.count) positions: max |d| \(worst)")
        #expect(worst <= tolerance, "max |one pass - step by step| = \(worst) over \(tokens.count) positions")
    }

    /// One batched forward of four sequences at different positions (two prefilling, one continuing a
    /// cached prefix, two decoding) gives each sequence's logits within `tolerance` of running it alone.
    /// `plans` are (start offset in the text, cached prefix, new tokens, output rows) per sequence.
    static func mixedBatchEqualsAlone(_ model: any CausalLanguageModel, texts: [[Int]],
                                      plans: [(offset: Int, prefix: Int, new: Int, output: OutputRows)],
                                      tolerance: Float) throws {
        let capacity = plans.map { $0.prefix + $0.new }.max() ?? 1
        let pool = try model.makePool(blocks: plans.count * ((capacity + 7) / 8 + 1), blockSize: 8)
        var batch = ForwardBatch()
        var sequences: [[Int]] = []
        for (k, plan) in plans.enumerated() {
            let text = texts[k % texts.count]
            try #require(text.count >= plan.offset + plan.prefix + plan.new, "text \(k) is too short for its plan")
            let seq = Array(text[plan.offset..<(plan.offset + plan.prefix + plan.new)])
            sequences.append(seq)
            let cache = try KVCache(pool: pool, capacity: capacity)
            if plan.prefix > 0 { _ = try model.forward(Array(seq[..<plan.prefix]), cache: cache, rows: .last) }
            batch.add(Array(seq[plan.prefix...]), startingAt: plan.prefix, cache: cache, output: plan.output)
        }
        let V = model.vocabularySize
        var out = [Float](repeating: 0, count: batch.outputRowCount * V)
        let ws = model.makeWorkspace(maxTokens: 128)
        try out.withUnsafeMutableBufferPointer { try model.forward(batch, workspace: ws, output: .logits, into: $0.baseAddress!) }
        var row = 0
        for (k, plan) in plans.enumerated() {
            let seq = sequences[k]
            let alone = try model.makeCache(capacity: capacity)
            if plan.prefix > 0 { _ = try model.forward(Array(seq[..<plan.prefix]), cache: alone, rows: .last) }
            let want = try model.forward(Array(seq[plan.prefix...]), cache: alone, rows: plan.output)
            var worst: Float = 0
            for i in 0..<want.count { worst = max(worst, abs(out[row * V + i] - want[i])) }
            #expect(worst <= tolerance, "sequence \(k): max |batched - alone| = \(worst)")
            row += want.count / V
        }
    }
}
