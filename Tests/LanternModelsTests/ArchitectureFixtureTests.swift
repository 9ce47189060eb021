import Foundation
import Testing
import LanternFormats
import LanternTensor
@testable import LanternModels

/// A fixture case: its folder, expected tensors and the tolerances case.json states per check.
struct FixtureCase {
    let name: String
    let expected: SafetensorsFile
    let tolerance: [String: (atol: Float, rtol: Float)]

    init(_ name: String) throws {
        self.name = name
        expected = try SafetensorsFile(path: fixturePath(name) + "/expected.safetensors")
        let json = try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: fixturePath(name) + "/case.json"))) as? [String: Any]
        var tol: [String: (Float, Float)] = [:]
        for check in json?["checks"] as? [[String: Any]] ?? [] {
            if let e = check["expected"] as? String, let a = check["atol"] as? Double {
                tol[e] = (Float(a), Float(check["rtol"] as? Double ?? 0))
            }
        }
        tolerance = tol
    }

    func close(_ actual: [Float], _ tensor: String, sourceLocation: SourceLocation = #_sourceLocation) throws {
        let want = try expected.floats(tensor)
        let (atol, rtol) = try #require(tolerance[tensor], "no tolerance for \(tensor)")
        #expect(actual.count == want.count, sourceLocation: sourceLocation)
        let excess = allcloseExcess(actual[...], want[...], rtol: rtol)
        #expect(excess <= atol, "\(name) \(tensor): max excess \(excess) over atol \(atol)", sourceLocation: sourceLocation)
    }
}

func loadFixtureModel(_ name: String, threads: Int = 2) throws -> Network {
    try ModelRegistry.load(folder: ModelFolder(path: fixturePath(name)), compute: ComputeOptions(threads: threads))
}

func argmax(_ row: ArraySlice<Float>) -> Int { row.indices.max { row[$0] < row[$1] }! - row.startIndex }

/// The decoder-only fixtures (transformers' float32 models) through the folder loader and the shared core.
@Suite struct DecoderFixtureTests {
    static let cases = ["gpt2", "llama", "bloom"]

    @Test(arguments: cases) func forwardLogits(_ name: String) throws {
        let fx = try FixtureCase(name)
        let model = try #require(try loadFixtureModel(name).causal)
        let ids = try fx.expected.ints("input_ids")
        try fx.close(try model.forward(ids, cache: try model.makeCache(capacity: 64), rows: .all), "logits")
    }

    @Test(arguments: cases) func greedyGenerationWithStepLogits(_ name: String) throws {
        let fx = try FixtureCase(name)
        let model = try #require(try loadFixtureModel(name).causal)
        let ids = try fx.expected.ints("input_ids"), want = try fx.expected.ints("generated_ids")
        let cache = try model.makeCache(capacity: 64)
        var logits = try model.forward(ids, cache: cache, rows: .last)
        var out = ids, steps: [Float] = []
        while out.count < want.count {
            steps += logits
            out.append(argmax(logits[...]))
            logits = try model.forward([out.last!], cache: cache, rows: .last)
        }
        #expect(out == want)
        try fx.close(steps, "generation_step_logits")
    }

    @Test(arguments: cases) func cachedAndUncachedAgree(_ name: String) throws {
        let fx = try FixtureCase(name)
        let model = try #require(try loadFixtureModel(name).causal)
        let ids = try fx.expected.ints("input_ids"), generated = try fx.expected.ints("generated_ids")
        let cache = try model.makeCache(capacity: 64)
        _ = try model.forward(Array(ids[..<8]), cache: cache, rows: .last)
        try fx.close(try model.forward(Array(ids[8...]), cache: cache, rows: .all), "kv_chunk_logits")
        let full = try model.makeCache(capacity: 64)
        _ = try model.forward(ids, cache: full, rows: .last)
        try fx.close(try model.forward([generated[ids.count]], cache: full, rows: .all), "kv_next_token_logits")
        // Uncached: the whole sequence at once gives the same last row as the cached step.
        let oneShot = try model.forward(Array(generated[...ids.count]), cache: try model.makeCache(capacity: 64), rows: .last)
        let stepped = try model.forward([generated[ids.count]], cache: { let c = try model.makeCache(capacity: 64); _ = try model.forward(ids, cache: c, rows: .last); return c }(), rows: .last)
        #expect(allcloseExcess(oneShot[...], stepped[...], rtol: 0) <= 1e-4)
    }

    /// Four sequences of different lengths at different positions, two prefilling and two decoding, in
    /// one forward call: each sequence's logits equal running it alone.
    @Test(arguments: ["gpt2", "bloom", "llama"]) func mixedBatchEqualsEachAlone(_ name: String) throws {
        let model = try #require(try loadFixtureModel(name).causal)
        let ids = try FixtureCase(name).expected.ints("generated_ids")
        try checkMixedBatch(model, tokens: ids, tolerance: 1e-5)
    }
}

/// Runs four sequences (prefixes already cached to different depths) through one batched call and
/// compares every output row with the same sequence run alone.
func checkMixedBatch(_ model: any CausalLanguageModel, tokens: [Int], tolerance: Float,
                     sourceLocation: SourceLocation = #_sourceLocation) throws {
    // (cached prefix, new rows, output) per sequence: a long prefill, a decode at depth 9, a prefill
    // continuing a cached prefix, a single-token decode at depth 0.
    let plans: [(prefix: Int, new: Int, output: OutputRows)] = [(0, 11, .all), (9, 1, .last), (5, 6, .all), (0, 1, .last)]
    let pool = try model.makePool(blocks: 16, blockSize: 4)
    var batch = ForwardBatch()
    var caches: [KVCache] = []
    for (k, plan) in plans.enumerated() {
        let seq = Array(tokens[k..<(k + plan.prefix + plan.new)])   // a different text per sequence
        let cache = try KVCache(pool: pool, capacity: 32)
        if plan.prefix > 0 { _ = try prefixForward(model, Array(seq[..<plan.prefix]), cache) }
        batch.add(Array(seq[plan.prefix...]), startingAt: plan.prefix, cache: cache, output: plan.output)
        caches.append(cache)
    }
    let V = model.vocabularySize
    var out = [Float](repeating: 0, count: batch.outputRowCount * V)
    let ws = model.makeWorkspace(maxTokens: 64)
    try out.withUnsafeMutableBufferPointer { try model.forward(batch, workspace: ws, output: .logits, into: $0.baseAddress!) }
    var row = 0
    for (k, plan) in plans.enumerated() {
        let seq = Array(tokens[k..<(k + plan.prefix + plan.new)])
        let alone = try model.makeCache(capacity: 32)
        if plan.prefix > 0 { _ = try model.forward(Array(seq[..<plan.prefix]), cache: alone, rows: .last) }
        let want = try model.forward(Array(seq[plan.prefix...]), cache: alone, rows: plan.output)
        let got = out[(row * V)..<(row * V + want.count)]
        #expect(allcloseExcess(got, want[...], rtol: 0) <= tolerance, "sequence \(k)", sourceLocation: sourceLocation)
        #expect(caches[k].count == plan.prefix + plan.new, sourceLocation: sourceLocation)
        row += want.count / V
    }
}

private func prefixForward(_ model: any CausalLanguageModel, _ tokens: [Int], _ cache: KVCache) throws -> [Float] {
    try model.forward(tokens, cache: cache, rows: .last)
}

/// BERT masked LM: token types, padding handled by packing, post-LayerNorm, MLM head.
@Suite struct BertFixtureTests {
    let fx: FixtureCase
    let model: EncoderModel
    let sentences: [[Int]]
    let types: [[Int]]

    init() throws {
        fx = try FixtureCase("bert")
        guard case let .encoder(m) = try loadFixtureModel("bert") else { throw ModelError.unsupportedArchitecture("bert") }
        model = m
        let ids = try fx.expected.ints("input_ids"), mask = try fx.expected.ints("attention_mask")
        let tt = try fx.expected.ints("token_type_ids")
        let L = 11
        sentences = (0..<2).map { r in (0..<L).filter { mask[r * L + $0] == 1 }.map { ids[r * L + $0] } }
        types = (0..<2).map { r in (0..<L).filter { mask[r * L + $0] == 1 }.map { tt[r * L + $0] } }
    }

    /// Expected rows where attention_mask == 1, flattened in sentence order.
    func unpadded(_ tensor: String, width: Int) throws -> [Float] {
        let all = try fx.expected.floats(tensor)
        return sentences.enumerated().flatMap { r, s in all[(r * 11 * width)..<((r * 11 + s.count) * width)] }
    }

    func check(_ actual: [Float], _ tensor: String, width: Int) throws {
        let (atol, rtol) = try #require(fx.tolerance[tensor])
        let want = try unpadded(tensor, width: width)
        #expect(actual.count == want.count)
        #expect(allcloseExcess(actual[...], want[...], rtol: rtol) <= atol)
    }

    @Test func hiddenStatesMatchWherePaddingIsOff() throws {
        try check(try model.encode(sentences, tokenTypes: types).flatMap { $0 }, "last_hidden_state", width: 64)
    }

    @Test func maskedLMLogitsMatch() throws {
        try check(try model.encode(sentences, tokenTypes: types, output: .logits).flatMap { $0 }, "mlm_logits", width: 512)
    }

    @Test func batchEqualsEachSentenceAlone() throws {
        let batch = try model.encode(sentences, tokenTypes: types)
        for (i, s) in sentences.enumerated() {
            let alone = try model.encode([s], tokenTypes: [types[i]])[0]
            #expect(allcloseExcess(batch[i][...], alone[...], rtol: 0) <= 1e-5)
        }
    }

    @Test func badInputsAreTypedErrors() throws {
        #expect(throws: ModelError.invalidToken(id: 512, vocabularySize: 512)) { try model.encode([[1, 512]]) }
        #expect(throws: ModelError.contextOverflow(needed: 65, capacity: 64)) { try model.encode([Array(repeating: 5, count: 65)]) }
        #expect(throws: ModelError.emptyInput) { try model.encode([[]]) }
        #expect(throws: ModelError.invalidBatch("token type 2 is outside 0..<2")) { try model.encode([[1, 2]], tokenTypes: [[0, 2]]) }
    }
}

/// Folders whose tensors do not match their config fail naming the file and the tensor.
@Suite struct StrictFolderLoadingTests {
    /// A copy of a fixture folder whose model.safetensors is rewritten by `edit` (name -> (shape, floats)).
    func damagedCopy(_ name: String, edit: (inout [String: ([Int], [Float])]) -> Void) throws -> String {
        let src = fixturePath(name)
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("lantern-\(name)-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        for f in ["config.json", "generation_config.json"] where FileManager.default.fileExists(atPath: src + "/" + f) {
            try FileManager.default.copyItem(atPath: src + "/" + f, toPath: dir + "/" + f)
        }
        let file = try SafetensorsFile(path: src + "/model.safetensors")
        var tensors: [String: ([Int], [Float])] = [:]
        for n in file.tensorNames { tensors[n] = (try file.shape(n), try file.floats(n)) }
        edit(&tensors)
        try writeSafetensors(tensors, to: dir + "/model.safetensors")
        return dir
    }

    func message(_ body: () throws -> Any) -> String {
        do { _ = try body(); return "no error" } catch { return String(describing: error) }
    }

    @Test(arguments: ["gpt2", "bloom", "bert", "llama"]) func missingExtraAndMisshapenTensorsAreNamed(_ name: String) throws {
        let first = try SafetensorsFile(path: fixturePath(name) + "/model.safetensors").tensorNames.first { $0.contains("0.") }!
        let missing = try damagedCopy(name) { $0[first] = nil }
        let m = message { try loadFixtureModelAt(missing) }
        #expect(m.contains(first) && m.contains(missing), "\(m)")
        let extra = try damagedCopy(name) { $0["surprise.weight"] = ([2], [1, 2]) }
        let e = message { try loadFixtureModelAt(extra) }
        #expect(e.contains("surprise.weight") && e.contains("not used"), "\(e)")
        let misshapen = try damagedCopy(name) { t in t[first] = ([1, t[first]!.1.count], t[first]!.1) }
        let s = message { try loadFixtureModelAt(misshapen) }
        #expect(s.contains(first) && s.contains(misshapen), "\(s)")
    }

    @Test func unknownModelTypeIsNamed() throws {
        let dir = try damagedCopy("gpt2") { _ in }
        try #"{"model_type": "perceiver"}"#.write(toFile: dir + "/config.json", atomically: true, encoding: .utf8)
        #expect(throws: ModelError.unsupportedArchitecture("perceiver")) { try loadFixtureModelAt(dir) }
    }
}

func loadFixtureModelAt(_ dir: String) throws -> Network {
    try ModelRegistry.load(folder: ModelFolder(path: dir), compute: ComputeOptions(threads: 1))
}

/// Writes float32 tensors as a safetensors file (names sorted, data packed in order).
func writeSafetensors(_ tensors: [String: ([Int], [Float])], to path: String) throws {
    var header: [String: Any] = [:]
    var data = Data()
    for name in tensors.keys.sorted() {
        let (shape, values) = tensors[name]!
        let start = data.count
        values.withUnsafeBufferPointer { data.append(Data(buffer: $0)) }
        header[name] = ["dtype": "F32", "shape": shape, "data_offsets": [start, data.count]]
    }
    var json = try JSONSerialization.data(withJSONObject: header, options: [.sortedKeys])
    while json.count % 8 != 0 { json.append(0x20) }
    var out = Data()
    var n = UInt64(json.count).littleEndian
    withUnsafeBytes(of: &n) { out.append(contentsOf: $0) }
    out.append(json)
    out.append(data)
    try out.write(to: URL(fileURLWithPath: path))
}
