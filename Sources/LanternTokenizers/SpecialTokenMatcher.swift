// Finding special tokens written in the text before the model's own algorithm sees it.

/// A piece of the input after special-token matching: a token id, or a byte range still to tokenize.
enum Fragment: Equatable { case special(Int), text(Range<Int>) }

/// llama.cpp's `tokenizer_st_partition`, without its cost of one scan of the text per special token
/// (Gemma 3 has 6,400 of them).
///
/// llama.cpp's rule: for each special token in turn, longest text first (ties here: lower id first),
/// every occurrence left to right inside text not yet claimed becomes that token. An occurrence is
/// therefore taken exactly when it does not overlap one taken before it in that order, so all
/// occurrences are found in one pass over the text with a trie, then accepted in that order against
/// a map of claimed bytes. Control and unknown tokens take part only with `parseSpecial`;
/// user-defined ones always do.
///
/// Invariant: `priority` is sorted by (length descending, id ascending); a trie node's `terminal` is
/// the index in `priority` of the token ending there, or -1.
struct SpecialTokenMatcher: Sendable {
    private struct Candidate: Sendable {
        var id: Int
        var length: Int
        var alwaysMatched: Bool
    }

    private let priority: [Candidate]
    /// First-byte table: the trie node for a one-byte prefix, or -1.
    private let root: [Int32]
    /// `(node << 8 | byte)` -> child node.
    private let children: [UInt64: Int32]
    private let terminal: [Int32]

    var isEmpty: Bool { priority.isEmpty }

    /// - Parameter tokens: candidate special tokens; empty texts are ignored.
    init(_ tokens: [(id: Int, bytes: [UInt8], alwaysMatched: Bool)]) {
        let sorted = tokens.filter { !$0.bytes.isEmpty }
            .sorted { $0.bytes.count != $1.bytes.count ? $0.bytes.count > $1.bytes.count : $0.id < $1.id }
        priority = sorted.map { Candidate(id: $0.id, length: $0.bytes.count, alwaysMatched: $0.alwaysMatched) }

        var root = [Int32](repeating: -1, count: 256)
        var children: [UInt64: Int32] = [:]
        var terminal: [Int32] = []
        for (rank, token) in sorted.enumerated() {
            var node: Int32 = -1
            for (depth, byte) in token.bytes.enumerated() {
                if depth == 0 {
                    if root[Int(byte)] < 0 { root[Int(byte)] = Int32(terminal.count); terminal.append(-1) }
                    node = root[Int(byte)]
                } else {
                    let key = UInt64(node) << 8 | UInt64(byte)
                    if let child = children[key] {
                        node = child
                    } else {
                        let child = Int32(terminal.count)
                        terminal.append(-1)
                        children[key] = child
                        node = child
                    }
                }
            }
            // Equal texts cannot both be special (the vocabulary maps a text to one id); keep the first.
            if terminal[Int(node)] < 0 { terminal[Int(node)] = Int32(rank) }
        }
        self.root = root
        self.children = children
        self.terminal = terminal
    }

    func partition(_ bytes: [UInt8], parseSpecial: Bool) -> [Fragment] {
        let n = bytes.count
        guard n > 0 else { return [] }
        guard !priority.isEmpty else { return [.text(0..<n)] }

        // Every occurrence of every candidate, as (rank << 32 | start): sorting these gives llama.cpp's order.
        var occurrences: [UInt64] = []
        for start in 0..<n {
            var node = root[Int(bytes[start])]
            var end = start
            while node >= 0 {
                let rank = terminal[Int(node)]
                if rank >= 0 && (parseSpecial || priority[Int(rank)].alwaysMatched) {
                    occurrences.append(UInt64(rank) << 32 | UInt64(start))
                }
                end += 1
                guard end < n, let child = children[UInt64(node) << 8 | UInt64(bytes[end])] else { break }
                node = child
            }
        }
        guard !occurrences.isEmpty else { return [.text(0..<n)] }
        occurrences.sort()

        var claimed = [Bool](repeating: false, count: n)
        var accepted: [(start: Int, length: Int, id: Int)] = []
        for o in occurrences {
            let candidate = priority[Int(o >> 32)]
            let start = Int(o & 0xFFFF_FFFF)
            let span = start..<(start + candidate.length)
            guard !claimed[span].contains(true) else { continue }
            for i in span { claimed[i] = true }
            accepted.append((start, candidate.length, candidate.id))
        }
        accepted.sort { $0.start < $1.start }

        var fragments: [Fragment] = []
        fragments.reserveCapacity(2 * accepted.count + 1)
        var position = 0
        for a in accepted {
            if a.start > position { fragments.append(.text(position..<a.start)) }
            fragments.append(.special(a.id))
            position = a.start + a.length
        }
        if position < n { fragments.append(.text(position..<n)) }
        return fragments
    }
}
