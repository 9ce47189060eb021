import Foundation
import Testing
import LanternFormats
import LanternTensor
@testable import Lantern

/// all-MiniLM-L6-v2, fetched once through the same fetcher `lantern embed` uses.
enum MiniLM {
    static let folder: Result<URL, any Error> = Result {
        var fetcher = ModelFetcher()
        fetcher.progress = { FileHandle.standardError.write(Data(("[lantern tests] " + $0 + "\n").utf8)) }
        return try fetcher.ensure(.defaultEmbeddingModel)
    }

    /// The folder, or the test is cancelled when the fetch itself fails (no network, no pip).
    static func path() throws -> String {
        switch folder {
        case let .success(url): return url.path
        case let .failure(error): try Test.cancel("all-MiniLM-L6-v2 could not be fetched: \(error)")
        }
    }

    static let f32: Result<SentenceEmbedder, any Error> = Result { try SentenceEmbedder(path: try folder.get().path, threads: 2) }

    /// The 8 sentences of Fixtures/minilm (sentence-transformers' reference run).
    static func sentences() throws -> [String] {
        let json = try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: fixturePath("minilm/case.json")))) as? [String: Any]
        let inputs = try #require(json?["inputs"] as? [String: Any])
        return try #require(inputs["sentences"] as? [String])
    }
}

@Suite(.serialized) struct MiniLMTests {
    let expected: SafetensorsFile

    init() throws { expected = try SafetensorsFile(path: fixturePath("minilm/expected.safetensors")) }

    func referenceIDs() throws -> [[Int]] {
        let ids = try expected.ints("input_ids"), lengths = try expected.ints("lengths")
        let width = ids.count / lengths.count
        return lengths.enumerated().map { r, n in Array(ids[(r * width)..<(r * width + n)]) }
    }

    func referenceEmbeddings() throws -> [[Float]] {
        let e = try expected.floats("sentence_embeddings")
        return (0..<8).map { Array(e[($0 * 384)..<(($0 + 1) * 384)]) }
    }

    @Test func fetchedFolderIsVerifiedAndConfigured() throws {
        let path = try MiniLM.path()
        for f in ModelFolderSource.defaultEmbeddingModel.files {
            #expect(try ModelFetcher.sha256(of: URL(fileURLWithPath: path).appendingPathComponent(f.path)) == f.sha256)
        }
        let e = try MiniLM.f32.get()
        #expect(e.configuration == SentenceConfiguration(pooling: [.mean], normalize: true, maxSequenceLength: 256))
        #expect(e.maxLength == 256)
        #expect(e.dimension == 384)
    }

    @Test func tokenIDsMatchTheReference() throws {
        _ = try MiniLM.path()
        let e = try MiniLM.f32.get()
        let sentences = try MiniLM.sentences()
        #expect(sentences.count == 8)
        for (s, want) in zip(sentences, try referenceIDs()) {
            #expect(try e.tokenize(s).ids == want, "\(s)")
        }
    }

    @Test func embeddingsMatchSentenceTransformers() throws {
        _ = try MiniLM.path()
        let e = try MiniLM.f32.get()
        let got = try e.embed(try MiniLM.sentences())
        let want = try referenceEmbeddings()
        for (i, (g, w)) in zip(got, want).enumerated() {
            let c = SentenceEmbedder.cosine(g, w)
            #expect(c >= 0.9999, "sentence \(i): cosine \(c)")
            #expect(allcloseExcess(g[...], w[...], rtol: 0) <= 1e-4, "sentence \(i)")
        }
        // mean pooling before normalisation, too
        let pooled = try expected.floats("mean_pooled")
        let states = try e.encoder.encode([try referenceIDs()[0]])[0]
        var mean = [Float](repeating: 0, count: 384)
        for t in 0..<12 { for i in 0..<384 { mean[i] += states[t * 384 + i] / 12 } }
        #expect(allcloseExcess(mean[...], pooled[0..<384], rtol: 1e-4) <= 1e-4)
    }

    @Test func batchEqualsOneAtATime() throws {
        _ = try MiniLM.path()
        let e = try MiniLM.f32.get()
        let sentences = try MiniLM.sentences()
        let batch = try e.embed(sentences)
        for (i, s) in sentences.enumerated() {
            let alone = try e.embed([s])[0]
            #expect(allcloseExcess(batch[i][...], alone[...], rtol: 0) <= 1e-5, "sentence \(i)")
        }
        // small batches of a few tokens each give the same result as one large one
        e.tokensPerBatch = 40
        let small = try e.embed(sentences)
        e.tokensPerBatch = 1024
        for i in 0..<8 { #expect(allcloseExcess(batch[i][...], small[i][...], rtol: 0) <= 1e-5) }
    }

    @Test func longInputsAreTruncatedWithAWarning() throws {
        _ = try MiniLM.path()
        let e = try MiniLM.f32.get()
        let long = Array(repeating: "word", count: 400).joined(separator: " ")
        let (ids, truncated) = try e.tokenize(long)
        #expect(truncated)
        #expect(ids.count == 256)
        #expect(ids.first == 101 && ids.last == 102)
        var warnings: [String] = []
        let v = try e.embed([long, "short"], warn: { warnings.append($0) })
        #expect(v.count == 2 && v[0].count == 384)
        #expect(warnings.count == 1 && warnings[0].contains("truncated"))
    }

    @Test func q8_0WeightsStayClose() throws {
        let path = try MiniLM.path()
        let q = try SentenceEmbedder(path: path, threads: 2, quantizeWeights: .q8_0)
        guard case let .encoder(m) = q.loaded.network else { Issue.record("not an encoder"); return }
        #expect(m.stack.blocks[0].attention.q.weight.dtype == .q8_0)
        let got = try q.embed(try MiniLM.sentences())
        for (i, (g, w)) in zip(got, try referenceEmbeddings()).enumerated() {
            let c = SentenceEmbedder.cosine(g, w)
            #expect(c >= 0.999, "sentence \(i): cosine \(c) with q8_0 weights")
        }
    }

    @Test func cliEmbedAndSimilarity() throws {
        let path = try MiniLM.path()
        let sentences = try MiniLM.sentences()
        let r = try CLI.run(["embed", "--model", path, "--threads", "2", "--format", "json", sentences[0], sentences[6]])
        #expect(r.status == 0, "\(r.stderr)")
        let o = try CLI.json(r.stdout)
        #expect(o["model"] as? String == path)
        let vectors = try #require(o["embeddings"] as? [[Double]])
        let want = try referenceEmbeddings()
        #expect(vectors.count == 2)
        #expect(SentenceEmbedder.cosine(vectors[1].map(Float.init), want[6]) >= 0.9999)
        // stdin, one text per line
        let s = try CLI.run(["embed", "--model", path, "--threads", "2"], stdin: sentences[0] + "\n\n" + sentences[1] + "\n")
        #expect(s.status == 0, "\(s.stderr)")
        #expect((try CLI.json(s.stdout)["embeddings"] as? [[Double]])?.count == 2)

        let sim = try CLI.run(["similarity", "--model", path, "--threads", "2", "--format", "json"] + sentences)
        #expect(sim.status == 0, "\(sim.stderr)")
        let so = try CLI.json(sim.stdout)
        #expect(so["texts"] as? [String] == sentences)
        let matrix = try #require(so["similarity"] as? [[Double]])
        let ref = try expected.floats("cosine_similarity")
        for i in 0..<8 { for j in 0..<8 { #expect(abs(Float(matrix[i][j]) - ref[i * 8 + j]) <= 1e-4) } }
        let table = try CLI.run(["similarity", "--model", path, "--threads", "2", sentences[0], sentences[1]])
        #expect(table.status == 0)
        #expect(table.stdout.contains("[0] The quick brown fox") && table.stdout.contains("1.0000"))
        #expect(table.stderr.isEmpty || !table.stderr.contains("error"))
    }
}

/// max over elements of |a - b| - rtol * |b| (allclose passes when this is <= atol).
func allcloseExcess(_ a: ArraySlice<Float>, _ b: ArraySlice<Float>, rtol: Float) -> Float {
    precondition(a.count == b.count)
    var worst: Float = -.infinity
    for (x, y) in zip(a, b) { worst = max(worst, abs(x - y) - rtol * abs(y)) }
    return worst
}
