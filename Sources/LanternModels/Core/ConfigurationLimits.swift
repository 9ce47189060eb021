/// Upper bounds far above any real checkpoint; they keep corrupt configurations from overflowing
/// products or asking for absurd allocations before a tensor is even looked at.
enum ConfigurationLimits {
    static func check(_ sizes: [(name: String, value: Int, limit: Int)]) throws(ModelError) {
        for (name, v, limit) in sizes {
            guard v > 0 else { throw .invalidConfiguration("\(name) must be positive, found \(v)") }
            guard v <= limit else { throw .invalidConfiguration("\(name) \(v) exceeds \(limit)") }
        }
    }
}

extension KeyedDecodingContainer {
    /// The value at `key`, or `fallback` when the checkpoint's config leaves it out (a present value of the
    /// wrong type is still an error naming the key). The one rule every typed configuration decodes by.
    func value<T: Decodable>(_ type: T.Type, _ key: Key, or fallback: @autoclosure () throws -> T) throws -> T {
        try decodeIfPresent(type, forKey: key) ?? fallback()
    }
}
