import Foundation
import Testing
import LanternTensor
@testable import LanternFormats

/// Builds GGUF bytes in memory so every field can be controlled (valid files, corrupt files).
struct GGUFBuilder {
    var version: UInt32 = 3
    var alignment = 32
    var kv: [(String, UInt32, [UInt8])] = []
    var tensors: [(name: String, dims: [UInt64], type: UInt32, data: [UInt8])] = []

    static func str(_ s: String) -> [UInt8] { le(UInt64(s.utf8.count)) + Array(s.utf8) }
    static func le<T: FixedWidthInteger>(_ v: T) -> [UInt8] { withUnsafeBytes(of: v.littleEndian) { Array($0) } }

    mutating func add(_ key: String, u32 v: UInt32) { kv.append((key, 4, Self.le(v))) }
    mutating func add(_ key: String, string v: String) { kv.append((key, 8, Self.str(v))) }
    mutating func add(_ key: String, type: UInt32, raw: [UInt8]) { kv.append((key, type, raw)) }

    func bytes() -> [UInt8] {
        var out = Self.le(UInt32(0x4655_4747)) + Self.le(version) + Self.le(UInt64(tensors.count)) + Self.le(UInt64(kv.count))
        for (k, t, v) in kv { out += Self.str(k) + Self.le(t) + v }
        var offset = 0
        var offsets: [Int] = []
        for t in tensors {
            offsets.append(offset)
            offset += (t.data.count + alignment - 1) / alignment * alignment
        }
        for (t, off) in zip(tensors, offsets) {
            out += Self.str(t.name) + Self.le(UInt32(t.dims.count))
            for d in t.dims { out += Self.le(d) }
            out += Self.le(t.type) + Self.le(UInt64(off))
        }
        while out.count % alignment != 0 { out.append(0) }
        for t in tensors {
            out += t.data
            while out.count % alignment != 0 { out.append(0) }
        }
        return out
    }

    func write(_ bytes: [UInt8]? = nil) throws -> String {
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("lantern-\(UUID().uuidString).gguf").path
        try Data(bytes ?? self.bytes()).write(to: URL(fileURLWithPath: path))
        return path
    }

    /// A small valid file: metadata of several types (nested array included) and an F32 and a Q8_0 tensor.
    static func sample(version: UInt32 = 3) -> GGUFBuilder {
        var b = GGUFBuilder(version: version)
        b.add("general.architecture", string: "llama")
        b.add("llama.block_count", u32: 2)
        b.add("f", type: 6, raw: le(Float(1.5).bitPattern))
        b.add("flag", type: 7, raw: [1])
        b.add("i64", type: 11, raw: le(Int64(-7)))
        // array of two arrays of u8: [[1, 2], [3]]
        b.add("nested", type: 9, raw: le(UInt32(9)) + le(UInt64(2))
              + le(UInt32(0)) + le(UInt64(2)) + [1, 2]
              + le(UInt32(0)) + le(UInt64(1)) + [3])
        b.add("words", type: 9, raw: le(UInt32(8)) + le(UInt64(2)) + str("a") + str("bc"))
        let f32 = (0..<6).flatMap { le(Float($0).bitPattern) }
        b.tensors.append(("vec", [6], 0, f32))
        var q8: [UInt8] = le(UInt16(0x3C00))  // d = 1.0
        q8 += (0..<32).map { UInt8(bitPattern: Int8($0 - 16)) }
        b.tensors.append(("mat", [32, 1], 8, q8))
        return b
    }
}

@Suite struct GGUFTests {
    @Test(arguments: [UInt32(2), 3])
    func readsMetadataAndTensors(version: UInt32) throws {
        let f = try GGUFFile(path: GGUFBuilder.sample(version: version).write())
        #expect(f.version == Int(version))
        #expect(try f.string("general.architecture") == "llama")
        #expect(try f.int("llama.block_count") == 2)
        #expect(f.metadata["f"] == .float32(1.5))
        #expect(f.metadata["flag"] == .bool(true))
        #expect(f.metadata["i64"]?.int == -7)
        #expect(f.metadata["nested"] == .array([.array([.uint8(1), .uint8(2)]), .array([.uint8(3)])]))
        #expect(f.metadata["words"] == .array([.string("a"), .string("bc")]))
        #expect(f.metadataKeys.first == "general.architecture")
        #expect(try f.tensor("vec").floats() == [0, 1, 2, 3, 4, 5])
        let m = try f.tensor("mat")
        #expect(m.dtype == .q8_0 && m.shape == [1, 32])
        #expect(m.floats() == (0..<32).map { Float($0 - 16) })
    }

    @Test func truncatedFilesAreErrorsAtEveryLength() throws {
        let sample = GGUFBuilder.sample()
        let full = sample.bytes()
        // The last tensor (34 bytes of Q8_0) is followed by alignment padding, which may be cut freely.
        let dataEnd = full.count - (sample.alignment - 34 % sample.alignment)
        #expect(try GGUFFile(path: GGUFBuilder().write(Array(full[..<dataEnd]))).tensorNames == ["vec", "mat"])
        // Every shorter prefix must be rejected with a typed error.
        for n in 0..<dataEnd {
            let path = try GGUFBuilder().write(Array(full[..<n]))
            defer { try? FileManager.default.removeItem(atPath: path) }
            #expect(throws: FormatError.self) { try GGUFFile(path: path) }
        }
    }

    @Test func badMagicAndVersion() throws {
        var bytes = GGUFBuilder.sample().bytes()
        bytes[0] = UInt8(ascii: "X")
        #expect {
            try GGUFFile(path: GGUFBuilder().write(bytes))
        } throws: { e in
            guard case .badMagic = e as? FormatError else { return false }
            return true
        }
        var v = GGUFBuilder.sample()
        v.version = 1
        #expect {
            try GGUFFile(path: v.write())
        } throws: { e in (e as? FormatError).map { if case .unsupportedVersion(_, 1) = $0 { true } else { false } } ?? false }
    }

    @Test func absurdCountsDoNotAllocate() throws {
        var bytes = GGUFBuilder.sample().bytes()
        // tensor count at byte 8: claim 2^60 tensors
        bytes.replaceSubrange(8..<16, with: GGUFBuilder.le(UInt64(1) << 60))
        #expect { try GGUFFile(path: GGUFBuilder().write(bytes)) } throws: { e in
            (e as? FormatError).map { if case .absurdCount = $0 { true } else { false } } ?? false
        }
        var b = GGUFBuilder.sample()
        b.add("huge", type: 9, raw: GGUFBuilder.le(UInt32(4)) + GGUFBuilder.le(UInt64.max))
        #expect { try GGUFFile(path: b.write()) } throws: { e in
            (e as? FormatError).map { if case .absurdCount = $0 { true } else { false } } ?? false
        }
        var s = GGUFBuilder.sample()
        s.add("long", type: 8, raw: GGUFBuilder.le(UInt64(1) << 62))
        #expect(throws: FormatError.self) { try GGUFFile(path: s.write()) }
    }

    @Test func tensorPastTheEndIsNamed() throws {
        var b = GGUFBuilder.sample()
        b.tensors[0].dims = [600]   // claims 2400 bytes, the file holds far fewer
        let p = try b.write()
        #expect(throws: FormatError.tensorOutOfBounds(path: p, tensor: "vec")) { try GGUFFile(path: p) }
    }

    @Test func unknownTensorTypeIsReportedByName() throws {
        var b = GGUFBuilder.sample()
        b.tensors.append(("fancy", [256], 23, [UInt8](repeating: 0, count: 136)))   // IQ4_XS (Q4_K is supported now)
        let f = try GGUFFile(path: b.write())
        #expect(f.info("fancy")?.type.name == "IQ4_XS")
        #expect(throws: FormatError.unsupportedTensorType(path: f.path, tensor: "fancy", type: "IQ4_XS")) { try f.tensor("fancy") }
        #expect(FormatError.unsupportedTensorType(path: f.path, tensor: "fancy", type: "IQ4_XS").description.contains("fancy"))
        #expect(throws: FormatError.missingTensor(path: f.path, tensor: "nope")) { try f.tensor("nope") }
    }

    @Test func unknownValueTypeAndBadAlignment() throws {
        var b = GGUFBuilder.sample()
        b.add("weird", type: 99, raw: [0])
        #expect(throws: FormatError.self) { try GGUFFile(path: b.write()) }
        var a = GGUFBuilder.sample()
        a.add("general.alignment", u32: 3)
        let path = try a.write()
        #expect(throws: FormatError.invalidMetadata(path: path, key: "general.alignment", reason: "must be a power of two, found uint32(3)")) {
            try GGUFFile(path: path)
        }
    }

    @Test func missingAndEmptyFiles() throws {
        #expect(throws: FormatError.self) { try GGUFFile(path: "/nonexistent/model.gguf") }
        #expect(throws: FormatError.self) { try GGUFFile(path: GGUFBuilder().write([])) }
        #expect(throws: FormatError.self) { try GGUFFile(path: "/tmp") }
    }
}

/// Random corruption of a valid file: every mutant is either rejected with a `FormatError` or read with
/// every tensor view inside the file; none crashes.
@Suite struct GGUFMutationTests {
    struct SplitMix: RandomNumberGenerator {
        var state: UInt64
        mutating func next() -> UInt64 {
            state &+= 0x9E37_79B9_7F4A_7C15
            var z = state
            z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
            z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
            return z ^ (z >> 31)
        }
    }

    @Test func mutatedFilesNeverCrash() throws {
        let original = GGUFBuilder.sample().bytes()
        var rng = SplitMix(state: 2024)
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("lantern-mutant-\(UUID().uuidString).gguf").path
        defer { try? FileManager.default.removeItem(atPath: path) }
        var accepted = 0, rejected = 0
        for _ in 0..<1500 {
            var bytes = original
            for _ in 0..<Int.random(in: 1...4, using: &rng) {
                let i = Int.random(in: 0..<bytes.count, using: &rng)
                switch Int.random(in: 0..<3, using: &rng) {
                case 0: bytes[i] = UInt8.random(in: 0...255, using: &rng)
                case 1: bytes[i] = [0x00, 0xFF, 0x7F, 0x80][Int.random(in: 0..<4, using: &rng)]
                default: bytes[i] ^= 1 << UInt8.random(in: 0..<8, using: &rng)
                }
            }
            try Data(bytes).write(to: URL(fileURLWithPath: path))
            do {
                let f = try GGUFFile(path: path)
                accepted += 1
                for name in f.tensorNames {
                    guard let t = try? f.tensor(name) else { continue }
                    let start = f.info(name)?.offset ?? 0
                    #expect(start >= 0 && start + t.byteCount <= bytes.count, "\(name) lies outside the file")
                    _ = t.floats()   // reads every byte of the view
                }
            } catch {
                rejected += 1
            }
        }
        #expect(accepted > 0 && rejected > 0)
    }
}
