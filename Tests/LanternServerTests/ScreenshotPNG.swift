import Foundation
import Testing

/// A PNG reader for browser screenshots: the test-only inflater of LanternTests' AttentionMapTests
/// (stored and fixed-Huffman blocks, written from RFC 1950/1951) grown by the dynamic Huffman blocks
/// a general zlib writes, and its filter decoding grown by Average and Paeth and by RGBA rows.
/// 8-bit RGB or RGBA, no interlace; alpha is dropped.
struct ScreenshotPNG {
    enum Failure: Error { case notPNG, truncated, badHeader, badSymbol, badDistance, badChecksum, unsupported(String) }
    let width: Int, height: Int
    /// width * height * 3 bytes, rows top to bottom.
    let rgb: [UInt8]

    init(_ bytes: [UInt8]) throws {
        guard Array(bytes.prefix(8)) == [0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A] else { throw Failure.notPNG }
        func be(_ i: Int) -> Int { Int(bytes[i]) << 24 | Int(bytes[i + 1]) << 16 | Int(bytes[i + 2]) << 8 | Int(bytes[i + 3]) }
        var i = 8, idat: [UInt8] = [], w = 0, h = 0, channels = 0
        while i + 12 <= bytes.count {
            let n = be(i), type = String(decoding: bytes[(i + 4)..<(i + 8)], as: UTF8.self)
            guard i + 12 + n <= bytes.count else { throw Failure.truncated }
            if type == "IHDR" {
                w = be(i + 8); h = be(i + 12)
                let depth = bytes[i + 16], colour = bytes[i + 17], interlace = bytes[i + 20]
                guard depth == 8, colour == 2 || colour == 6, interlace == 0 else {
                    throw Failure.unsupported("bit depth \(depth), colour type \(colour), interlace \(interlace)")
                }
                channels = colour == 6 ? 4 : 3
            }
            if type == "IDAT" { idat += bytes[(i + 8)..<(i + 8 + n)] }
            if type == "IEND" { break }
            i += 12 + n
        }
        guard w > 0, h > 0, channels > 0 else { throw Failure.badHeader }
        let raw = try Self.zlib(idat)
        let stride = w * channels
        guard raw.count >= (stride + 1) * h else { throw Failure.truncated }
        var px = [UInt8](repeating: 0, count: stride * h)
        for y in 0..<h {
            let f = raw[y * (stride + 1)], src = y * (stride + 1) + 1, row = y * stride
            for x in 0..<stride {
                let a = x >= channels ? Int(px[row + x - channels]) : 0
                let b = y > 0 ? Int(px[row - stride + x]) : 0
                let c = x >= channels && y > 0 ? Int(px[row - stride + x - channels]) : 0
                let predictor: Int
                switch f {
                case 0: predictor = 0
                case 1: predictor = a
                case 2: predictor = b
                case 3: predictor = (a + b) / 2
                case 4:
                    let p = a + b - c, pa = abs(p - a), pb = abs(p - b), pc = abs(p - c)
                    predictor = pa <= pb && pa <= pc ? a : (pb <= pc ? b : c)
                default: throw Failure.unsupported("filter \(f) in row \(y)")
                }
                px[row + x] = raw[src + x] &+ UInt8(truncatingIfNeeded: predictor)
            }
        }
        var out = [UInt8](repeating: 0, count: w * h * 3)
        for p in 0..<(w * h) {
            out[p * 3] = px[p * channels]; out[p * 3 + 1] = px[p * channels + 1]; out[p * 3 + 2] = px[p * channels + 2]
        }
        width = w; height = h; rgb = out
    }

    /// How many pixels are within `tolerance` (per channel) of one of `colours`.
    func count(near colours: [(UInt8, UInt8, UInt8)], tolerance: Int) -> Int {
        var wanted = Set<Int>()
        for (r, g, b) in colours {
            for dr in -tolerance...tolerance { for dg in -tolerance...tolerance { for db in -tolerance...tolerance {
                let (R, G, B) = (Int(r) + dr, Int(g) + dg, Int(b) + db)
                if (0...255).contains(R), (0...255).contains(G), (0...255).contains(B) { wanted.insert(R << 16 | G << 8 | B) }
            } } }
        }
        var n = 0
        for p in 0..<(width * height) where wanted.contains(Int(rgb[p * 3]) << 16 | Int(rgb[p * 3 + 1]) << 8 | Int(rgb[p * 3 + 2])) {
            n += 1
        }
        return n
    }

    // MARK: - zlib (RFC 1950) and deflate (RFC 1951)

    /// Canonical Huffman code from code lengths: `counts[len]` codes of each length, symbols in code order.
    struct Huffman {
        var counts = [Int](repeating: 0, count: 16)
        var symbols: [Int] = []
        init(lengths: [Int]) throws {
            for l in lengths { counts[l] += 1 }
            counts[0] = 0
            var offsets = [Int](repeating: 0, count: 16)
            for l in 1..<15 { offsets[l + 1] = offsets[l] + counts[l] }
            symbols = [Int](repeating: 0, count: lengths.count)
            for (s, l) in lengths.enumerated() where l > 0 {
                symbols[offsets[l]] = s
                offsets[l] += 1
            }
        }
    }

    struct Bits {
        let data: [UInt8]
        var bit = 0
        mutating func read(_ n: Int) throws -> Int {
            var v = 0
            for k in 0..<n {
                guard bit >> 3 < data.count else { throw Failure.truncated }
                v |= Int((data[bit >> 3] >> UInt8(bit & 7)) & 1) << k
                bit += 1
            }
            return v
        }
        /// One symbol, its code read most significant bit first (puff.c's canonical decoding).
        mutating func decode(_ h: Huffman) throws -> Int {
            var code = 0, first = 0, index = 0
            for len in 1..<16 {
                code |= try read(1)
                let count = h.counts[len]
                if code - first < count { return h.symbols[index + code - first] }
                index += count
                first = (first + count) << 1
                code <<= 1
            }
            throw Failure.badSymbol
        }
    }

    static let lengthBase = [3, 4, 5, 6, 7, 8, 9, 10, 11, 13, 15, 17, 19, 23, 27, 31, 35, 43, 51, 59, 67, 83, 99, 115, 131, 163, 195, 227, 258]
    static let lengthExtra = [0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 2, 2, 2, 2, 3, 3, 3, 3, 4, 4, 4, 4, 5, 5, 5, 5, 0]
    static let distBase = [1, 2, 3, 4, 5, 7, 9, 13, 17, 25, 33, 49, 65, 97, 129, 193, 257, 385, 513, 769, 1025, 1537,
                           2049, 3073, 4097, 6145, 8193, 12289, 16385, 24577]
    static let distExtra = [0, 0, 0, 0, 1, 1, 2, 2, 3, 3, 4, 4, 5, 5, 6, 6, 7, 7, 8, 8, 9, 9, 10, 10, 11, 11, 12, 12, 13, 13]
    static let codeLengthOrder = [16, 17, 18, 0, 8, 7, 9, 6, 10, 5, 11, 4, 12, 3, 13, 2, 14, 1, 15]

    /// The bytes of a zlib stream, its Adler-32 checked.
    static func zlib(_ stream: [UInt8]) throws -> [UInt8] {
        guard stream.count >= 6, stream[0] & 0x0F == 8, (Int(stream[0]) * 256 + Int(stream[1])) % 31 == 0 else { throw Failure.badHeader }
        var z = Bits(data: Array(stream.dropFirst(2)))
        var out: [UInt8] = []
        out.reserveCapacity(stream.count * 4)
        let fixedLiterals = try Huffman(lengths: (0..<288).map { $0 < 144 ? 8 : $0 < 256 ? 9 : $0 < 280 ? 7 : 8 })
        let fixedDistances = try Huffman(lengths: [Int](repeating: 5, count: 30))
        var final = 0
        while final == 0 {
            final = try z.read(1)
            let type = try z.read(2)
            switch type {
            case 0:
                z.bit = (z.bit + 7) / 8 * 8
                let len = try z.read(16), nlen = try z.read(16)
                guard len ^ nlen == 0xFFFF else { throw Failure.badHeader }
                let start = z.bit >> 3
                guard start + len <= z.data.count else { throw Failure.truncated }
                out += z.data[start..<(start + len)]
                z.bit += len * 8
            case 1, 2:
                var literals = fixedLiterals, distances = fixedDistances
                if type == 2 {
                    let nlen = try z.read(5) + 257, ndist = try z.read(5) + 1, ncode = try z.read(4) + 4
                    var codeLengths = [Int](repeating: 0, count: 19)
                    for k in 0..<ncode { codeLengths[codeLengthOrder[k]] = try z.read(3) }
                    let lengthCode = try Huffman(lengths: codeLengths)
                    var lengths: [Int] = []
                    while lengths.count < nlen + ndist {
                        let s = try z.decode(lengthCode)
                        switch s {
                        case 0..<16: lengths.append(s)
                        case 16:
                            guard let last = lengths.last else { throw Failure.badSymbol }
                            lengths += [Int](repeating: last, count: 3 + (try z.read(2)))
                        case 17: lengths += [Int](repeating: 0, count: 3 + (try z.read(3)))
                        default: lengths += [Int](repeating: 0, count: 11 + (try z.read(7)))
                        }
                    }
                    guard lengths.count == nlen + ndist else { throw Failure.badSymbol }
                    literals = try Huffman(lengths: Array(lengths[..<nlen]))
                    distances = try Huffman(lengths: Array(lengths[nlen...]))
                }
                while true {
                    let s = try z.decode(literals)
                    if s < 256 { out.append(UInt8(s)); continue }
                    if s == 256 { break }
                    let li = s - 257
                    guard li < lengthBase.count else { throw Failure.badSymbol }
                    let length = lengthBase[li] + (try z.read(lengthExtra[li]))
                    let d = try z.decode(distances)
                    guard d < distBase.count else { throw Failure.badSymbol }
                    let dist = distBase[d] + (try z.read(distExtra[d]))
                    guard dist <= out.count else { throw Failure.badDistance }
                    for _ in 0..<length { out.append(out[out.count - dist]) }
                }
            default: throw Failure.badHeader
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
