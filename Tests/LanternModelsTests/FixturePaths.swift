import Foundation

/// `Tests/Fixtures/<name>` found from this source file's location (no bundle resources needed).
func fixturePath(_ name: String) -> String {
    URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .appendingPathComponent("Fixtures").appendingPathComponent(name).path
}

/// Largest |a - b| - rtol * |b| over the elements; <= atol means numpy allclose holds.
func allcloseExcess(_ a: ArraySlice<Float>, _ b: ArraySlice<Float>, rtol: Float) -> Float {
    precondition(a.count == b.count)
    var worst: Float = -.infinity
    for (x, y) in zip(a, b) { worst = max(worst, abs(x - y) - rtol * abs(y)) }
    return worst
}
