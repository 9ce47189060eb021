import Foundation
import Testing
import LanternTensor
@testable import LanternFormats

/// `Tests/Fixtures/<name>` found from this source file's location.
func formatsFixture(_ name: String) -> String {
    URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .appendingPathComponent("Fixtures").appendingPathComponent(name).path
}

/// A fresh empty directory under the temporary directory.
func makeTempDir() throws -> String {
    let url = FileManager.default.temporaryDirectory.appendingPathComponent("lantern-\(UUID().uuidString)")
    try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
    return url.path
}

/// Writes safetensors bytes by hand so tests control every header field. Tensors are laid out in
/// the order given unless a raw header is supplied.
struct SafetensorsWriter {
    struct Tensor {
        var name: String
        var dtype: String
        var shape: [Int]
        var bytes: [UInt8]
    }
    var tensors: [Tensor] = []
    var metadata: [String: String]? = ["format": "pt"]

    mutating func add(_ name: String, f32 values: [Float], shape: [Int]) {
        tensors.append(Tensor(name: name, dtype: "F32", shape: shape, bytes: values.flatMap { withUnsafeBytes(of: $0.bitPattern.littleEndian) { Array($0) } }))
    }

    static func quoted(_ s: String) -> String {
        var out = "\""
        for c in s.unicodeScalars {
            switch c {
            case "\"": out += "\\\""
            case "\\": out += "\\\\"
            default: out.unicodeScalars.append(c)
            }
        }
        return out + "\""
    }

    var header: String {
        var parts: [String] = []
        if let metadata {
            parts.append("\"__metadata__\":{" + metadata.sorted { $0.key < $1.key }.map { Self.quoted($0.key) + ":" + Self.quoted($0.value) }.joined(separator: ",") + "}")
        }
        var offset = 0
        for t in tensors {
            parts.append(Self.quoted(t.name) + ":{\"dtype\":\(Self.quoted(t.dtype)),\"shape\":\(t.shape),\"data_offsets\":[\(offset),\(offset + t.bytes.count)]}")
            offset += t.bytes.count
        }
        return "{" + parts.joined(separator: ",") + "}"
    }

    /// The file: 8-byte length, header padded with spaces to 8 bytes (as the reference writer does), data.
    func bytes(header: String? = nil, data: [UInt8]? = nil) -> [UInt8] {
        var h = Array((header ?? self.header).utf8)
        while h.count % 8 != 0 { h.append(0x20) }
        return Self.le(UInt64(h.count)) + h + (data ?? tensors.flatMap(\.bytes))
    }

    static func le<T: FixedWidthInteger>(_ v: T) -> [UInt8] { withUnsafeBytes(of: v.littleEndian) { Array($0) } }

    @discardableResult
    func write(to path: String, header: String? = nil, data: [UInt8]? = nil) throws -> String {
        try Data(bytes(header: header, data: data)).write(to: URL(fileURLWithPath: path))
        return path
    }

    func write(header: String? = nil, data: [UInt8]? = nil) throws -> String {
        try write(to: FileManager.default.temporaryDirectory.appendingPathComponent("lantern-\(UUID().uuidString).safetensors").path, header: header, data: data)
    }

    /// Every tensor of an existing file, copied byte for byte, in the order given.
    static func copying(_ names: [String], from file: SafetensorsFile) throws -> SafetensorsWriter {
        var w = SafetensorsWriter()
        for name in names {
            guard let e = file.entries[name] else { throw FormatError.missingTensor(path: file.path, tensor: name) }
            let t = try file.tensor(name)
            w.tensors.append(Tensor(name: name, dtype: e.dtype, shape: e.shape,
                                    bytes: Array(UnsafeRawBufferPointer(start: t.data, count: t.byteCount))))
        }
        return w
    }
}

@Suite struct SafetensorsTests {
    static func sample() -> SafetensorsWriter {
        var w = SafetensorsWriter()
        w.add("a", f32: [1, 2, 3, 4, 5, 6], shape: [2, 3])
        w.add("b", f32: [-1.5], shape: [1])
        return w
    }

    @Test func readsWhatWasWritten() throws {
        let f = try SafetensorsFile(path: Self.sample().write())
        #expect(f.tensorNames == ["a", "b"])
        #expect(f.metadata == ["format": "pt"])
        let a = try f.tensor("a", shape: [2, 3])
        #expect(a.dtype == .f32)
        #expect(a.floats() == [1, 2, 3, 4, 5, 6])
        #expect(a.path == f.path)
        #expect(try f.floats("b") == [-1.5])
    }

    /// The view is taken inside a function whose `SafetensorsFile` is gone when it returns; the view's
    /// owner keeps the mapping alive, so reading afterwards still sees the file's values.
    @Test func viewsOutliveTheirFile() throws {
        let path = try Self.sample().write()
        weak var weakFile: SafetensorsFile?
        func take() throws -> (TensorView, WeightMatrix) {
            let f = try SafetensorsFile(path: path)
            weakFile = f
            let v = try f.tensor("a")
            return (v, v.matrix())
        }
        let (view, matrix) = try take()
        #expect(weakFile == nil)
        #expect(view.owner != nil)
        #expect(matrix.owner != nil)
        #expect(view.floats() == [1, 2, 3, 4, 5, 6])
        var row = [Float](repeating: 0, count: 3)
        matrix.dequantizeRow(1, into: &row)
        #expect(row == [4, 5, 6])
    }

    @Test func ggufViewsOutliveTheirFile() throws {
        let path = try GGUFBuilder.sample().write()
        weak var weakFile: GGUFFile?
        func take() throws -> TensorView {
            let f = try GGUFFile(path: path)
            weakFile = f
            return try f.tensor(f.tensorNames[0])
        }
        let view = try take()
        #expect(weakFile == nil)
        #expect(view.owner is MappedFile)
        let fresh = try GGUFFile(path: path).tensor(view.name)
        #expect(view.floats() == fresh.floats())
    }

    @Test func shapeMismatchNamesFileAndTensor() throws {
        let f = try SafetensorsFile(path: Self.sample().write())
        #expect(throws: FormatError.shapeMismatch(path: f.path, tensor: "a", expected: [3, 2], found: [2, 3])) {
            try f.tensor("a", shape: [3, 2])
        }
        let message = FormatError.shapeMismatch(path: f.path, tensor: "a", expected: [3, 2], found: [2, 3]).description
        #expect(message.contains(f.path) && message.contains("'a'"))
        #expect(throws: FormatError.missingTensor(path: f.path, tensor: "zz")) { try f.tensor("zz") }
    }

    /// Header fields written by hand; each must be a typed error naming the file and the tensor.
    @Test(arguments: [
        // (header, tensor named in the error, or "" for a file-level error)
        (#"{"a":{"dtype":"F32","shape":[2,3],"data_offsets":[0,24]},"a":{"dtype":"F32","shape":[1],"data_offsets":[24,28]}}"#, "a"),
        (#"{"a":{"dtype":"F32","shape":[-2,3],"data_offsets":[0,24]}}"#, "a"),
        (#"{"a":{"dtype":"F32","shape":[2.5,3],"data_offsets":[0,24]}}"#, "a"),
        (#"{"a":{"dtype":"F32","shape":[true,6],"data_offsets":[0,24]}}"#, "a"),
        (#"{"a":{"dtype":"F32","shape":[6],"data_offsets":[0,1e1]}}"#, "a"),
        (#"{"a":{"dtype":"F32","shape":[6],"data_offsets":[0,99999999999999999999999]}}"#, "a"),
        (#"{"a":{"dtype":"F32","shape":[6],"data_offsets":[-4,24]}}"#, "a"),
        (#"{"a":{"dtype":"F32","shape":[6],"data_offsets":[24,0]}}"#, "a"),
        (#"{"a":{"dtype":"F32","shape":[6],"data_offsets":[0,24,28]}}"#, "a"),
        (#"{"a":{"dtype":"F32","shape":[6],"data_offsets":[0,2400]}}"#, "a"),
        (#"{"a":{"dtype":"F32","shape":[4294967296,4294967296],"data_offsets":[0,24]}}"#, "a"),
        (#"{"a":{"dtype":"F32","shape":[2305843009213693952],"data_offsets":[0,24]}}"#, "a"),
        (#"{"a":{"dtype":"F32","shape":[5],"data_offsets":[0,24]}}"#, "a"),
        (#"{"a":{"dtype":"F32","shape":[6]}}"#, "a"),
        (#"{"a":{"dtype":7,"shape":[6],"data_offsets":[0,24]}}"#, "a"),
        (#"{"a":{"dtype":"F32","dtype":"F16","shape":[6],"data_offsets":[0,24]}}"#, "a"),
        (#"{"a":[1,2]}"#, "a"),
        // overlapping ranges (b inside a), and a gap before b
        (#"{"a":{"dtype":"F32","shape":[6],"data_offsets":[0,24]},"b":{"dtype":"F32","shape":[1],"data_offsets":[4,8]}}"#, "b"),
        (#"{"a":{"dtype":"F32","shape":[4],"data_offsets":[0,16]},"b":{"dtype":"F32","shape":[1],"data_offsets":[20,24]}}"#, "b"),
        // trailing data, bad JSON, wrong top level, bad metadata
        (#"{"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]}}"#, ""),
        (#"{"a":{"dtype":"F32","shape":[6],"data_offsets":[0,24]}"#, ""),
        (#"{"a":{"dtype":"F32","shape":[6],"data_offsets":[0,24]}} x"#, ""),
        (#"[1,2,3]"#, ""),
        (#"{"__metadata__":{"format":1},"a":{"dtype":"F32","shape":[6],"data_offsets":[0,24]}}"#, ""),
        ("not json at all", ""),
    ])
    func corruptHeadersAreTypedErrors(header: String, tensor: String) throws {
        let path = try SafetensorsWriter().write(header: header, data: [UInt8](repeating: 0, count: 24))
        do {
            let f = try SafetensorsFile(path: path)
            Issue.record("accepted \(header): \(f.tensorNames)")
        } catch {
            #expect(error.description.contains(path), "\(error)")
            if !tensor.isEmpty { #expect(error.description.contains("'\(tensor)'"), "\(error)") }
        }
    }

    @Test func truncatedFilesAreTypedErrors() throws {
        let good = Self.sample().bytes()
        // Header length beyond the file, a header cut short, and data cut short.
        for cut in [4, 8, 20, good.count - 3] {
            let path = try SafetensorsWriter().write(header: "", data: [])  // placeholder, overwritten below
            try Data(good.prefix(cut)).write(to: URL(fileURLWithPath: path))
            #expect(throws: FormatError.self) { try SafetensorsFile(path: path) }
            do { _ = try SafetensorsFile(path: path) } catch { #expect(error.description.contains(path)) }
        }
        var huge = good
        huge.replaceSubrange(0..<8, with: SafetensorsWriter.le(UInt64.max))
        let path = try SafetensorsWriter().write(header: "", data: [])
        try Data(huge).write(to: URL(fileURLWithPath: path))
        #expect(throws: FormatError.truncated(path: path, what: "header of \(UInt64.max) bytes", offset: 0)) { try SafetensorsFile(path: path) }
    }

    @Test func halfPrecisionViewsAndUnsupportedDtypes() throws {
        var w = SafetensorsWriter()
        // 1.0, -2.0 as F16 (0x3C00, 0xC000) and as BF16 (0x3F80, 0xC000); an I64 tensor; an F8 tensor.
        w.tensors.append(.init(name: "h", dtype: "F16", shape: [2], bytes: [0x00, 0x3C, 0x00, 0xC0]))
        w.tensors.append(.init(name: "bf", dtype: "BF16", shape: [1, 2], bytes: [0x80, 0x3F, 0x00, 0xC0]))
        w.tensors.append(.init(name: "ids", dtype: "I64", shape: [2], bytes: SafetensorsWriter.le(Int64(7)) + SafetensorsWriter.le(Int64(-3))))
        w.tensors.append(.init(name: "f8", dtype: "F8_E4M3", shape: [4], bytes: [0, 0, 0, 0]))
        let f = try SafetensorsFile(path: w.write())
        let h = try f.tensor("h")
        #expect(h.dtype == .f16 && h.floats() == [1, -2])
        let bf = try f.tensor("bf", shape: [1, 2])
        #expect(bf.dtype == .bf16 && bf.floats() == [1, -2])
        #expect(bf.matrix().rows == 1 && bf.matrix().cols == 2)
        #expect(try f.ints("ids") == [7, -3])
        #expect(throws: FormatError.unsupportedTensorType(path: f.path, tensor: "ids", type: "I64")) { try f.tensor("ids") }
        #expect(throws: FormatError.unsupportedTensorType(path: f.path, tensor: "f8", type: "F8_E4M3")) { try f.tensor("f8") }
    }

    @Test func zeroSizedTensorsAndUnicodeNamesAreFine() throws {
        var w = SafetensorsWriter()
        w.add("empty", f32: [], shape: [0, 4])
        w.add("caf\u{e9}.\u{1F600}", f32: [7], shape: [1])
        w.add("also empty", f32: [], shape: [0])
        let f = try SafetensorsFile(path: w.write())
        #expect(try f.tensor("empty").floats() == [])
        #expect(try f.floats("caf\u{e9}.\u{1F600}") == [7])
        let escaped = #"{"caf\u00e9":{"dtype":"F32","shape":[1],"data_offsets":[0,4]}}"#
        let g = try SafetensorsFile(path: SafetensorsWriter().write(header: escaped, data: [0, 0, 0x80, 0x3F]))
        #expect(try g.floats("caf\u{e9}") == [1])
    }

    @Test func fixtureFilesStillParse() throws {
        for name in ["gpt2", "llama", "bert", "bloom", "marian", "t5", "bart"] {
            let f = try SafetensorsFile(path: formatsFixture(name) + "/model.safetensors")
            #expect(!f.tensorNames.isEmpty)
            let e = try SafetensorsFile(path: formatsFixture(name) + "/expected.safetensors")
            #expect(!e.tensorNames.isEmpty)
        }
    }
}
