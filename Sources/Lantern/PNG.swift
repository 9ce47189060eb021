/// A minimal PNG writer (8-bit RGB), self-contained: each row gets the filter (none, sub or up) with
/// the smallest sum of magnitudes, and the zlib stream is one deflate block with the fixed Huffman
/// codes and run-length matches (distance 1, lengths 3...258), which is all a heatmap of flat cells needs.
public enum PNG {
    /// The PNG file of a width x height image; `rgb` holds width * height * 3 bytes, rows top to bottom.
    public static func encode(width: Int, height: Int, rgb: [UInt8]) -> [UInt8] {
        precondition(width > 0 && height > 0 && rgb.count == width * height * 3, "rgb must hold width * height pixels")
        var out: [UInt8] = [0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A]
        var header: [UInt8] = []
        header.appendBigEndian(UInt32(width)); header.appendBigEndian(UInt32(height))
        header += [8, 2, 0, 0, 0]                       // 8 bits, RGB, deflate, adaptive filters, no interlace
        chunk("IHDR", header, into: &out)
        chunk("IDAT", zlib(filtered(width: width, height: height, rgb: rgb)), into: &out)
        chunk("IEND", [], into: &out)
        return out
    }

    /// Rows prefixed by their filter byte.
    static func filtered(width: Int, height: Int, rgb: [UInt8]) -> [UInt8] {
        let stride = width * 3
        var out: [UInt8] = []
        out.reserveCapacity((stride + 1) * height)
        var candidates = [[UInt8]](repeating: [UInt8](repeating: 0, count: stride), count: 3)
        for y in 0..<height {
            let row = y * stride
            for i in 0..<stride {
                let x = rgb[row + i]
                candidates[0][i] = x
                candidates[1][i] = x &- (i >= 3 ? rgb[row + i - 3] : 0)
                candidates[2][i] = x &- (y > 0 ? rgb[row + i - stride] : 0)
            }
            let cost = candidates.map { $0.reduce(0) { $0 + Int(Int8(bitPattern: $1).magnitude) } }
            let best = cost.indices.min { cost[$0] < cost[$1] } ?? 0
            out.append(UInt8(best))               // filter type: 0 none, 1 sub, 2 up
            out += candidates[best]
        }
        return out
    }

    /// A zlib stream (RFC 1950) of `data`: header, one fixed-Huffman deflate block (RFC 1951), Adler-32.
    public static func zlib(_ data: [UInt8]) -> [UInt8] {
        var bits = BitWriter()
        bits.write(1, count: 1)                          // BFINAL
        bits.write(1, count: 2)                          // BTYPE 01: fixed Huffman codes
        var i = 0
        while i < data.count {
            var run = 0
            if i > 0 {
                while run < 258, i + run < data.count, data[i + run] == data[i - 1] { run += 1 }
            }
            if run >= 3 {
                bits.length(run)
                bits.write(0, count: 5)                  // distance code 0: distance 1
                i += run
            } else {
                bits.literal(Int(data[i]))
                i += 1
            }
        }
        bits.literal(256)                                // end of block
        var out: [UInt8] = [0x78, 0x01]
        out += bits.bytes()
        out.appendBigEndian(adler32(data))
        return out
    }

    public static func adler32(_ data: [UInt8]) -> UInt32 {
        var a: UInt32 = 1, b: UInt32 = 0
        for x in data { a = (a + UInt32(x)) % 65521; b = (b + a) % 65521 }
        return b << 16 | a
    }

    public static func crc32<S: Sequence<UInt8>>(_ data: S) -> UInt32 {
        var c: UInt32 = 0xFFFF_FFFF
        for x in data { c = crcTable[Int((c ^ UInt32(x)) & 0xFF)] ^ (c >> 8) }
        return c ^ 0xFFFF_FFFF
    }

    private static let crcTable: [UInt32] = (0..<256).map { n in
        var c = UInt32(n)
        for _ in 0..<8 { c = c & 1 != 0 ? 0xEDB8_8320 ^ (c >> 1) : c >> 1 }
        return c
    }

    private static func chunk(_ type: String, _ data: [UInt8], into out: inout [UInt8]) {
        out.appendBigEndian(UInt32(data.count))
        let typed = Array(type.utf8) + data
        out += typed
        out.appendBigEndian(crc32(typed))
    }
}

/// Deflate's bit order: values LSB first; Huffman codes MSB first.
struct BitWriter {
    private var buffer: [UInt8] = []
    private var acc: UInt64 = 0, used = 0

    mutating func write(_ value: Int, count: Int) {
        acc |= UInt64(value) << UInt64(used)
        used += count
        while used >= 8 { buffer.append(UInt8(acc & 0xFF)); acc >>= 8; used -= 8 }
    }

    /// A Huffman code of `count` bits, most significant bit first.
    mutating func code(_ c: Int, count: Int) {
        var r = 0
        for k in 0..<count where c & (1 << k) != 0 { r |= 1 << (count - 1 - k) }
        write(r, count: count)
    }

    /// A literal/length symbol 0...287 with its fixed code.
    mutating func literal(_ s: Int) {
        switch s {
        case 0..<144: code(0x30 + s, count: 8)
        case 144..<256: code(0x190 + s - 144, count: 9)
        case 256..<280: code(s - 256, count: 7)
        default: code(0xC0 + s - 280, count: 8)
        }
    }

    private static let lengthBase = [3, 4, 5, 6, 7, 8, 9, 10, 11, 13, 15, 17, 19, 23, 27, 31, 35, 43, 51, 59,
                                     67, 83, 99, 115, 131, 163, 195, 227, 258]
    private static let lengthExtra = [0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 2, 2, 2, 2, 3, 3, 3, 3, 4, 4, 4, 4,
                                      5, 5, 5, 5, 0]

    /// A match length 3...258: its symbol 257...285 and extra bits.
    mutating func length(_ n: Int) {
        var k = Self.lengthBase.count - 1
        while Self.lengthBase[k] > n { k -= 1 }
        literal(257 + k)
        if Self.lengthExtra[k] > 0 { write(n - Self.lengthBase[k], count: Self.lengthExtra[k]) }
    }

    func bytes() -> [UInt8] { used > 0 ? buffer + [UInt8(acc & 0xFF)] : buffer }
}

extension Array where Element == UInt8 {
    mutating func appendBigEndian(_ v: UInt32) {
        append(UInt8(v >> 24)); append(UInt8((v >> 16) & 0xFF)); append(UInt8((v >> 8) & 0xFF)); append(UInt8(v & 0xFF))
    }
}
