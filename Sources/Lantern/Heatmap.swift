import Foundation

/// Draws an `AttentionMap` as a heatmap: one panel per head (a grid of panels for all heads of a layer),
/// the tokens as row labels (left) and column labels (top, reading upwards), a title per panel and a
/// colour bar with the range of the probabilities shown. The same layout feeds SVG and PNG.
public enum Heatmap {
    /// SVG text of the map (labels keep their Unicode text; a space shows as `·`).
    public static func svg(_ map: AttentionMap) -> String {
        var canvas = SVGCanvas()
        let (w, h) = draw(map, on: &canvas)
        return canvas.document(width: w, height: h)
    }

    /// PNG bytes of the map, labels in a built-in 5x7 bitmap font at twice its size (characters outside
    /// ASCII draw as `?`).
    public static func png(_ map: AttentionMap) -> [UInt8] {
        var probe = LayoutProbe(charWidth: BitmapCanvas.scale * 6, lineHeight: BitmapCanvas.scale * 8 + 2)
        let (w, h) = draw(map, on: &probe)
        var canvas = BitmapCanvas(width: w, height: h)
        _ = draw(map, on: &canvas)
        return PNG.encode(width: w, height: h, rgb: canvas.pixels)
    }

    /// A label as drawn: whitespace made visible, at most `maxLabel` characters.
    static func visible(_ s: String) -> String {
        var out = ""
        for c in s {
            switch c {
            case " ": out += "·"
            case "\n": out += "\\n"
            case "\t": out += "\\t"
            case "\r": out += "\\r"
            default: out.append(c.isASCII && (c.asciiValue ?? 0) < 32 ? "?" : c)
            }
        }
        return out.count <= maxLabel ? out : String(out.prefix(maxLabel - 2)) + ".."
    }

    static let maxLabel = 12

    /// viridis, from its five quartile colours (0 dark purple ... 1 yellow).
    static func colour(_ t: Float) -> RGB {
        let stops: [(Float, Float, Float)] = [(68, 1, 84), (59, 82, 139), (33, 145, 140), (94, 201, 98), (253, 231, 37)]
        let x = min(max(t.isFinite ? t : 0, 0), 1) * Float(stops.count - 1)
        let i = min(Int(x), stops.count - 2), f = x - Float(i)
        let a = stops[i], b = stops[i + 1]
        func mix(_ p: Float, _ q: Float) -> UInt8 { UInt8((p + (q - p) * f).rounded()) }
        return RGB(mix(a.0, b.0), mix(a.1, b.1), mix(a.2, b.2))
    }

    /// A colour-bar label: three decimals, or two significant digits for a small non-zero end.
    static func number(_ v: Float) -> String {
        String(format: v == 0 || abs(v) >= 0.001 ? "%.3f" : "%.1e", Double(v))
    }

    /// Lays the map out on `canvas`; returns the image size.
    static func draw<C: HeatmapCanvas>(_ map: AttentionMap, on canvas: inout C) -> (Int, Int) {
        let cw = canvas.charWidth, lh = canvas.lineHeight
        let cell = max(lh + 2, 16)
        let rowLabels = map.rowLabels.map(visible), columnLabels = map.columnLabels.map(visible)
        let rowLabelWidth = (rowLabels.map(\.count).max() ?? 1) * cw + 6
        let columnLabelHeight = (columnLabels.map(\.count).max() ?? 1) * cw + 6
        let rows = map.rowLabels.count, cols = map.columnLabels.count
        let panelW = rowLabelWidth + cols * cell + cell, panelH = lh + 4 + columnLabelHeight + rows * cell + cell
        let perRow = max(1, Int(Double(map.heads.count).squareRoot().rounded(.up)))
        let gridRows = (map.heads.count + perRow - 1) / perRow
        let margin = 8, titleH = lh + 8
        let (lo, hi) = map.range
        let span = hi > lo ? hi - lo : 1
        let barX = margin + perRow * panelW, barW = cell
        let barTop = margin + titleH + lh + 4 + columnLabelHeight
        let barH = max(rows * cell, 8 * cell)
        let width = barX + barW + 8 * cw + margin
        let height = max(margin + titleH + gridRows * panelH, barTop + barH + lh) + margin
        canvas.rect(x: 0, y: 0, w: width, h: height, RGB(255, 255, 255))
        let kind = map.cross ? "cross-attention" : "self-attention"
        let heads = map.heads.count == 1 ? "head \(map.heads[0])" : "heads \(map.heads.first ?? 0)-\(map.heads.last ?? 0)"
        canvas.text("layer \(map.layer) \(kind), \(heads)", x: margin, y: margin, w: width - 2 * margin, h: lh, end: false, vertical: false)
        for (i, head) in map.heads.enumerated() {
            let px = margin + (i % perRow) * panelW, py = margin + titleH + (i / perRow) * panelH
            let gx = px + rowLabelWidth, gy = py + lh + 4 + columnLabelHeight
            canvas.text("head \(head)", x: gx, y: py, w: cols * cell, h: lh, end: false, vertical: false)
            for (c, label) in columnLabels.enumerated() {
                canvas.text(label, x: gx + c * cell + (cell - lh) / 2, y: py + lh + 4, w: lh, h: columnLabelHeight - 4,
                            end: false, vertical: true)
            }
            for (r, label) in rowLabels.enumerated() {
                canvas.text(label, x: px, y: gy + r * cell + (cell - lh) / 2, w: rowLabelWidth - 6, h: lh, end: true, vertical: false)
                let row = r < map.weights[i].count ? map.weights[i][r] : []
                for c in 0..<cols {
                    let v = c < row.count ? row[c] : 0
                    canvas.rect(x: gx + c * cell, y: gy + r * cell, w: cell, h: cell, colour((v - lo) / span))
                }
            }
        }
        // The colour bar: top = largest probability, bottom = smallest.
        let steps = barH
        for s in 0..<steps {
            canvas.rect(x: barX, y: barTop + s, w: barW, h: 1, colour(1 - Float(s) / Float(max(1, steps - 1))))
        }
        canvas.text(number(hi), x: barX + barW + 4, y: barTop, w: 8 * cw, h: lh, end: false, vertical: false)
        canvas.text(number((lo + hi) / 2), x: barX + barW + 4, y: barTop + (barH - lh) / 2, w: 8 * cw, h: lh, end: false, vertical: false)
        canvas.text(number(lo), x: barX + barW + 4, y: barTop + barH - lh, w: 8 * cw, h: lh, end: false, vertical: false)
        return (width, height)
    }
}

struct RGB: Equatable {
    var r, g, b: UInt8
    init(_ r: UInt8, _ g: UInt8, _ b: UInt8) { self.r = r; self.g = g; self.b = b }
    var hex: String { String(format: "#%02x%02x%02x", r, g, b) }
}

/// What the layout draws on. Text sits in a box: horizontal text starts at its left (or ends at its
/// right with `end`), vertical text reads upwards from the box's bottom.
protocol HeatmapCanvas {
    var charWidth: Int { get }
    var lineHeight: Int { get }
    mutating func rect(x: Int, y: Int, w: Int, h: Int, _ colour: RGB)
    mutating func text(_ s: String, x: Int, y: Int, w: Int, h: Int, end: Bool, vertical: Bool)
}

/// Measures only (the PNG's size before its pixels exist).
struct LayoutProbe: HeatmapCanvas {
    let charWidth: Int, lineHeight: Int
    mutating func rect(x: Int, y: Int, w: Int, h: Int, _ colour: RGB) {}
    mutating func text(_ s: String, x: Int, y: Int, w: Int, h: Int, end: Bool, vertical: Bool) {}
}

struct SVGCanvas: HeatmapCanvas {
    let charWidth = 8, lineHeight = 14
    var body = ""

    mutating func rect(x: Int, y: Int, w: Int, h: Int, _ colour: RGB) {
        body += "<rect x=\"\(x)\" y=\"\(y)\" width=\"\(w)\" height=\"\(h)\" fill=\"\(colour.hex)\"/>\n"
    }

    mutating func text(_ s: String, x: Int, y: Int, w: Int, h: Int, end: Bool, vertical: Bool) {
        let t = Self.escape(s)
        if vertical {
            let cx = x + w / 2, by = y + h
            body += "<text x=\"\(cx)\" y=\"\(by)\" transform=\"rotate(-90 \(cx) \(by))\" dominant-baseline=\"central\">\(t)</text>\n"
        } else {
            let ax = end ? x + w : x, cy = y + h / 2
            body += "<text x=\"\(ax)\" y=\"\(cy)\" dominant-baseline=\"central\"\(end ? " text-anchor=\"end\"" : "")>\(t)</text>\n"
        }
    }

    func document(width: Int, height: Int) -> String {
        "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"\(width)\" height=\"\(height)\" viewBox=\"0 0 \(width) \(height)\" "
            + "font-family=\"monospace\" font-size=\"12\">\n" + body + "</svg>\n"
    }

    static func escape(_ s: String) -> String {
        var out = ""
        for c in s {
            switch c {
            case "&": out += "&amp;"
            case "<": out += "&lt;"
            case ">": out += "&gt;"
            case "\"": out += "&quot;"
            default: out.append(c)
            }
        }
        return out
    }
}

/// An RGB raster with the bitmap font.
struct BitmapCanvas: HeatmapCanvas {
    static let scale = 2
    let charWidth = BitmapCanvas.scale * 6, lineHeight = BitmapCanvas.scale * 8 + 2
    let width: Int, height: Int
    var pixels: [UInt8]

    init(width: Int, height: Int) {
        self.width = width
        self.height = height
        pixels = [UInt8](repeating: 255, count: width * height * 3)
    }

    mutating func set(_ x: Int, _ y: Int, _ c: RGB) {
        guard x >= 0, y >= 0, x < width, y < height else { return }
        let i = (y * width + x) * 3
        pixels[i] = c.r; pixels[i + 1] = c.g; pixels[i + 2] = c.b
    }

    mutating func rect(x: Int, y: Int, w: Int, h: Int, _ colour: RGB) {
        for yy in max(0, y)..<min(height, y + h) {
            for xx in max(0, x)..<min(width, x + w) { set(xx, yy, colour) }
        }
    }

    mutating func text(_ s: String, x: Int, y: Int, w: Int, h: Int, end: Bool, vertical: Bool) {
        let k = Self.scale, glyphH = BitmapFont.height * k
        let ink = RGB(0, 0, 0)
        for (i, c) in s.enumerated() {
            for gy in 0..<BitmapFont.height {
                for gx in 0..<BitmapFont.width where BitmapFont.pixel(c, x: gx, y: gy) {
                    for dy in 0..<k {
                        for dx in 0..<k {
                            if vertical {
                                // Rotated a quarter turn anticlockwise: glyph x goes up, glyph y goes right.
                                let x0 = x + (w - glyphH) / 2, bottom = y + h - i * charWidth
                                set(x0 + gy * k + dy, bottom - 1 - (gx * k + dx), ink)
                            } else {
                                let x0 = (end ? x + w - s.count * charWidth : x) + i * charWidth
                                let y0 = y + (h - glyphH) / 2
                                set(x0 + gx * k + dx, y0 + gy * k + dy, ink)
                            }
                        }
                    }
                }
            }
        }
    }
}
