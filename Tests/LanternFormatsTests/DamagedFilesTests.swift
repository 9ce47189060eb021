import Foundation
import Testing
import LanternTensor
@testable import LanternFormats

/// Real fixture files damaged in the test: truncated, bytes flipped, header fields patched to huge or
/// wrong values. Every damaged file must either load, with every tensor inside the file, or throw a
/// `FormatError`; anything else (a crash, another error type, a hang) fails.
@Suite struct DamagedFilesTests {
    /// One scratch file, rewritten (or patched in place) for each damaged variant.
    final class Scratch {
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("lantern-damaged-\(UUID().uuidString)").path
        deinit { try? FileManager.default.removeItem(atPath: path) }

        func write(_ bytes: some Collection<UInt8>) throws {
            try Data(bytes).write(to: URL(fileURLWithPath: path))
        }

        /// Overwrites bytes at `offset` without rewriting the rest of the file.
        func patch(_ bytes: [UInt8], at offset: Int) throws {
            let h = try FileHandle(forWritingTo: URL(fileURLWithPath: path))
            defer { try? h.close() }
            try h.seek(toOffset: UInt64(offset))
            try h.write(contentsOf: Data(bytes))
        }
    }

    enum Outcome { case loaded, rejected(FormatError) }

    static func le<T: FixedWidthInteger>(_ v: T) -> [UInt8] { withUnsafeBytes(of: v.littleEndian) { Array($0) } }

    static func bytes(_ fixture: String) throws -> [UInt8] {
        [UInt8](try Data(contentsOf: URL(fileURLWithPath: formatsFixture(fixture))))
    }

    /// First offset just past `needle` in `haystack`.
    static func offset(after needle: String, in haystack: [UInt8]) -> Int? {
        let n = Array(needle.utf8)
        guard n.count <= haystack.count else { return nil }
        for i in 0...(haystack.count - n.count) where haystack[i] == n[0] && Array(haystack[i..<(i + n.count)]) == n {
            return i + n.count
        }
        return nil
    }

    /// Opens the scratch file as GGUF; on success checks every tensor lies inside the file (and reads
    /// its first and last byte through the view).
    static func gguf(_ scratch: Scratch, size: Int) -> Outcome {
        do {
            let f = try GGUFFile(path: scratch.path)
            for info in f.tensorInfos {
                let end = info.offset + (info.byteCount ?? 0)
                #expect(info.offset >= f.dataOffset && end <= size, "\(info.name) lies outside the file")
                if let t = try? f.tensor(info.name), t.byteCount > 0 {
                    _ = t.data.load(fromByteOffset: 0, as: UInt8.self) &+ t.data.load(fromByteOffset: t.byteCount - 1, as: UInt8.self)
                }
            }
            return .loaded
        } catch {
            return .rejected(error)
        }
    }

    static func safetensors(_ scratch: Scratch, size: Int) -> Outcome {
        do {
            let f = try SafetensorsFile(path: scratch.path)
            for e in f.entries.values {
                #expect(e.range.lowerBound >= 8 && e.range.upperBound <= size, "\(e.name) lies outside the file")
                if let t = try? f.tensor(e.name), t.byteCount > 0 {
                    _ = t.data.load(fromByteOffset: t.byteCount - 1, as: UInt8.self)
                }
            }
            return .loaded
        } catch {
            return .rejected(error)
        }
    }

    // MARK: GGUF

    static let smallGGUF = "dequant/types.gguf"   // 7 KB: 13 tensors of every supported type
    static let vocabGGUF = "gpt2/model.gguf"      // 577 KB: 19 metadata keys (a 512-token vocabulary, merges), 28 tensors

    /// The end of the last tensor's data: every shorter prefix must be rejected.
    static func dataEnd(_ path: String) throws -> Int {
        let f = try GGUFFile(path: path)
        return f.tensorInfos.map { $0.offset + ($0.byteCount ?? 0) }.max() ?? f.dataOffset
    }

    @Test func ggufTruncatedAtEveryByteOfTheSmallHeader() throws {
        let full = try Self.bytes(Self.smallGGUF)
        let header = try GGUFFile(path: formatsFixture(Self.smallGGUF)).dataOffset
        let end = try Self.dataEnd(formatsFixture(Self.smallGGUF))
        let scratch = Scratch()
        // Every byte of the header, 150 points through the data.
        for n in Array(0...header) + Array(stride(from: header, to: full.count, by: (full.count - header) / 150)) {
            try scratch.write(full[..<n])
            if case .loaded = Self.gguf(scratch, size: n) { #expect(n >= end, "a prefix of \(n) bytes loaded") }
        }
    }

    @Test func ggufTruncatedThroughTheHeaderAndAtEvenlySpacedPoints() throws {
        let full = try Self.bytes(Self.vocabGGUF)
        let path = formatsFixture(Self.vocabGGUF)
        let header = try GGUFFile(path: path).dataOffset
        let end = try Self.dataEnd(path)
        // Every byte of the first 300 (the scalar keys), every 2nd to 700 (the start of the vocabulary),
        // every 7th of the tensor infos, 100 points through the vocabulary and merges, 100 through the
        // data (the small file above is cut at every header byte; this one is parsed ~1,000 times).
        var cuts = Set(0..<300).union(stride(from: 300, to: 700, by: 2))
        cuts.formUnion(stride(from: 700, to: header - 1600, by: (header - 2300) / 100))
        cuts.formUnion(stride(from: header - 1600, to: header, by: 7))
        cuts.formUnion(stride(from: header, to: full.count, by: (full.count - header) / 100))
        let scratch = Scratch()
        for n in cuts.sorted() {
            try scratch.write(full[..<n])
            if case .loaded = Self.gguf(scratch, size: n) { #expect(n >= end, "a prefix of \(n) bytes loaded") }
        }
    }

    @Test func ggufBytesFlippedThroughTheHeader() throws {
        // Every byte of the small file's header; of the gpt2 file's, every byte of the first 300 (the
        // scalar keys), every 2nd to 700, every 7th of the tensor infos and 150 points through the
        // vocabulary and merges.
        for (fixture, positions, masks) in [
            (Self.smallGGUF, Array(0..<639), [UInt8(0xFF), 0x80, 0x01]),
            (Self.vocabGGUF, Array(0..<300) + Array(stride(from: 300, to: 700, by: 2)) + Array(stride(from: 700, to: 11_400, by: 71))
                + Array(stride(from: 11_400, to: 13_064, by: 7)), [0xFF]),
        ] {
            let original = try Self.bytes(fixture)
            let scratch = Scratch()
            try scratch.write(original)
            var loaded = 0, rejected = 0
            for i in positions {
                for mask in masks {
                    try scratch.patch([original[i] ^ mask], at: i)
                    if case .loaded = Self.gguf(scratch, size: original.count) { loaded += 1 } else { rejected += 1 }
                    try scratch.patch([original[i]], at: i)
                }
            }
            // Flips inside strings are harmless, flips of counts and lengths are not: both must occur.
            #expect(loaded > 0 && rejected > 0, "\(fixture): \(loaded) loaded, \(rejected) rejected")
        }
    }

    /// A field of the gpt2 fixture replaced by `value`; the error must be the expected case.
    func patchedGGUF(_ field: (String, Int), _ value: [UInt8], _ check: (FormatError) -> Bool,
                     _ comment: Comment, sourceLocation: SourceLocation = #_sourceLocation) throws {
        var bytes = try Self.bytes(Self.vocabGGUF)
        let at: Int
        if field.0.isEmpty { at = field.1 } else {
            guard let after = Self.offset(after: field.0, in: bytes) else { Issue.record("\(field.0) not in the fixture"); return }
            at = after + field.1
        }
        bytes.replaceSubrange(at..<(at + value.count), with: value)
        let scratch = Scratch()
        try scratch.write(bytes)
        switch Self.gguf(scratch, size: bytes.count) {
        case .loaded: Issue.record("loaded: \(comment)", sourceLocation: sourceLocation)
        case let .rejected(e): #expect(check(e), "\(comment): \(e)", sourceLocation: sourceLocation)
        }
    }

    @Test func ggufHugeAndWrongHeaderFields() throws {
        let huge = Self.le(UInt64(1) << 60)
        // Header counts (after magic and version).
        try patchedGGUF(("", 8), huge, { if case .absurdCount(_, "tensor", 1 << 60) = $0 { true } else { false } }, "tensor count")
        try patchedGGUF(("", 16), huge, { if case .absurdCount(_, "metadata key/value", 1 << 60) = $0 { true } else { false } }, "kv count")
        try patchedGGUF(("", 16), Self.le(UInt64(20)), { _ in true }, "one pair too many (the first tensor info read as a pair)")
        // The first key's length: past the file, then inside the file but over the limit of a name.
        try patchedGGUF(("", 24), huge, { if case .truncated = $0 { true } else { false } }, "key length 2^60")
        try patchedGGUF(("", 24), Self.le(UInt64(70_000)),
                        { $0 == .limitExceeded(path: $0.path, what: "metadata key length", value: 70_000, limit: 65_536) }, "key length 70,000")
        // general.architecture's value length (after the key and its u32 type).
        try patchedGGUF(("general.architecture", 4), huge, { if case .truncated = $0 { true } else { false } }, "string length")
        // Value type and array element type.
        try patchedGGUF(("general.architecture", 0), Self.le(UInt32(13)),
                        { $0 == .invalidValueType(path: $0.path, key: "general.architecture", type: 13) }, "value type 13")
        try patchedGGUF(("tokenizer.ggml.tokens", 4), Self.le(UInt32(77)),
                        { $0 == .invalidValueType(path: $0.path, key: "tokenizer.ggml.tokens", type: 77) }, "array element type 77")
        try patchedGGUF(("tokenizer.ggml.tokens", 8), huge,
                        { $0 == .absurdCount(path: $0.path, what: "array 'tokenizer.ggml.tokens'", count: 1 << 60) }, "array length")
        try patchedGGUF(("gpt2.block_count", 0), Self.le(UInt32(7)),
                        { $0 == .invalidMetadata(path: $0.path, key: "gpt2.block_count", reason: "bool value 2") }, "a u32 2 read as a bool")
        // A key renamed to the next key's name ("general.type" -> "general.name", same length).
        try patchedGGUF(("general.type", -4), Array("name".utf8),
                        { $0 == .duplicateKey(path: $0.path, key: "general.name") }, "duplicate key")
        // The first tensor info: name "blk.0.attn_qkv.bias", u32 dimension count, dims, u32 type, u64 offset.
        let t = "blk.0.attn_qkv.bias"
        try patchedGGUF((t, 0), Self.le(UInt32(9)), { if case .invalidTensor(_, t, _) = $0 { true } else { false } }, "9 dimensions")
        try patchedGGUF((t, 4), huge, { if case .invalidTensor(_, t, _) = $0 { true } else { false } }, "dimension 2^60")
        try patchedGGUF((t, 4), Self.le(UInt64(192 * 1024)), { $0 == .tensorOutOfBounds(path: $0.path, tensor: t) }, "dimension past the file")
        try patchedGGUF((t, 12), Self.le(UInt32(99)),
                        { $0 == .unsupportedTensorType(path: $0.path, tensor: t, type: "unknown type 99") }, "ggml type 99")
        try patchedGGUF((t, 12), Self.le(UInt32(12)),
                        { if case .invalidTensor(_, t, _) = $0 { true } else { false } }, "192 values as Q4_K (not whole blocks)")
        try patchedGGUF((t, 16), huge, { $0 == .tensorOutOfBounds(path: $0.path, tensor: t) }, "offset 2^60")
        try patchedGGUF((t, 16), Self.le(UInt64(4)), { if case .invalidTensor(_, t, _) = $0 { true } else { false } }, "misaligned offset")
        try patchedGGUF((t, 16), Self.le(UInt64(768)),
                        { $0 == .tensorsOverlap(path: $0.path, tensor: "blk.0.attn_qkv.weight", other: t) || $0 == .tensorsOverlap(path: $0.path, tensor: t, other: "blk.0.attn_qkv.weight") },
                        "offset of the next tensor (overlap)")
    }

    @Test func ggufDimensionProductOverflowAndLimits() throws {
        var b = GGUFBuilder.sample()
        b.tensors.append(("big", [UInt64(Int32.max), UInt64(Int32.max), UInt64(Int32.max)], 0, []))
        let p = try b.write()
        defer { try? FileManager.default.removeItem(atPath: p) }
        #expect(throws: FormatError.invalidTensor(path: p, tensor: "big", reason: "element count overflows")) { try GGUFFile(path: p) }

        var w = GGUFBuilder.sample()
        w.tensors.append(("wide", [UInt64(Int32.max), UInt64(Int32.max)], 0, []))   // 2^62 values, 2^64 bytes
        let q = try w.write()
        defer { try? FileManager.default.removeItem(atPath: q) }
        #expect(throws: FormatError.invalidTensor(path: q, tensor: "wide", reason: "byte size of \(UInt64(Int32.max) * UInt64(Int32.max)) F32 values overflows")) {
            try GGUFFile(path: q)
        }

        // An array whose count fits in the file but exceeds the per-array limit (u8 elements, 1 byte each).
        var a = GGUFBuilder.sample()
        let n = GGUFLimits.maxArrayCount + 1
        a.add("bytes", type: 9, raw: GGUFBuilder.le(UInt32(0)) + GGUFBuilder.le(UInt64(n)) + [UInt8](repeating: 0, count: n))
        let r = try a.write()
        defer { try? FileManager.default.removeItem(atPath: r) }
        #expect(throws: FormatError.limitExceeded(path: r, what: "array 'bytes' count", value: UInt64(n), limit: UInt64(GGUFLimits.maxArrayCount))) {
            try GGUFFile(path: r)
        }
    }

    // MARK: safetensors

    static let safetensorsFixture = "llama/model.safetensors"

    static func headerLength(_ bytes: [UInt8]) -> Int {
        Int(bytes[0..<8].enumerated().reduce(UInt64(0)) { $0 | UInt64($1.element) << (8 * UInt64($1.offset)) })
    }

    @Test func safetensorsTruncatedThroughTheHeaderAndAtEvenlySpacedPoints() throws {
        let full = try Self.bytes(Self.safetensorsFixture)
        let header = 8 + Self.headerLength(full)
        let scratch = Scratch()
        var cuts = Set(0...header)
        cuts.formUnion(stride(from: header, to: full.count, by: (full.count - header) / 100))
        for n in cuts.sorted() {
            try scratch.write(full[..<n])
            // The data ranges must tile the data section exactly, so no prefix is a valid file.
            if case .loaded = Self.safetensors(scratch, size: n) { Issue.record("a prefix of \(n) bytes loaded") }
        }
    }

    @Test func safetensorsBytesFlippedThroughTheHeader() throws {
        let original = try Self.bytes(Self.safetensorsFixture)
        let header = 8 + Self.headerLength(original)
        let scratch = Scratch()
        try scratch.write(original)
        var loaded = 0, rejected = 0
        for i in 0..<header {
            for mask: UInt8 in [0xFF, 0x01, 0x20] {
                try scratch.patch([original[i] ^ mask], at: i)
                if case .loaded = Self.safetensors(scratch, size: original.count) { loaded += 1 } else { rejected += 1 }
                try scratch.patch([original[i]], at: i)
            }
        }
        #expect(loaded > 0 && rejected > 0, "\(loaded) loaded, \(rejected) rejected")
    }

    /// The fixture with its header text transformed (the data section kept), the length field updated.
    static func rewrittenSafetensors(_ transform: (String) -> String) throws -> [UInt8] {
        let full = try bytes(safetensorsFixture)
        let n = headerLength(full)
        let header = String(decoding: full[8..<(8 + n)], as: UTF8.self)
        let new = Array(transform(header).utf8)
        return le(UInt64(new.count)) + new + full[(8 + n)...]
    }

    func rejectedSafetensors(_ transform: (String) -> String, _ check: (FormatError) -> Bool, _ comment: Comment,
                             sourceLocation: SourceLocation = #_sourceLocation) throws {
        let bytes = try Self.rewrittenSafetensors(transform)
        let scratch = Scratch()
        try scratch.write(bytes)
        switch Self.safetensors(scratch, size: bytes.count) {
        case .loaded: Issue.record("loaded: \(comment)", sourceLocation: sourceLocation)
        case let .rejected(e): #expect(check(e), "\(comment): \(e)", sourceLocation: sourceLocation)
        }
    }

    /// Replaces the first match of `pattern` (a regular expression) in the header.
    static func replacingFirst(_ pattern: String, with replacement: String) -> (String) -> String {
        { header in
            guard let r = header.range(of: pattern, options: .regularExpression) else { return "no match for \(pattern)" }
            return header.replacingCharacters(in: r, with: replacement)
        }
    }

    @Test func safetensorsHugeAndWrongHeaderFields() throws {
        let full = try Self.bytes(Self.safetensorsFixture)
        let scratch = Scratch()
        // The header length field.
        for (length, isTruncated) in [(UInt64(1) << 60, true), (UInt64.max, true), (UInt64(full.count), true), (0, false), (1, false)] {
            var b = full
            b.replaceSubrange(0..<8, with: Self.le(length))
            try scratch.write(b)
            switch Self.safetensors(scratch, size: b.count) {
            case .loaded: Issue.record("header length \(length) loaded")
            case let .rejected(e):
                if isTruncated { #expect({ if case .truncated = e { true } else { false } }(), "\(e)") }
                else { #expect({ if case .invalidHeader = e { true } else { false } }(), "\(e)") }
            }
        }
        let isTensorError: (FormatError) -> Bool = {
            switch $0 { case .invalidTensor, .tensorOutOfBounds: true; default: false }
        }
        // Offsets and shapes: huge, past the end, overflowing, negative, wrong type.
        try rejectedSafetensors(Self.replacingFirst(#""data_offsets":\s*\[[0-9]+,\s*[0-9]+\]"#, with: #""data_offsets":[0,1152921504606846976]"#),
                                isTensorError, "end offset 2^60")
        try rejectedSafetensors(Self.replacingFirst(#""data_offsets":\s*\[[0-9]+,\s*[0-9]+\]"#, with: #""data_offsets":[0,99999999999999999999999]"#),
                                isTensorError, "end offset beyond Int")
        try rejectedSafetensors(Self.replacingFirst(#""shape":\s*\[[0-9, ]+\]"#, with: #""shape":[4294967296,4294967296,4294967296]"#),
                                isTensorError, "shape whose product overflows")
        try rejectedSafetensors(Self.replacingFirst(#""shape":\s*\[[0-9, ]+\]"#, with: #""shape":[-1]"#), isTensorError, "negative dimension")
        try rejectedSafetensors(Self.replacingFirst(#""shape":\s*\[[0-9, ]+\]"#, with: #""shape":"64""#), isTensorError, "shape as a string")
        try rejectedSafetensors(Self.replacingFirst(#""dtype":\s*"[A-Z0-9]+""#, with: #""dtype":32"#), isTensorError, "dtype as a number")
        try rejectedSafetensors(Self.replacingFirst(#""dtype":\s*"[A-Z0-9]+","#, with: ""), isTensorError, "dtype missing")
        try rejectedSafetensors(Self.replacingFirst(#"^\{"#, with: "["), { if case .invalidHeader = $0 { true } else { false } }, "array, not object")
        try rejectedSafetensors({ _ in "[]" }, { if case .invalidHeader = $0 { true } else { false } }, "a list header")
        try rejectedSafetensors({ $0 + "," }, { if case .invalidHeader = $0 { true } else { false } }, "trailing comma")
        try rejectedSafetensors(Self.replacingFirst(#"\{"#, with: String(repeating: "[", count: 10_000)),
                                { if case .invalidHeader = $0 { true } else { false } }, "deep nesting")

        // An unknown dtype of the same width loads (the reference reads only what it knows), and is
        // refused by name when the tensor is asked for.
        let bytes = try Self.rewrittenSafetensors(Self.replacingFirst(#""dtype":\s*"F32""#, with: #""dtype":"X32""#))
        try scratch.write(bytes)
        let f = try SafetensorsFile(path: scratch.path)
        let odd = try #require(f.entries.values.first { $0.dtype == "X32" })
        #expect(throws: FormatError.unsupportedTensorType(path: scratch.path, tensor: odd.name, type: "X32")) { try f.tensor(odd.name) }
    }

    // MARK: config.json

    /// A folder with the llama fixture's weights (linked) and the given config.json text.
    static func folder(config: String) throws -> String {
        let dir = try makeTempDir()
        try FileManager.default.createSymbolicLink(atPath: dir + "/model.safetensors", withDestinationPath: formatsFixture(safetensorsFixture))
        try Data(config.utf8).write(to: URL(fileURLWithPath: dir + "/config.json"))
        return dir
    }

    @Test func configJSONWithWrongTypesOrMissingKeys() throws {
        let original = try String(contentsOfFile: formatsFixture("llama/config.json"), encoding: .utf8)
        let cases: [(String, String, (FormatError) -> Bool)] = [
            ("model_type as a number", original.replacingOccurrences(of: #""model_type": "llama""#, with: #""model_type": 5"#),
             { if case .invalidConfigValue(_, "model_type", _) = $0 { true } else { false } }),
            ("model_type missing", original.replacingOccurrences(of: #""model_type": "llama","#, with: ""),
             { if case .invalidConfigValue(_, "model_type", _) = $0 { true } else { false } }),
            ("architectures holding a number", original.replacingOccurrences(of: #""LlamaForCausalLM""#, with: "5"),
             { if case let .invalidConfigValue(_, key, _) = $0 { key.hasPrefix("architectures") } else { false } }),
            ("model_type as an object", original.replacingOccurrences(of: #""model_type": "llama""#, with: #""model_type": {"a": 1}"#),
             { if case .invalidConfigValue(_, "model_type", _) = $0 { true } else { false } }),
            ("a list, not an object", "[" + original + "]", { if case .invalidJSON = $0 { true } else { false } }),
            ("a number", "12", { if case .invalidJSON = $0 { true } else { false } }),
            ("truncated", String(original.prefix(original.count / 2)), { if case .invalidJSON = $0 { true } else { false } }),
            ("empty", "", { if case .invalidJSON = $0 { true } else { false } }),
        ]
        #expect(original.contains(#""model_type": "llama""#))
        for (what, text, check) in cases {
            let dir = try Self.folder(config: text)
            defer { try? FileManager.default.removeItem(atPath: dir) }
            do {
                _ = try ModelFolder(path: dir)
                Issue.record("loaded: \(what)")
            } catch {
                #expect(check(error), "\(what): \(error)")
            }
        }
    }
}

extension FormatError {
    /// The file an error names (for comparing whole errors in the tests above).
    var path: String {
        switch self {
        case let .cannotOpen(p, _), let .badMagic(p, _), let .unsupportedVersion(p, _), let .truncated(p, _, _),
             let .absurdCount(p, _, _), let .invalidValueType(p, _, _), let .invalidHeader(p, _), let .tensorOutOfBounds(p, _),
             let .invalidTensor(p, _, _), let .unsupportedTensorType(p, _, _), let .missingTensor(p, _), let .missingMetadata(p, _),
             let .invalidMetadata(p, _, _), let .shapeMismatch(p, _, _, _), let .limitExceeded(p, _, _, _), let .tensorsOverlap(p, _, _),
             let .duplicateKey(p, _), let .notAFolder(p), let .missingFile(p), let .invalidJSON(p, _), let .invalidConfigValue(p, _, _):
            return p
        case let .missingShard(index, _, _), let .tensorNotInShard(index, _, _), let .unlistedTensor(index, _, _): return index
        case let .noWeights(folder, _): return folder
        }
    }
}
