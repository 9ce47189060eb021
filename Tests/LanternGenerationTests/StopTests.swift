import Testing
@testable import LanternGeneration

@Suite struct StopSequenceMatcherTests {
    /// Feeds `chunks`, then `finish()`; returns everything emitted and whether it stopped.
    private func stream(_ stops: [String], _ chunks: [String]) -> (text: String, stopped: Bool, pieces: [String]) {
        var m = StopSequenceMatcher(stops)
        var pieces: [String] = []
        var stopped = false
        for chunk in chunks {
            let (emit, s) = m.append(chunk)
            pieces.append(emit)
            stopped = s
        }
        pieces.append(m.finish())
        return (pieces.joined(), stopped, pieces)
    }

    @Test func noStopsPassesEverythingThrough() {
        var m = StopSequenceMatcher([])
        let out = m.append("hello ")
        #expect(out.emit == "hello " && !out.stopped)
        let r = stream([], ["a", "b<", "/s>"])
        #expect(r.text == "ab</s>" && !r.stopped && r.pieces == ["a", "b<", "/s>", ""])
        let empties = stream([""], ["abc"])
        #expect(empties.text == "abc" && !empties.stopped)
    }

    @Test func stopInsideOneChunk() {
        let r = stream(["</s>"], ["Hello</s>world"])
        #expect(r.text == "Hello" && r.stopped)
    }

    @Test func stopSplitAcrossChunksIsHeldBack() {
        var m = StopSequenceMatcher(["</s>"])
        var out = m.append("Hi <")
        #expect(out.emit == "Hi " && !out.stopped)
        out = m.append("/")
        #expect(out.emit == "" && !out.stopped)
        out = m.append("s>tail")
        #expect(out.emit == "" && out.stopped)
        let after = m.append("more")
        #expect(after.emit == "" && after.stopped)
        #expect(m.finish() == "")
        #expect(m.matchedStop == "</s>")
    }

    @Test func heldPrefixReleasedWhenItDoesNotMatch() {
        var m = StopSequenceMatcher(["</s>"])
        #expect(m.append("a </").emit == "a ")
        let out = m.append("b>")
        #expect(out.emit == "</b>" && !out.stopped)
        #expect(m.append("x <").emit == "x ")
        #expect(m.finish() == "<")
    }

    @Test func overlappingPrefixes() {
        // "ab" could start "abc" again after a failed "aba…".
        let r = stream(["abc"], ["xab", "ab", "c", "z"])
        #expect(r.text == "xab" && r.stopped)
        #expect(r.pieces[0] == "x")
        // Self-overlapping stop: "aab" inside "aaab".
        let s = stream(["aab"], ["a", "a", "a", "b"])
        #expect(s.text == "a" && s.stopped)
    }

    @Test func multipleStopsFirstCompletedWins() {
        let r = stream(["END", "\n\n"], ["one\n", "\ntwo END"])
        #expect(r.text == "one" && r.stopped)
        // "bc" is completed before "abcd" could be, so it wins even though "abcd" starts earlier,
        // whether the text comes in one chunk or two.
        for chunks in [["abcd"], ["abc", "d"]] {
            var m = StopSequenceMatcher(["abcd", "bc"])
            var emitted = ""
            for c in chunks where !m.isStopped { emitted += m.append(c).emit }
            #expect(emitted == "a" && m.isStopped && m.matchedStop == "bc")
        }
        // Same end: the longer stop (earlier start) is the one reported.
        var m = StopSequenceMatcher(["d", "cd"])
        #expect(m.append("abcd").emit == "ab" && m.matchedStop == "cd")
    }

    @Test func longerStopSharingAPrefixIsHeldUntilSettled() {
        var m = StopSequenceMatcher(["<|im_end|>", "<|endoftext|>"])
        #expect(m.append("ok<|").emit == "ok")
        #expect(m.append("end").emit == "")
        let out = m.append("oftext|>")
        #expect(out.emit == "" && out.stopped && m.matchedStop == "<|endoftext|>")
    }

    @Test func multibyteTextAndStops() {
        let r = stream(["。\n"], ["日本", "語。", "\n続き"])
        #expect(r.text == "日本語" && r.stopped)
        let s = stream(["→"], ["é", "a→b"])
        #expect(s.text == "éa" && s.stopped)
        let t = stream(["ü!"], ["aü", "b"])
        #expect(t.text == "aüb" && !t.stopped)
    }

    /// The result must not depend on how the text was chunked: compare one chunk with byte-sized pieces
    /// (per Character here, so each piece stays a valid String) and with pairs.
    @Test(arguments: [
        (["</s>", "\n\nUser:"], "Answer: 42\n\nUser: next</s>"),
        (["aab", "ab"], "xaaab"),
        (["<|im_end|>"], "<|im<|im_end|>"),
        (["STOP"], "no stop here ST"),
        (["é!", "!!"], "café!! ok"),
    ])
    func chunkingDoesNotChangeTheResult(stops: [String], text: String) {
        let whole = stream(stops, [text])
        let perCharacter = stream(stops, text.map { String($0) })
        let chars = Array(text)
        let pairs = stride(from: 0, to: chars.count, by: 2).map { String(chars[$0..<min($0 + 2, chars.count)]) }
        let perPair = stream(stops, pairs)
        #expect(perCharacter.text == whole.text && perCharacter.stopped == whole.stopped)
        #expect(perPair.text == whole.text && perPair.stopped == whole.stopped)
    }

    @Test func finishFlushesHeldText() {
        let r = stream(["STOP"], ["go ST"])
        #expect(r.pieces == ["go ", "ST"] && !r.stopped)
    }
}
