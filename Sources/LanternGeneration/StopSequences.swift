/// Streaming stop-string detection for generated text.
///
/// Text arrives in chunks (one detokenized piece per step). Any tail of what has arrived that could
/// still grow into a stop string is held back until the next chunk settles it, so a caller never
/// shows the user a partial stop string. When a stop string appears, only the text before it is
/// emitted, and the matcher reports `stopped` from then on.
///
/// Matching is on UTF-8 bytes, like llama.cpp and the OpenAI API. Because both the text and the stop
/// strings are valid UTF-8, a match or a held-back prefix always starts on a Unicode scalar boundary,
/// so every emitted piece is whole scalars. (A grapheme cluster may still be split between two pieces,
/// e.g. a base letter emitted before a combining mark that was held back.)
///
/// Invariants: `held` never contains a whole stop string, and is always a proper prefix of at least
/// one stop string (hence shorter than the longest stop string); after a stop, `held` is empty.
public struct StopSequenceMatcher: Sendable {
    /// The stop strings in use (empty strings dropped: they would match before any text).
    public let stops: [String]
    private let stopBytes: [[UInt8]]
    private var held: [UInt8] = []
    public private(set) var isStopped = false
    /// The stop string that ended the text, once stopped: the one completed first in the text; if two
    /// end at the same place, the longer (then the first in `stops`).
    public private(set) var matchedStop: String?

    public init(_ stops: [String]) {
        self.stops = stops.filter { !$0.isEmpty }
        self.stopBytes = self.stops.map { Array($0.utf8) }
    }

    /// Feeds the next chunk. Returns the text that is now safe to show and whether a stop string has
    /// been reached (after which every call returns `("", true)`).
    public mutating func append(_ text: String) -> (emit: String, stopped: Bool) {
        guard !isStopped else { return ("", true) }
        guard !stopBytes.isEmpty else { return (text, false) }
        var buffer = held
        buffer.append(contentsOf: text.utf8)
        held.removeAll(keepingCapacity: true)

        if let (start, which) = firstCompletedMatch(in: buffer) {
            isStopped = true
            matchedStop = stops[which]
            return (String(decoding: buffer[..<start], as: UTF8.self), true)
        }
        let keep = longestSuffixThatStartsAStop(buffer)
        let cut = buffer.count - keep
        held.append(contentsOf: buffer[cut...])
        return (String(decoding: buffer[..<cut], as: UTF8.self), false)
    }

    /// Ends the stream: returns whatever was held back (it can no longer become a stop string).
    public mutating func finish() -> String {
        defer { held.removeAll() }
        return isStopped ? "" : String(decoding: held, as: UTF8.self)
    }

    /// Start offset and stop index of the stop string that is completed first when `buffer` is read
    /// left to right (smallest end offset; at the same end, the longest stop, i.e. the earliest start).
    /// Choosing by end rather than start makes the result independent of how the text was chunked: it
    /// is what a byte-at-a-time matcher would report.
    private func firstCompletedMatch(in buffer: [UInt8]) -> (Int, Int)? {
        guard !buffer.isEmpty else { return nil }
        for end in 1...buffer.count {
            var best: (start: Int, index: Int)?
            for (k, stop) in stopBytes.enumerated() where stop.count <= end {
                let start = end - stop.count
                guard buffer[start..<end].elementsEqual(stop) else { continue }
                if let b = best, b.start <= start { continue }
                best = (start, k)
            }
            if let best { return (best.start, best.index) }
        }
        return nil
    }

    /// Length of the longest suffix of `buffer` that is a proper prefix of some stop string.
    private func longestSuffixThatStartsAStop(_ buffer: [UInt8]) -> Int {
        let longest = stopBytes.map(\.count).max() ?? 0
        var length = min(buffer.count, longest - 1)
        while length > 0 {
            let suffix = buffer[(buffer.count - length)...]
            if stopBytes.contains(where: { $0.count > length && $0[..<length].elementsEqual(suffix) }) {
                return length
            }
            length -= 1
        }
        return 0
    }
}
