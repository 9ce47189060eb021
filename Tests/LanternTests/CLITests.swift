import Foundation
import Testing
import LanternFormats
@testable import Lantern

/// Runs the built `lantern` executable (it sits beside the test bundle in the build folder).
struct CLI {
    static let binary: URL? = {
        var dir = URL(fileURLWithPath: CommandLine.arguments[0]).resolvingSymlinksInPath().deletingLastPathComponent()
        for _ in 0..<4 {
            let candidate = dir.appendingPathComponent("lantern")
            if FileManager.default.isExecutableFile(atPath: candidate.path) { return candidate }
            dir = dir.deletingLastPathComponent()
        }
        return nil
    }()

    struct Output { let status: Int32; let stdout: String; let stderr: String }

    /// `environment` entries replace (or add to) this process's environment; `directory` is the working folder.
    static func run(_ args: [String], stdin: String? = nil, environment: [String: String] = [:],
                    directory: URL? = nil) throws -> Output {
        let bin = try #require(binary, "the lantern executable was not built beside the tests")
        let p = Process()
        p.executableURL = bin
        p.arguments = args
        if !environment.isEmpty {
            p.environment = ProcessInfo.processInfo.environment.merging(environment) { $1 }
        }
        if let directory { p.currentDirectoryURL = directory }
        let out = Pipe(), err = Pipe(), inp = Pipe()
        p.standardOutput = out
        p.standardError = err
        p.standardInput = inp
        try p.run()
        if let stdin { inp.fileHandleForWriting.write(Data(stdin.utf8)) }
        try inp.fileHandleForWriting.close()
        let o = out.fileHandleForReading.readDataToEndOfFile()
        let e = err.fileHandleForReading.readDataToEndOfFile()
        p.waitUntilExit()
        return Output(status: p.terminationStatus, stdout: String(decoding: o, as: UTF8.self), stderr: String(decoding: e, as: UTF8.self))
    }

    static func json(_ s: String) throws -> [String: Any] {
        try #require(try JSONSerialization.jsonObject(with: Data(s.utf8)) as? [String: Any])
    }
}

@Suite(.serialized) struct CLITests {
    var modelPath: String { get throws { try RealModel.get().path } }

    @Test func tokenizeJSON() throws {
        let ref = try GreedyReference.all()[3]
        let r = try CLI.run(["tokenize", "--model", modelPath, "--format", "json", ref.prompt])
        #expect(r.status == 0, "\(r.stderr)")
        #expect(try CLI.json(r.stdout)["tokens"] as? [Int] == ref.prompt_ids)
    }

    @Test func generateJSONIsGreedyAtTemperatureZero() throws {
        // 5 steps: the float reference's 6th greedy step is a near-tie (gap 0.22) that activation rounding may flip
        let r = try CLI.run(["generate", "--model", modelPath, "--temperature", "0", "--max-tokens", "5", "--threads", "2",
                             "--format", "json", "The capital of France is"])
        #expect(r.status == 0, "\(r.stderr)")
        let o = try CLI.json(r.stdout)
        #expect(o["prompt_tokens"] as? [Int] == [504, 3575, 282, 4649, 314])
        // the float reference's greedy continuation (Fixtures/smollm2 greedy_ids row 0)
        #expect(o["tokens"] as? [Int] == [7042, 30, 198, 198, 504])
        #expect(o["text"] as? String == " Paris.\n\nThe")
        #expect(o["finish_reason"] as? String == "length")
    }

    /// llama.cpp's single-level activations: same greedy start (the first 5 steps are no near-ties).
    @Test func generateWithInt8Activations() throws {
        let r = try CLI.run(["generate", "--model", modelPath, "--activations", "int8", "--temperature", "0", "--max-tokens", "5",
                             "--format", "json", "The capital of France is"])
        #expect(r.status == 0, "\(r.stderr)")
        #expect(try CLI.json(r.stdout)["tokens"] as? [Int] == [7042, 30, 198, 198, 504])
        let bad = try CLI.run(["generate", "--model", modelPath, "--activations", "int4", "hi"])
        #expect(bad.status != 0)
        #expect(bad.stderr.contains("int4"))
    }

    @Test func generateTextStreamsAndStops() throws {
        let r = try CLI.run(["generate", "--model", modelPath, "--temperature", "0", "--max-tokens", "20", "--stop", ".",
                             "The capital of France is"])
        #expect(r.status == 0)
        #expect(r.stdout == "The capital of France is Paris\n")
    }

    @Test func forwardJSONShape() throws {
        let r = try CLI.run(["forward", "--model", modelPath, "--tokens", "504,3575,282", "--output", "hidden", "--format", "json"])
        #expect(r.status == 0, "\(r.stderr)")
        let o = try CLI.json(r.stdout)
        #expect(o["shape"] as? [Int] == [3, 576])
        #expect((o["data"] as? [Double])?.count == 3 * 576)
        let bad = try CLI.run(["forward", "--model", modelPath, "--tokens", "1,99999", "--format", "json"])
        #expect(bad.status != 0)
        #expect(try CLI.json(bad.stdout)["error"] as? String == "token id 99999 is outside the vocabulary (0..<49152)")
    }

    @Test func inspectJSON() throws {
        let r = try CLI.run(["inspect", "--format", "json", modelPath])
        #expect(r.status == 0, "\(r.stderr)")
        let o = try CLI.json(r.stdout)
        #expect(o["version"] as? Int == 3)
        let meta = try #require(o["metadata"] as? [String: Any])
        #expect(meta["general.architecture"] as? String == "llama")
        let tensors = try #require(o["tensors"] as? [[String: Any]])
        #expect(tensors.count == 2 + 30 * 9)
        #expect(tensors.first { $0["name"] as? String == "blk.0.attn_q.weight" }?["type"] as? String == "Q4_1")
    }

    @Test func chatKeepsHistoryAndCache() throws {
        let r = try CLI.run(["chat", "--model", modelPath, "--temperature", "0", "--max-tokens", "24", "--format", "json"],
                            stdin: "What is 2+2?\nAnd 3+3?\n")
        #expect(r.status == 0, "\(r.stderr)")
        let turns = try r.stdout.split(separator: "\n").map { try CLI.json(String($0)) }
        #expect(turns.count == 2)
        #expect((turns[0]["content"] as? String)?.isEmpty == false)
        // the second turn re-uses the cached first exchange
        #expect((turns[1]["cached_tokens"] as? Int ?? 0) > (turns[0]["prompt_tokens"] as? Int ?? 0))
    }

    /// A turn that does not fit the context is reported and dropped; the conversation goes on.
    @Test func chatSurvivesAFailedTurn() throws {
        let long = Array(repeating: "words", count: 200).joined(separator: " ")
        let r = try CLI.run(["chat", "--model", modelPath, "--temperature", "0", "--max-tokens", "8", "--context", "96",
                             "--format", "json"], stdin: long + "\nHi\n")
        #expect(r.status == 0, "\(r.stderr)")
        let turns = try r.stdout.split(separator: "\n").map { try CLI.json(String($0)) }
        #expect(turns.count == 2)
        #expect((turns.first?["error"] as? String)?.contains("context") == true)
        #expect((turns.last?["content"] as? String)?.isEmpty == false)
        #expect(turns.last?["cached_tokens"] as? Int == 0)
    }

    @Test func renderTemplateJSONAndErrors() throws {
        let dir = URL(fileURLWithPath: fixturePath("chat-templates"))
        let cases = try #require(try JSONSerialization.jsonObject(with: Data(contentsOf: dir.appendingPathComponent("cases.json"))) as? [[String: Any]])
        let tmp = FileManager.default.temporaryDirectory
        for c in [cases.first { $0["expected"] != nil }, cases.first { $0["expected_error"] != nil }].compactMap({ $0 }) {
            let vars = tmp.appendingPathComponent("vars-\(UUID().uuidString).json")
            try JSONSerialization.data(withJSONObject: c["variables"] as Any).write(to: vars)
            let template = dir.appendingPathComponent("\(c["template"] as? String ?? "").jinja").path
            let r = try CLI.run(["render-template", "--template", template, "--variables", vars.path, "--format", "json"])
            let o = try CLI.json(r.stdout)
            if let expected = c["expected"] as? String {
                #expect(r.status == 0)
                #expect(o["text"] as? String == expected)
            } else {
                #expect(r.status != 0)
                #expect((o["error"] as? String)?.contains(c["expected_error"] as? String ?? "?") == true)
            }
        }
    }

    @Test func benchJSON() throws {
        let r = try CLI.run(["bench", "--model", modelPath, "--prompt-tokens", "8", "--gen-tokens", "4", "--reps", "1",
                             "--threads", "2", "--format", "json"])
        #expect(r.status == 0, "\(r.stderr)")
        let o = try CLI.json(r.stdout)
        #expect((o["pp_tps"] as? Double ?? 0) > 0)
        #expect((o["tg_tps"] as? Double ?? 0) > 0)
    }

    @Test func fetchPrintsTheCachedPath() throws {
        let r = try CLI.run(["fetch", "--format", "json"])
        #expect(r.status == 0, "\(r.stderr)")
        #expect(try CLI.json(r.stdout)["path"] as? String == modelPath)
    }

    @Test func badModelFilesAreClearErrors() throws {
        let missing = try CLI.run(["generate", "--model", "/nonexistent/x.gguf", "hi"])
        #expect(missing.status != 0)
        #expect(missing.stderr.contains("/nonexistent/x.gguf"))
        // a truncated copy of the real file
        let truncated = FileManager.default.temporaryDirectory.appendingPathComponent("truncated-\(UUID().uuidString).gguf")
        let handle = try FileHandle(forReadingFrom: URL(fileURLWithPath: modelPath))
        try handle.read(upToCount: 1_000_000)?.write(to: truncated)
        let r = try CLI.run(["generate", "--model", truncated.path, "--format", "json", "hi"])
        #expect(r.status != 0)
        #expect((try CLI.json(r.stdout)["error"] as? String)?.contains("truncated") == true)
    }
}

/// `tokenize --tokenizer` / `detokenize`: tokenizer.json files and model folders, no model weights needed.
@Suite struct CLITokenizerFileTests {
    struct Case: Decodable { let text: String; let ids: [Int]; let decoded: String }

    func cases(_ folder: String) throws -> [Case] {
        try JSONDecoder().decode([Case].self, from: Data(contentsOf: URL(fileURLWithPath: fixturePath("tokenizers/\(folder)/expected.json"))))
    }

    @Test(arguments: ["bpe-byte-level", "wordpiece", "unigram", "bpe-sentencepiece"])
    func tokenizeAndDetokenizeJSON(_ folder: String) throws {
        let file = fixturePath("tokenizers/\(folder)/tokenizer.json")
        for c in try cases(folder).prefix(6) {
            let r = try CLI.run(["tokenize", "--tokenizer", file, "--format", "json", c.text])
            #expect(r.status == 0, "\(r.stderr)")
            #expect(try CLI.json(r.stdout)["tokens"] as? [Int] == c.ids, "\(folder): \(c.text.debugDescription)")
            let d = try CLI.run(["detokenize", "--tokenizer", file, "--tokens", c.ids.map(String.init).joined(separator: ","),
                                 "--format", "json"])
            #expect(d.status == 0, "\(d.stderr)")
            #expect(try CLI.json(d.stdout)["text"] as? String == c.decoded, "\(folder): \(c.text.debugDescription)")
        }
    }

    @Test func modelFolderHoldingTokenizerJSON() throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("lantern-tok-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        try FileManager.default.copyItem(atPath: fixturePath("tokenizers/wordpiece/tokenizer.json"),
                                         toPath: dir.appendingPathComponent("tokenizer.json").path)
        let r = try CLI.run(["tokenize", "--model", dir.path, "--format", "json", "Hello, world!"])
        #expect(r.status == 0, "\(r.stderr)")
        #expect(try CLI.json(r.stdout)["tokens"] as? [Int] == [2, 1031, 162, 60, 12, 179, 361, 5, 3])
        let plain = try CLI.run(["tokenize", "--model", dir.path, "--add-bos", "false", "--format", "json", "Hello, world!"])
        #expect(try CLI.json(plain.stdout)["tokens"] as? [Int] == [1031, 162, 60, 12, 179, 361, 5])
        let d = try CLI.run(["detokenize", "--model", dir.path, "--tokens", "2,1031,162,60,3", "--format", "json"])
        #expect(try CLI.json(d.stdout)["text"] as? String == "hello")
        let all = try CLI.run(["detokenize", "--model", dir.path, "--tokens", "2,1031,162,60,3", "--no-skip-special"])
        #expect(all.stdout == "[CLS] hello [SEP]\n")
        // A BERT folder with vocab.txt only (all-MiniLM-L6-v2).
        let bert = try CLI.run(["tokenize", "--model", fixturePath("minilm"), "--format", "json", "Hello, world!"])
        #expect(try CLI.json(bert.stdout)["tokens"] as? [Int] == [101, 7592, 1010, 2088, 999, 102])
    }

    @Test func errorsAreJSONAndNonZero() throws {
        let missing = try CLI.run(["tokenize", "--tokenizer", "/nonexistent/tokenizer.json", "--format", "json", "hi"])
        #expect(missing.status != 0)
        #expect((try CLI.json(missing.stdout)["error"] as? String)?.contains("/nonexistent/tokenizer.json") == true)
        let bad = FileManager.default.temporaryDirectory.appendingPathComponent("bad-\(UUID().uuidString).json")
        try Data(#"{"model": {"type": "Foo"}}"#.utf8).write(to: bad)
        defer { try? FileManager.default.removeItem(at: bad) }
        let unknown = try CLI.run(["detokenize", "--tokenizer", bad.path, "--tokens", "1", "--format", "json"])
        #expect(unknown.status != 0)
        #expect((try CLI.json(unknown.stdout)["error"] as? String)?.contains("'Foo'") == true)
        let badIDs = try CLI.run(["detokenize", "--tokenizer", fixturePath("tokenizers/unigram/tokenizer.json"), "--tokens", "1,x"])
        #expect(badIDs.status != 0 && badIDs.stderr.contains("'x'"))
        let both = try CLI.run(["tokenize", "--tokenizer", fixturePath("tokenizers/unigram/tokenizer.json"),
                                "--model", fixturePath("gpt2"), "hi"])
        #expect(both.status != 0)
    }
}

/// `lantern forward` and `lantern generate` on model folders of every family (the tiny fixtures, which
/// carry no tokenizer: the prompt is given as token ids), against transformers' outputs.
@Suite struct CLIFolderTests {
    func expected(_ name: String) throws -> SafetensorsFile {
        try SafetensorsFile(path: fixturePath(name + "/expected.safetensors"))
    }

    func list(_ ids: some Collection<Int>) -> String { ids.map(String.init).joined(separator: ",") }

    func floats(_ json: [String: Any]) -> [Float] { (json["data"] as? [Double] ?? []).map(Float.init) }

    func excess(_ a: [Float], _ b: ArraySlice<Float>, rtol: Float = 1e-4) -> Float {
        guard a.count == b.count else { return .infinity }
        return zip(a, b).map { abs($0 - $1) - rtol * abs($1) }.max() ?? 0
    }

    @Test(arguments: ["gpt2", "llama", "bloom"]) func decoderForwardAndGreedy(_ name: String) throws {
        let e = try expected(name)
        let ids = try e.ints("input_ids")
        let f = try CLI.run(["forward", "--model", fixturePath(name), "--tokens", list(ids), "--format", "json"])
        #expect(f.status == 0, "\(f.stderr)")
        let out = try CLI.json(f.stdout)
        #expect(out["shape"] as? [Int] == [ids.count, 512])
        #expect(excess(floats(out), try e.floats("logits")[...]) <= 2e-3)
        let g = try CLI.run(["generate", "--model", fixturePath(name), "--tokens", list(ids), "--temperature", "0",
                             "--max-tokens", "16", "--format", "json"])
        #expect(g.status == 0, "\(g.stderr)")
        let gen = try CLI.json(g.stdout)
        #expect(gen["tokens"] as? [Int] == (try e.ints("new_token_ids")))
        #expect(gen["finish_reason"] as? String == "length")
    }

    @Test(arguments: ["t5", "bart", "marian"]) func encoderDecoderForwardAndGreedy(_ name: String) throws {
        let e = try expected(name)
        let source = try e.ints("generation_input_ids")
        let decoderShape = try e.shape("decoder_input_ids")
        let decoder = Array(try e.ints("decoder_input_ids")[..<decoderShape[1]])
        let f = try CLI.run(["forward", "--model", fixturePath(name), "--tokens", list(source), "--decoder-tokens", list(decoder),
                             "--format", "json"])
        #expect(f.status == 0, "\(f.stderr)")
        let out = try CLI.json(f.stdout)
        #expect(out["shape"] as? [Int] == [decoder.count, 256])
        #expect(excess(floats(out), try e.floats("decoder_logits")[..<(decoder.count * 256)]) <= 2e-3)
        let g = try CLI.run(["generate", "--model", fixturePath(name), "--tokens", list(source), "--temperature", "0",
                             "--max-tokens", "20", "--format", "json"])
        #expect(g.status == 0, "\(g.stderr)")
        let gen = try CLI.json(g.stdout)
        // generated_ids = decoder start, new tokens, eos: Lantern reports the new tokens with the eos.
        #expect(gen["tokens"] as? [Int] == Array(try e.ints("generated_ids").dropFirst()))
        #expect(gen["finish_reason"] as? String == "stop")
    }

    @Test func encoderForwardAndRefusedGeneration() throws {
        let f = try CLI.run(["forward", "--model", fixturePath("bert"), "--tokens", "1,416,47,2", "--output", "hidden", "--format", "json"])
        #expect(f.status == 0, "\(f.stderr)")
        #expect(try CLI.json(f.stdout)["shape"] as? [Int] == [4, 64])
        let g = try CLI.run(["generate", "--model", fixturePath("bert"), "--tokens", "1,2", "--format", "json"])
        #expect(g.status != 0)
        #expect((try CLI.json(g.stdout)["error"] as? String ?? "").contains("does not generate"))
        let t = try CLI.run(["generate", "--model", fixturePath("gpt2"), "some text", "--format", "json"])
        #expect(t.status != 0)
        #expect((try CLI.json(t.stdout)["error"] as? String ?? "").contains("no tokenizer"))
    }

    @Test func forwardBeyondTheContextIsATypedError() throws {
        let r = try CLI.run(["forward", "--model", fixturePath("gpt2"), "--tokens", list(Array(repeating: 5, count: 129)), "--format", "json"])
        #expect(r.status != 0)
        #expect((try CLI.json(r.stdout)["error"] as? String ?? "").contains("129"))
    }
}

/// The README's library example: the file the package builds is the code the README shows, and it runs.
@Suite struct ReadmeExampleTests {
    @Test func readmeShowsTheBuiltExample() throws {
        let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        let readme = try String(contentsOf: root.appendingPathComponent("README.md"), encoding: .utf8)
        let example = try String(contentsOf: root.appendingPathComponent("Examples/ReadmeExample/main.swift"), encoding: .utf8)
        #expect(readme.contains("```swift\n" + example + "```"))
    }

    @Test func exampleStreamsChatsAndCancels() throws {
        _ = try RealModel.get()   // fetched into the cache the example reads
        let bin = try #require(CLI.binary?.deletingLastPathComponent().appendingPathComponent("lantern-example"))
        let p = Process()
        p.executableURL = bin
        let out = Pipe()
        p.standardOutput = out
        p.standardError = Pipe()
        try p.run()
        let text = String(decoding: out.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        p.waitUntilExit()
        #expect(p.terminationStatus == 0, "\(text)")
        #expect(text.hasPrefix(" Paris"), "\(text)")
        #expect(text.contains("[history: 3 messages]"))
        let cancelled = try #require(text.split(separator: "\n").last { $0.hasPrefix("cancelled after") })
        let n = Int(cancelled.split(separator: " ")[2]) ?? 200
        #expect(n < 200, "\(cancelled)")
    }
}

/// `lantern tokenize --model FILE.gguf` with the two other catalog models: BOS exactly when the file's
/// metadata asks for it (Gemma yes, Qwen no), ids as llama.cpp's greedy references tokenized the prompts.
@Suite(.serialized) struct CLIGGUFTokenizerTests {
    @Test(arguments: ["gemma3-270m", "qwen2.5-0.5b"]) func tokenizeAddsBOSPerMetadata(_ name: String) throws {
        let entry = try #require(ModelCatalog.entry(named: name))
        let path: String
        do {
            path = try ModelFetcher().ensure(entry).path
        } catch {
            try Test.cancel("\(name) could not be fetched: \(error)")
        }
        let text = try String(contentsOfFile: referencePath("\(name)-greedy-llamacpp.jsonl"), encoding: .utf8)
        let first = try #require(text.split(separator: "\n").first)
        let ref = try JSONDecoder().decode(GreedyReference.self, from: Data(first.utf8))
        let r = try CLI.run(["tokenize", "--model", path, "--format", "json", ref.prompt])
        #expect(r.status == 0, "\(r.stderr)")
        #expect(try CLI.json(r.stdout)["tokens"] as? [Int] == ref.prompt_ids)
        #expect(ref.prompt_ids.first == 2 || name != "gemma3-270m")    // Gemma's BOS, Qwen none
        let d = try CLI.run(["detokenize", "--model", path, "--tokens", ref.greedy_ids.map(String.init).joined(separator: ","),
                             "--format", "json"])
        #expect(d.status == 0, "\(d.stderr)")
        #expect(try CLI.json(d.stdout)["text"] as? String == ref.text)
    }
}
