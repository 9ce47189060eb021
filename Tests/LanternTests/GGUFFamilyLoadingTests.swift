import Foundation
import Testing
import LanternModels
@testable import Lantern

/// The facade opens the GGUF conversions of the core's other families (Tests/Fixtures/*/model.gguf)
/// as the runner each needs.
@Suite struct GGUFFamilyLoadingTests {
    @Test func gpt2GGUFOpensAsADecoderWithItsVocabulary() throws {
        let m = try LoadedModel(path: fixturePath("gpt2/model.gguf"), threads: 1)
        #expect(m.architecture == "gpt2" && m.file != nil)
        guard case .decoder = m.network else { Issue.record("gpt2 is not a decoder"); return }
        #expect(try m.model.vocabularySize == 512 && m.tokenizer.vocabularySize <= 512)
        // Token ids in, logits out: the GGUF's greedy step equals the folder's.
        let folder = try LoadedModel(path: fixturePath("gpt2"), threads: 1)
        let ids = [243, 263, 386, 485, 21, 77]
        let a = try m.model.forward(ids, cache: try m.model.makeCache(capacity: 16), rows: .last)
        let b = try folder.model.forward(ids, cache: try folder.model.makeCache(capacity: 16), rows: .last)
        #expect(zip(a, b).allSatisfy { abs($0 - $1) <= 1e-5 })
    }
}
