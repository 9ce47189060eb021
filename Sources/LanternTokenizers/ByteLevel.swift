// GPT-2's reversible byte <-> unicode alphabet used by byte-level BPE vocabularies.

/// GPT-2 stores every byte of a token as one printable character so that vocabularies and merges
/// are plain strings: bytes `!`..`~`, `¡`..`¬` and `®`..`ÿ` stand for themselves, and the 68 others
/// (controls, space, DEL, NBSP, soft hyphen) are shifted to U+0100... in byte order
/// (space -> `Ġ` U+0120, newline -> `Ċ` U+010A).
enum ByteLevel {
    /// `scalarForByte[b]` is the character that stands for byte `b`.
    static let scalarForByte: [Unicode.Scalar] = {
        var table = [Unicode.Scalar](repeating: " ", count: 256)
        var shifted: UInt32 = 256
        for b in 0..<256 {
            let printable = (33...126).contains(b) || (161...172).contains(b) || (174...255).contains(b)
            if printable {
                table[b] = Unicode.Scalar(UInt8(b))
            } else {
                // Invariant: 256 + at most 68 stays far below the surrogate range, so this never fails.
                table[b] = Unicode.Scalar(shifted) ?? " "
                shifted += 1
            }
        }
        return table
    }()

    /// Inverse of `scalarForByte`, indexed by scalar value (all of them are below 0x144).
    static let byteForScalar: [Int16] = {
        var table = [Int16](repeating: -1, count: 0x200)
        for (b, s) in scalarForByte.enumerated() { table[Int(s.value)] = Int16(b) }
        return table
    }()

    /// The raw bytes a byte-alphabet string stands for. Characters outside the alphabet (which a
    /// well-formed vocabulary does not contain) are kept as their own UTF-8 rather than dropped.
    static func decode(_ text: String) -> [UInt8] {
        var out: [UInt8] = []
        out.reserveCapacity(text.utf8.count)
        for s in text.unicodeScalars {
            let v = Int(s.value)
            if v < byteForScalar.count, byteForScalar[v] >= 0 {
                out.append(UInt8(byteForScalar[v]))
            } else {
                out.append(contentsOf: String(s).utf8)
            }
        }
        return out
    }

    /// The byte-alphabet string for raw bytes.
    static func encode<S: Sequence<UInt8>>(_ bytes: S) -> String {
        var s = String.UnicodeScalarView()
        for b in bytes { s.append(scalarForByte[Int(b)]) }
        return String(s)
    }
}
