import Foundation
import LanternFormats

/// Upper bounds far above any real checkpoint; they keep corrupt configurations from overflowing
/// products or asking for absurd allocations before a tensor is even looked at.
enum ConfigurationLimits {
    static func check(_ sizes: [(name: String, value: Int, limit: Int)]) throws(ModelError) {
        for (name, v, limit) in sizes {
            guard v > 0 else { throw .invalidConfiguration("\(name) must be positive, found \(v)") }
            guard v <= limit else { throw .invalidConfiguration("\(name) \(v) exceeds \(limit)") }
        }
    }

    /// `a * b`, or `Int.max` when it overflows: for defaults derived from a size not yet checked
    /// (`4 * n_embd`), so a hostile size fails the limit check by name instead of trapping.
    static func saturatingProduct(_ a: Int, _ b: Int) -> Int {
        let (p, overflow) = a.multipliedReportingOverflow(by: b)
        return overflow ? Int.max : p
    }
}

extension KeyedDecodingContainer {
    /// The value at `key`, or `fallback` when the checkpoint's config leaves it out (a present value of the
    /// wrong type is still an error naming the key). The one rule every typed configuration decodes by.
    func value<T: Decodable>(_ type: T.Type, _ key: Key, or fallback: @autoclosure () throws -> T) throws -> T {
        try decodeIfPresent(type, forKey: key) ?? fallback()
    }
}

/// A folder's config.json decoded as `C`; any decoding failure becomes `ModelError.invalidConfiguration`
/// naming the file (a `ModelError` the configuration throws itself passes through unchanged).
func decodeConfiguration<C: Decodable>(_ type: C.Type, from folder: ModelFolder) throws -> C {
    do { return try JSONDecoder().decode(C.self, from: folder.configData) } catch let e as ModelError {
        throw e
    } catch {
        throw ModelError.invalidConfiguration("\(folder.configPath): \(error)")
    }
}
