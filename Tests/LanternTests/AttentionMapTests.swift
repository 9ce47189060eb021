import Foundation
import Testing
@testable import Lantern

/// A test-only inflater for what `PNG.zlib` writes and more (stored and fixed-Huffman deflate blocks,
/// any distance), written from RFC 1950/1951, so the PNG is checked without Foundation's or our writer's help.
struct Inflater {
    enum Failure: Error { case truncated, badHeader, dynamicBlock, badSymbol, badChecksum, badDistance }
    let data: [UInt8]
    var bit = 0

    static let lengthBase = [3, 4, 5, 6, 7, 8, 9, 10, 11, 13, 15, 17, 19, 23, 27, 31, 35, 43, 51, 59, 67, 83, 99, 115, 131, 163, 195, 227, 258]
    static let lengthExtra = [0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 2, 2, 2, 2, 3, 3, 3, 3, 4, 4, 4, 4, 5, 5, 5, 5, 0]
    static let distBase = [1, 2, 3, 4, 5, 7, 9, 13, 17, 25, 33, 49, 65, 97, 129, 193, 257, 385, 513, 769, 1025, 1537,
                           2049, 3073, 4097, 6145, 8193, 12289, 16385, 24577]
    static let distExtra = [0, 0, 0, 0, 1, 1, 2, 2, 3, 3, 4, 4, 5, 5, 6, 6, 7, 7, 8, 8, 9, 9, 10, 10, 11, 11, 12, 12, 13, 13]

    mutating func bits(_ n: Int) throws -> Int {
        var v = 0
        for k in 0..<n {
            guard bit / 8 < data.count else { throw Failure.truncated }
            v |= Int((data[bit / 8] >> UInt8(bit % 8)) & 1) << k
            bit += 1
        }
        return v
    }

    /// A fixed-Huffman literal/length symbol (codes read most significant bit first).
    mutating func symbol() throws -> Int {
        var code = 0
        for len in 1...9 {
            code = code << 1 | (try bits(1))
            switch (len, code) {
            case (7, 0...0x17): return 256 + code
            case (8, 0x30...0xBF): return code - 0x30
            case (8, 0xC0...0xC7): return 280 + code - 0xC0
            case (9, 0x190...0x1FF): return 144 + code - 0x190
            default: continue
            }
        }
        throw Failure.badSymbol
    }

    /// The bytes of a zlib stream, its Adler-32 checked.
    static func zlib(_ stream: [UInt8]) throws -> [UInt8] {
        guard stream.count >= 6, stream[0] & 0x0F == 8, (Int(stream[0]) * 256 + Int(stream[1])) % 31 == 0 else { throw Failure.badHeader }
        var z = Inflater(data: Array(stream.dropFirst(2)))
        var out: [UInt8] = []
        var final = 0
        while final == 0 {
            final = try z.bits(1)
            switch try z.bits(2) {
            case 0:
                z.bit = (z.bit + 7) / 8 * 8
                let len = try z.bits(16), nlen = try z.bits(16)
                guard len ^ nlen == 0xFFFF else { throw Failure.badHeader }
                for _ in 0..<len { out.append(UInt8(try z.bits(8))) }
            case 1:
                while true {
                    let s = try z.symbol()
                    if s < 256 { out.append(UInt8(s)); continue }
                    if s == 256 { break }
                    let li = s - 257
                    guard li < lengthBase.count else { throw Failure.badSymbol }
                    let length = lengthBase[li] + (try z.bits(lengthExtra[li]))
                    var dcode = 0
                    for _ in 0..<5 { dcode = dcode << 1 | (try z.bits(1)) }
                    guard dcode < distBase.count else { throw Failure.badSymbol }
                    let dist = distBase[dcode] + (try z.bits(distExtra[dcode]))
                    guard dist <= out.count else { throw Failure.badDistance }
                    for _ in 0..<length { out.append(out[out.count - dist]) }
                }
            default: throw Failure.dynamicBlock
            }
        }
        let start = (z.bit + 7) / 8 + 2
        guard start + 4 <= stream.count else { throw Failure.truncated }
        var a: UInt32 = 1, b: UInt32 = 0
        for x in out { a = (a + UInt32(x)) % 65521; b = (b + a) % 65521 }
        let stored = stream[start..<(start + 4)].reduce(UInt32(0)) { $0 << 8 | UInt32($1) }
        guard stored == b << 16 | a else { throw Failure.badChecksum }
        return out
    }
}

/// A decoded PNG: chunks checked (CRC32 by the standard table-free bitwise definition), IDAT inflated,
/// filters undone.
struct DecodedPNG {
    let width: Int, height: Int
    let rgb: [UInt8]

    init(_ bytes: [UInt8]) throws {
        func crc(_ s: ArraySlice<UInt8>) -> UInt32 {
            var c: UInt32 = 0xFFFF_FFFF
            for x in s { c ^= UInt32(x); for _ in 0..<8 { c = c & 1 == 1 ? (c >> 1) ^ 0xEDB8_8320 : c >> 1 } }
            return ~c
        }
        func be(_ i: Int) -> Int { Int(bytes[i]) << 24 | Int(bytes[i + 1]) << 16 | Int(bytes[i + 2]) << 8 | Int(bytes[i + 3]) }
        try #require(Array(bytes.prefix(8)) == [0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A])
        var i = 8, idat: [UInt8] = [], types: [String] = []
        var w = 0, h = 0
        while i + 12 <= bytes.count {
            let n = be(i), type = String(decoding: bytes[(i + 4)..<(i + 8)], as: UTF8.self)
            try #require(i + 12 + n <= bytes.count)
            #expect(crc(bytes[(i + 4)..<(i + 8 + n)]) == UInt32(be(i + 8 + n)), "CRC of \(type)")
            if type == "IHDR" {
                w = be(i + 8); h = be(i + 12)
                #expect(Array(bytes[(i + 16)..<(i + 21)]) == [8, 2, 0, 0, 0], "8-bit RGB, deflate, no interlace")
            }
            if type == "IDAT" { idat += bytes[(i + 8)..<(i + 8 + n)] }
            types.append(type)
            i += 12 + n
        }
        #expect(types.first == "IHDR" && types.last == "IEND" && i == bytes.count)
        let raw = try Inflater.zlib(idat)
        let stride = w * 3
        try #require(w > 0 && h > 0 && raw.count == (stride + 1) * h)
        var px = [UInt8](repeating: 0, count: stride * h)
        for y in 0..<h {
            let f = raw[y * (stride + 1)]
            for x in 0..<stride {
                let v = raw[y * (stride + 1) + 1 + x]
                let left = x >= 3 ? px[y * stride + x - 3] : 0, up = y > 0 ? px[(y - 1) * stride + x] : 0
                switch f {
                case 0: px[y * stride + x] = v
                case 1: px[y * stride + x] = v &+ left
                case 2: px[y * stride + x] = v &+ up
                default: Issue.record("filter \(f) in row \(y)")
                }
            }
        }
        width = w; height = h; rgb = px
    }

    func pixel(_ x: Int, _ y: Int) -> [UInt8] { Array(rgb[((y * width + x) * 3)..<((y * width + x) * 3 + 3)]) }
    var colours: Set<[UInt8]> { Set((0..<(width * height)).map { pixel($0 % width, $0 / width) }) }
}

@Suite struct AttentionMapTests {
    /// transformers' maps of a fixture (tools/make_attention_fixture.py): [layer][head][row][col].
    /// `tolerance`: 1e-5, or 4x the reference's own float32-vs-float64 error where that is larger.
    static func reference(_ name: String, key: String = "attentions", case index: Int = 0) throws
        -> (ids: [Int], dec: [Int]?, maps: [[[[Double]]]], tolerance: Double) {
        let json = try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: fixturePath(name + "/attentions.json")))) as? [String: Any]
        let c = try #require((json?["cases"] as? [[String: Any]])?[index])
        return (try #require(c["input_ids"] as? [Int]), c["decoder_input_ids"] as? [Int], try #require(c[key] as? [[[[Double]]]]),
                max(1e-5, 4 * (c["float32_error"] as? Double ?? 0)))
    }

    @Test func checksumsMatchTheirStandardCheckValues() {
        #expect(PNG.crc32(Array("123456789".utf8)) == 0xCBF4_3926)     // the CRC-32 check value (ISO-HDLC)
        #expect(PNG.adler32(Array("Wikipedia".utf8)) == 0x11E6_0398)   // RFC 1950's example in Wikipedia
    }

    @Test func zlibStreamsInflateToTheirInput() throws {
        var rng = SystemRandomNumberGenerator()
        let inputs: [[UInt8]] = [[], [7], [1, 1, 1, 1], [UInt8](repeating: 0, count: 1000), (0..<5000).map { _ in UInt8.random(in: 0...255, using: &rng) },
                                 (0..<3000).map { UInt8(($0 / 7) % 3) }, (0..<600).map { $0 % 300 < 259 ? 9 : UInt8($0 % 256) }]
        for input in inputs {
            #expect(try Inflater.zlib(PNG.zlib(input)) == input, "\(input.count) bytes")
        }
    }

    @Test func gpt2MapEqualsTransformersThroughTheFacade() throws {
        let loaded = try LoadedModel(path: fixturePath("gpt2"), threads: 2)
        let ref = try Self.reference("gpt2")
        let map = try loaded.attentionMap(tokens: ref.ids, layer: 1)
        #expect(map.heads == [0, 1, 2, 3] && map.rowLabels == ref.ids.map(String.init))
        for (h, want) in ref.maps[1].enumerated() {
            let got = map.weights[h]
            #expect(got.count == want.count)
            for (g, w) in zip(got.joined(), want.joined()) { #expect(abs(Double(g) - w) <= ref.tolerance) }
        }
        #expect(throws: AttentionMapError.layerOutOfRange(2, layers: 2)) { try loaded.attentionMap(tokens: ref.ids, layer: 2) }
        #expect(throws: AttentionMapError.headOutOfRange(4, heads: 4)) { try loaded.attentionMap(tokens: ref.ids, layer: 0, head: 4) }
        #expect(throws: AttentionMapError.noCrossAttention("gpt2")) { try loaded.attentionMap(tokens: ref.ids, layer: 0, cross: true) }
    }

    /// The PNG decodes (signature, CRCs, IHDR, zlib stream, filters) to an image whose corner is the white
    /// background and which holds both ends of the colour scale.
    @Test func pngDecodesToTheHeatmap() throws {
        let loaded = try LoadedModel(path: fixturePath("gpt2"), threads: 2)
        let map = try loaded.attentionMap(tokens: try Self.reference("gpt2").ids, layer: 0)
        let png = try DecodedPNG(Heatmap.png(map))
        #expect(png.width > 12 * 16 * 2 && png.height > 12 * 16 * 2)
        #expect(png.pixel(0, 0) == [255, 255, 255])
        let colours = png.colours
        #expect(colours.contains([68, 1, 84]) && colours.contains([253, 231, 37]) && colours.contains([0, 0, 0]))
    }

    /// SmolLM2 over a real sentence: every row of every head of a layer sums to 1, the causal upper
    /// triangle is exactly 0, and the SVG and PNG carry the tokens.
    @Test func smolLM2MapIsCausalAndLabelled() throws {
        let loaded = try RealModel.get()
        let ids = loaded.encodePrompt("The cat sat on the mat.")
        let map = try loaded.attentionMap(tokens: ids, layer: 3)
        #expect(map.heads == Array(0..<9))
        for head in map.weights {
            for (r, row) in head.enumerated() {
                #expect(abs(row.reduce(0, +) - 1) <= 1e-5)
                #expect(row[(r + 1)...].allSatisfy { $0 == 0 })
            }
        }
        let svg = Heatmap.svg(map)
        #expect(svg.hasPrefix("<svg") && svg.contains(">·cat</text>") && svg.contains(">·mat</text>") && svg.contains("head 8"))
        #expect(svg.contains(">\(Heatmap.number(map.range.max))</text>"))
        _ = try DecodedPNG(Heatmap.png(try loaded.attentionMap(tokens: ids, layer: 3, head: 2)))
    }
}

@Suite(.serialized) struct AttentionCLITests {
    func temporary(_ name: String) -> String {
        FileManager.default.temporaryDirectory.appendingPathComponent("lantern-attention-\(ProcessInfo.processInfo.processIdentifier)-\(name)").path
    }

    /// --format json: the keys, the shape [heads, rows, columns] and weights equal to transformers'.
    @Test func jsonShapeAndWeights() throws {
        let ref = try AttentionMapTests.reference("gpt2", case: 1)
        let ids = ref.ids.map(String.init).joined(separator: ",")
        let r = try CLI.run(["attention", "--model", fixturePath("gpt2"), "--layer", "1", "--head", "2", "--tokens", ids, "--format", "json"])
        #expect(r.status == 0, "\(r.stderr)")
        let j = try CLI.json(r.stdout)
        #expect(j["layer"] as? Int == 1 && j["cross"] as? Bool == false && j["heads"] as? [Int] == [2])
        #expect(j["tokens"] as? [Int] == ref.ids && j["row_tokens"] as? [Int] == ref.ids && j["labels"] as? [String] == ref.ids.map(String.init))
        #expect(j["shape"] as? [Int] == [1, ref.ids.count, ref.ids.count])
        let w = try #require(j["weights"] as? [[[Double]]])
        #expect(w.count == 1)
        for (g, e) in zip(w[0].joined(), ref.maps[1][2].joined()) { #expect(abs(g - e) <= ref.tolerance) }
        let range = try #require(j["range"] as? [Double])
        #expect(range.count == 2 && range[0] == 0 && range[1] == w[0].joined().max())
    }

    /// --cross on the T5 fixture: decoder rows over encoder columns, equal to transformers' cross_attentions.
    @Test func crossAttentionJSON() throws {
        let ref = try AttentionMapTests.reference("t5", key: "cross_attentions")
        let dec = try #require(ref.dec)
        let r = try CLI.run(["attention", "--model", fixturePath("t5"), "--layer", "1", "--cross", "--format", "json",
                             "--tokens", ref.ids.map(String.init).joined(separator: ","),
                             "--decoder-tokens", dec.map(String.init).joined(separator: ",")])
        #expect(r.status == 0, "\(r.stderr)")
        let j = try CLI.json(r.stdout)
        #expect(j["shape"] as? [Int] == [ref.maps[1].count, dec.count, ref.ids.count] && j["cross"] as? Bool == true)
        let w = try #require(j["weights"] as? [[[Double]]])
        for (g, e) in zip(w.joined().joined(), ref.maps[1].joined().joined()) { #expect(abs(g - e) <= ref.tolerance) }
    }

    @Test func writesPNGAndSVG() throws {
        let ids = try AttentionMapTests.reference("gpt2").ids
        let png = temporary("map.png"), svg = temporary("map.svg")
        defer { try? FileManager.default.removeItem(atPath: png); try? FileManager.default.removeItem(atPath: svg) }
        for file in [png, svg] {
            let r = try CLI.run(["attention", "--model", fixturePath("gpt2"), "--layer", "0", "--out", file,
                                 "--tokens", ids.map(String.init).joined(separator: ",")])
            #expect(r.status == 0, "\(r.stderr)")
            #expect(r.stdout.hasPrefix("wrote \(file): layer 0 self-attention, heads 0,1,2,3, 12 x 12 tokens"))
        }
        let image = try DecodedPNG(Array(Data(contentsOf: URL(fileURLWithPath: png))))
        #expect(image.width > 0 && image.pixel(0, 0) == [255, 255, 255])
        let text = try String(contentsOfFile: svg, encoding: .utf8)
        #expect(text.hasPrefix("<svg") && text.hasSuffix("</svg>\n"))
        for id in ids { #expect(text.contains(">\(id)</text>")) }
        #expect(text.contains(">head 3</text>"))
    }

    @Test func errorsAreMessages() throws {
        let m = fixturePath("gpt2")
        let layer = try CLI.run(["attention", "--model", m, "--layer", "5", "--tokens", "1,2", "--format", "json"])
        let message = try CLI.json(layer.stdout)["error"] as? String
        #expect(layer.status != 0 && message == "layer 5 is outside 0..<2")
        let cross = try CLI.run(["attention", "--model", m, "--layer", "0", "--cross", "--tokens", "1,2", "--out", temporary("x.png")])
        #expect(cross.status != 0 && cross.stderr.contains("no cross-attention"))
        let ext = try CLI.run(["attention", "--model", m, "--layer", "0", "--tokens", "1,2", "--out", temporary("x.jpg")])
        #expect(ext.status != 0 && ext.stderr.contains(".png or .svg"))
    }
}
