import Foundation
import LanternFormats
import Testing
@testable import LanternModels

/// Every key of real fixture config.json files replaced by a wrong type, a huge, negative or zero
/// value, or removed: the folder either loads or fails with a typed error (`FormatError` from the
/// folder, `ModelError` from the typed configuration); it never traps on an overflow or sizes an
/// allocation by the bad value.
@Suite("Damaged config.json")
struct DamagedConfigTests {
    /// A folder linking the fixture's weights and holding `config` as config.json.
    static func folder(_ fixture: String, config: Data) throws -> String {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("lantern-config-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        try FileManager.default.createSymbolicLink(atPath: dir + "/model.safetensors", withDestinationPath: fixturePath(fixture) + "/model.safetensors")
        try config.write(to: URL(fileURLWithPath: dir + "/config.json"))
        return dir
    }

    static var replacements: [(String, Any?)] { [
        ("removed", nil), ("a string", "x"), ("a list", [1]), ("an object", ["a": 1]), ("null", NSNull()),
        ("2^40", 1 << 40), ("Int.max", Int.max), ("-1", -1), ("0", 0), ("1e300", 1e300), ("true", true),
    ] }

    @Test(arguments: ["llama", "gpt2", "t5", "bert", "bart"])
    func everyKeyDamaged(fixture: String) throws {
        let original = try Data(contentsOf: URL(fileURLWithPath: fixturePath(fixture) + "/config.json"))
        let top = try #require(try JSONSerialization.jsonObject(with: original) as? [String: Any])
        var loaded = 0, rejected = 0
        for key in top.keys.sorted() {
            for (what, value) in Self.replacements {
                var config = top
                config[key] = value
                let dir = try Self.folder(fixture, config: try JSONSerialization.data(withJSONObject: config))
                defer { try? FileManager.default.removeItem(atPath: dir) }
                do {
                    _ = try ModelRegistry.load(folder: ModelFolder(path: dir), compute: ComputeOptions(threads: 1))
                    loaded += 1
                } catch is FormatError {
                    rejected += 1
                } catch is ModelError {
                    rejected += 1
                } catch {
                    Issue.record("\(fixture): \(key) \(what): untyped error \(type(of: error)): \(error)")
                }
            }
        }
        // Unused keys (dropout, transformers_version...) load whatever they hold; sizes do not.
        #expect(loaded > 0 && rejected > 0, "\(fixture): \(loaded) loaded, \(rejected) rejected")
    }
}
