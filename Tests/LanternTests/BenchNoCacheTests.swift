import Foundation
import Testing
@testable import Lantern

/// `lantern bench --no-kv-cache` through the built executable.
@Suite(.serialized) struct BenchNoCacheTests {
    /// Without the cache every decode step recomputes the whole sequence (here 64-67 tokens instead of
    /// one), so decode is several times slower; the JSON says which mode ran and the cache's size per
    /// token: SmolLM2's 30 layers x 2 (K, V) x 3 KV heads x 64 dims in float32.
    @Test func noKVCacheRecomputesEveryStep() throws {
        let path = try RealModel.get().path
        func bench(_ extra: [String]) throws -> [String: Any] {
            let r = try CLI.run(["bench", "--model", path, "--threads", "2", "--prompt-tokens", "64", "--gen-tokens", "4",
                                 "--reps", "1", "--format", "json"] + extra)
            #expect(r.status == 0, "\(r.stderr)")
            return try CLI.json(r.stdout)
        }
        let cached = try bench([]), uncached = try bench(["--no-kv-cache"])
        #expect(cached["kv_cache"] as? Bool == true && uncached["kv_cache"] as? Bool == false)
        // Layers x (K, V) x kv heads x head size x 2 bytes: the f16 cache quantized weights get by default.
        #expect(cached["kv_type"] as? String == "f16")
        #expect(cached["kv_bytes_per_token"] as? Int == 30 * 2 * 3 * 64 * 2)
        #expect(cached["kv_bytes"] as? Int == 30 * 2 * 3 * 64 * 2 * 68)
        let f32 = try bench(["--kv-type", "f32"]), q8 = try bench(["--kv-type", "q8_0"])
        #expect(f32["kv_type"] as? String == "f32" && f32["kv_bytes_per_token"] as? Int == 30 * 2 * 3 * 64 * 4)
        #expect(q8["kv_type"] as? String == "q8_0" && q8["kv_bytes_per_token"] as? Int == 30 * 2 * 3 * 2 * 34)
        let with = try #require(cached["tg_tps"] as? Double), without = try #require(uncached["tg_tps"] as? Double)
        #expect(with > 3 * without, "with cache \(with) tokens/s, without \(without)")
        let bad = try CLI.run(["bench", "--model", path, "--no-kv-cache", "--parallel", "2"])
        #expect(bad.status != 0 && bad.stderr.contains("--no-kv-cache"))
    }
}
