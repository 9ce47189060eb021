import Foundation
import Testing
@testable import Lantern
@testable import LanternServer

/// The page in a real browser: Debian's headless Chromium opens `/?demo=...`, which makes the page type
/// the prompt and run the chat and the attention map itself; the screenshot must then show the heatmap
/// (pixels of `Heatmap`'s colour scale, both of its ends) and the reply's tokens coloured by probability
/// (`Page.probabilityColours`, far more of them than the legend holds), and the DOM the finished state.
/// Without Chromium (`apt-get install -y chromium`; .ci/run installs it) the test is cancelled, saying so.
@Suite(.serialized, .timeLimit(.minutes(5))) struct PageBrowserTests {
    static let window = (width: 1280, height: 860)

    @Test func chromiumShowsTheHeatmapAndTheTokenProbabilities() throws {
        guard let chromium = Self.chromium else {
            try Test.cancel("chromium is not installed (apt-get install -y chromium; .ci/run installs it when absent)")
        }
        let server = try LanternServe(["-c", "512", "--threads", "2"])
        defer { server.stop() }
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("lantern-page-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        let url = "http://127.0.0.1:\(server.port)/?demo=The+cat+sat&layer=0&head=0&max_tokens=16&temperature=0&stream=0"

        // The DOM once the page says it is done: the reply is there as probability-coloured token spans.
        let dom = try Self.run(chromium, Self.flags(dir) + ["--dump-dom", url], in: dir)
        guard dom.status == 0, dom.stdout.contains("<body") else {
            try Test.cancel("chromium could not run here (exit \(dom.status)): \(dom.stderr.suffix(800))")
        }
        #expect(dom.stdout.contains(#"data-state="done""#), "the page did not finish within the virtual time budget: \(dom.stdout.suffix(2000))")
        let spans = dom.stdout.components(separatedBy: #"class="tok""#).count - 1
        #expect(spans >= 3, "the reply shows as token spans: \(spans)")
        #expect(dom.stdout.contains("data-p=\""), "token spans carry their probability")
        #expect(!dom.stdout.contains(#"id="error" style="display: block"#), "the page shows an error: \(dom.stdout.suffix(2000))")

        // The screenshot of the same run.
        let file = dir.appendingPathComponent("page.png")
        let shot = try Self.run(chromium, Self.flags(dir) + ["--screenshot=\(file.path)", url], in: dir)
        guard let data = FileManager.default.contents(atPath: file.path) else {
            try Test.cancel("chromium wrote no screenshot (exit \(shot.status)): \(shot.stderr.suffix(800))")
        }
        let png = try ScreenshotPNG([UInt8](data))
        #expect(png.width == Self.window.width && png.height == Self.window.height)

        // The heatmap: "The cat sat" is 3 tokens, a causal map with the largest value (1, row 0) in yellow
        // and the zeros above the diagonal in the darkest colour; the colour bar alone is 16 x 256 pixels
        // at most and holds only a row or two of each end.
        let scale = (0...255).map { Heatmap.colour(Float($0) / 255) }.map { ($0.r, $0.g, $0.b) }
        let heatmap = png.count(near: scale, tolerance: 3)
        let darkest = png.count(near: [scale[0]], tolerance: 3), brightest = png.count(near: [scale[255]], tolerance: 3)
        #expect(heatmap >= 6000, "heatmap pixels: \(heatmap)")
        #expect(darkest >= 1000, "cells at the low end of the scale (the causal zeros): \(darkest)")
        #expect(brightest >= 400, "cells at the high end of the scale: \(brightest)")

        // The probabilities: the legend's four swatches are 9 x 9 pixels; token spans cover far more.
        let colours = Page.probabilityColours.map(\.rgb)
        let perColour = colours.map { png.count(near: [$0], tolerance: 2) }
        #expect(perColour.reduce(0, +) >= 1500, "probability-coloured pixels per colour (>= 0.8, 0.5, 0.2, below): \(perColour)")
    }

    static func flags(_ dir: URL) -> [String] {
        ["--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars", "--force-color-profile=srgb",
         "--no-first-run", "--disable-dev-shm-usage", "--user-data-dir=\(dir.appendingPathComponent("profile").path)",
         "--window-size=\(window.width),\(window.height)", "--virtual-time-budget=60000"]
    }

    /// Debian's `chromium` (or another name for it) on PATH.
    static let chromium: URL? = {
        let path = ProcessInfo.processInfo.environment["PATH"] ?? "/usr/bin:/bin"
        for name in ["chromium", "chromium-browser"] {
            for dir in path.split(separator: ":") {
                let candidate = URL(fileURLWithPath: String(dir)).appendingPathComponent(name)
                if FileManager.default.isExecutableFile(atPath: candidate.path) { return candidate }
            }
        }
        return nil
    }()

    struct Run { var status: Int32; var stdout: String; var stderr: String }

    /// Runs `executable` with its output in files (Chromium logs a lot), killed after `timeout` seconds.
    static func run(_ executable: URL, _ arguments: [String], in dir: URL, timeout: TimeInterval = 150) throws -> Run {
        let out = dir.appendingPathComponent("out-\(UUID().uuidString)"), err = dir.appendingPathComponent("err-\(UUID().uuidString)")
        FileManager.default.createFile(atPath: out.path, contents: nil)
        FileManager.default.createFile(atPath: err.path, contents: nil)
        let p = Process()
        p.executableURL = executable
        p.arguments = arguments
        p.standardOutput = try FileHandle(forWritingTo: out)
        p.standardError = try FileHandle(forWritingTo: err)
        p.standardInput = FileHandle.nullDevice
        try p.run()
        let deadline = Date().addingTimeInterval(timeout)
        while p.isRunning, Date() < deadline { Thread.sleep(forTimeInterval: 0.1) }
        if p.isRunning { p.terminate() }
        p.waitUntilExit()
        func text(_ u: URL) -> String { String(decoding: FileManager.default.contents(atPath: u.path) ?? Data(), as: UTF8.self) }
        return Run(status: p.terminationStatus, stdout: text(out), stderr: text(err))
    }
}
