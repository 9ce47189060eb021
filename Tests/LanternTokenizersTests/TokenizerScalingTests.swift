import Foundation
import Testing
@testable import LanternTokenizers

/// Hostile input to the encoders: invalid UTF-8 and very long texts.
@Suite("Tokenizer input at scale", .serialized)
struct TokenizerScalingTests {
    /// Deterministic varied text: words of several scripts, numbers, punctuation, newlines, and long runs
    /// without spaces (letters, digits, punctuation, one repeated letter, mixed scripts), the inputs on
    /// which a pre-tokenizer regex or a merge loop goes quadratic. `seed` picks the stream; any prefix
    /// of the stream looks like any other, so 1 MB and 4 MB of it have the same mix.
    static func text(bytes: Int, seed: UInt64 = 7) -> String {
        var state = seed
        func next() -> Int {
            state = state &* 6364136223846793005 &+ 1442695040888963407
            return Int(truncatingIfNeeded: state >> 33)
        }
        let words = ["the", "model", "tokenizer", "Lantern", "über", "naïve", "café", "東京", "日本語", "данные", "résumé",
                     "don't", "we'll", "I'm", "x86_64", "2026", "3.14159", "🙂", "👍🏽", "—", "…", "(", ")", "\"quoted\"",
                     "<tag>", "</tag>", "#", "$100", "e-mail", "ﬁ", "Straße", "\t", "  "]
        let letters = Array("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZéñüßøå")
        var out = ""
        out.reserveCapacity(bytes + 1024)
        while out.utf8.count < bytes {
            switch next() % 100 {
            case 0:   // a long run of letters without spaces (2-6 KB)
                for _ in 0..<(2048 + next() % 4096) { out.append(letters[next() % letters.count]) }
            case 1:   // a long run of digits
                for _ in 0..<(1024 + next() % 2048) { out.append(Character(String(next() % 10))) }
            case 2:   // a long run of punctuation
                let marks = Array("!?.,;:-_=+*/\\|@#%^&~")
                for _ in 0..<(1024 + next() % 2048) { out.append(marks[next() % marks.count]) }
            case 3:   // one letter repeated (the worst case for BPE merges)
                out += String(repeating: "a", count: 1024 + next() % 3072)
            case 4:   // mixed scripts glued together
                for _ in 0..<(200 + next() % 400) { out += words[next() % words.count].trimmingCharacters(in: .whitespaces) }
            case 5...9:
                out += "\n"
            default:
                out += words[next() % words.count]
                out += next() % 7 == 0 ? ", " : " "
            }
        }
        return out
    }

    /// Seconds for `encode`, the best of `repeats` runs.
    static func seconds(_ repeats: Int, _ body: () -> Void) -> Double {
        var best = Double.infinity
        for _ in 0..<repeats {
            let start = DispatchTime.now().uptimeNanoseconds
            body()
            best = min(best, Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9)
        }
        return best
    }

    @Test("encoding 4x the text takes about 4x as long (SmolLM2's BPE, both loaders)", .timeLimit(.minutes(3)))
    func linearTime() throws {
        let json = try Fixtures.data("smollm2/tokenizer.json")
        let gguf = try ByteLevelBPETokenizer(tokenizerJSON: json, preTokenizer: "smollm", bosID: 1, eosID: 2)
        let hf = try HFTokenizer(tokenizerJSON: json)
        // 1 MB and 4 MB through the GGUF-style tokenizer; the tokenizer.json pipeline, slower in a debug
        // build, gets 256 KB and 1 MB. The smaller size is timed twice (best of two) against noise.
        let cases: [(String, Int, (String) -> Int)] = [
            ("byte-level BPE", 1 << 20, { gguf.encode($0, parseSpecial: true, addBOS: false).count }),
            ("tokenizer.json pipeline", 1 << 18, { hf.encode($0, parseSpecial: true, addBOS: false).count }),
        ]
        for (name, size, encode) in cases {
            let small = Self.text(bytes: size)
            let large = Self.text(bytes: 4 * size, seed: 8)
            var smallCount = 0, largeCount = 0
            let t1 = Self.seconds(2) { smallCount = encode(small) }
            let t4 = Self.seconds(1) { largeCount = encode(large) }
            let ratio = t4 / t1
            #expect(smallCount > size / 10 && largeCount > 4 * smallCount * 8 / 10, "\(name): \(smallCount), \(largeCount) tokens")
            // Linear is about 4; quadratic would be about 16.
            #expect(ratio < 8, "\(name): \(size) bytes in \(t1) s, 4x in \(t4) s, ratio \(ratio)")
            print("\(name): \(size >> 10) KB \(String(format: "%.2f", t1)) s, 4x \(String(format: "%.2f", t4)) s, ratio \(String(format: "%.2f", ratio))")
        }
    }

    /// Python's `bytes.decode('utf-8', errors='replace')` for each input (CPython 3, as scalar values).
    static let invalidUTF8: [([UInt8], [UInt32])] = [
        ([0x61, 0x62, 0x63, 0xFF, 0x64, 0x65, 0x66], [0x61, 0x62, 0x63, 0xFFFD, 0x64, 0x65, 0x66]),
        ([0xE2, 0x82], [0xFFFD]),
        ([0xE2, 0x82, 0x78], [0xFFFD, 0x78]),
        ([0xF0, 0x80, 0x80], [0xFFFD, 0xFFFD, 0xFFFD]),
        ([0xED, 0xA0, 0x80], [0xFFFD, 0xFFFD, 0xFFFD]),                 // a UTF-16 surrogate
        ([0xC0, 0xAF], [0xFFFD, 0xFFFD]),                               // overlong
        ([0xF4, 0x90, 0x80, 0x80], [0xFFFD, 0xFFFD, 0xFFFD, 0xFFFD]),   // above U+10FFFF
        ([0x63, 0x61, 0x66, 0xC3], [0x63, 0x61, 0x66, 0xFFFD]),
        ([0x80, 0x80, 0x68, 0x69], [0xFFFD, 0xFFFD, 0x68, 0x69]),
        ([0x6F, 0x6B, 0xF0, 0x9F, 0x98], [0x6F, 0x6B, 0xFFFD]),
        ([0xF0, 0x9F, 0x98, 0x80, 0x20, 0x66], [0x1F600, 0x20, 0x66]),
    ]

    @Test("invalid UTF-8 is encoded as Python's errors='replace' decodes it")
    func invalidUTF8() throws {
        let json = try Fixtures.data("smollm2/tokenizer.json")
        let tokenizers: [any Tokenizer] = [
            try ByteLevelBPETokenizer(tokenizerJSON: json, preTokenizer: "smollm", bosID: 1, eosID: 2),
            try HFTokenizer(tokenizerJSON: json),
        ]
        for (bytes, scalars) in Self.invalidUTF8 {
            let replaced = String(String.UnicodeScalarView(scalars.compactMap(Unicode.Scalar.init)))
            #expect(String(repairingUTF8: bytes).unicodeScalars.map(\.value) == scalars, "\(bytes)")
            for t in tokenizers {
                let ids = t.encode(utf8: bytes, parseSpecial: false, addBOS: false)
                #expect(ids == t.encode(replaced, parseSpecial: false, addBOS: false), "\(bytes)")
                #expect(!ids.isEmpty)
            }
        }
        // 64 KB of random bytes: no crash, and the same tokens as the repaired text.
        var state: UInt64 = 1
        let noise = (0..<(1 << 16)).map { _ -> UInt8 in
            state = state &* 6364136223846793005 &+ 1442695040888963407
            return UInt8(truncatingIfNeeded: state >> 56)
        }
        let t = tokenizers[0]
        #expect(t.encode(utf8: noise, parseSpecial: true, addBOS: false) == t.encode(String(repairingUTF8: noise), parseSpecial: true, addBOS: false))
    }
}
