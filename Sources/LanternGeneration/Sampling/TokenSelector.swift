/// The last link of a sampler chain: picks one token from the processed set.
public protocol TokenSelector: Sendable {
    /// Precondition (programmer error): `candidates` is not empty. A chain guarantees this because
    /// its input logits are non-empty and no processor empties a set.
    mutating func select(_ candidates: inout Candidates) -> Int32
}

/// Argmax of the (processed) logits; ties go to the lowest token id, so the result never depends on
/// the set's order.
public struct Greedy: TokenSelector {
    public init() {}

    public mutating func select(_ candidates: inout Candidates) -> Int32 {
        guard let i = candidates.argmaxIndex() else {
            preconditionFailure("Greedy.select called on an empty candidate set")
        }
        return candidates.tokens[i].id
    }
}

/// Draws a token from the softmax of the processed logits with an injected seeded generator:
/// one `nextDouble()` per draw, walked through the cumulative probabilities in the set's order.
/// That order is itself deterministic, so a fixed seed replays the same tokens.
public struct Distribution: TokenSelector {
    public private(set) var generator: SeededGenerator

    public init(generator: SeededGenerator) {
        self.generator = generator
    }

    public init(seed: UInt64) {
        self.init(generator: SeededGenerator(seed: seed))
    }

    public mutating func select(_ candidates: inout Candidates) -> Int32 {
        precondition(!candidates.isEmpty, "Distribution.select called on an empty candidate set")
        candidates.softmax()
        let u = generator.nextDouble()
        var cumulative = 0.0
        var lastPositive = 0
        for (i, t) in candidates.tokens.enumerated() where t.prob > 0 {
            cumulative += Double(t.prob)
            if u < cumulative { return t.id }
            lastPositive = i
        }
        // Rounding left the total a hair below u: the last token with any mass takes the remainder.
        return candidates.tokens[lastPositive].id
    }
}
