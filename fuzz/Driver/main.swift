// lantern-fuzz TARGET [libFuzzer flags and corpus folders...]
//
// Built by fuzz/run.sh with `-sanitize=fuzzer,address -DLANTERN_FUZZ`; a plain `swift build` makes a
// stub that says how to build it. TARGET is one of LanternFuzzing's FuzzTarget names.
import Foundation
import LanternFuzzing
#if LANTERN_FUZZ
import CFuzzDriver
#endif

nonisolated(unsafe) var selected: FuzzTarget = .gguf

let names = FuzzTarget.allCases.map(\.rawValue).joined(separator: ", ")
guard CommandLine.arguments.count >= 2, let target = FuzzTarget(rawValue: CommandLine.arguments[1]) else {
    FileHandle.standardError.write(Data("usage: lantern-fuzz TARGET [libFuzzer options] [corpus...]; TARGET: \(names)\n".utf8))
    exit(2)
}
selected = target

// lantern-fuzz TARGET --seeds DIR: writes the seed corpus (LanternFuzzing's seeds()) into DIR.
if CommandLine.arguments.count == 4, CommandLine.arguments[2] == "--seeds" {
    let dir = URL(fileURLWithPath: CommandLine.arguments[3])
    try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
    let seeds = target.seeds()
    for (i, seed) in seeds.enumerated() { try seed.write(to: dir.appendingPathComponent(String(format: "seed-%03d", i))) }
    print("\(seeds.count) seeds for \(target.rawValue) in \(dir.path)")
    exit(0)
}

#if LANTERN_FUZZ
// libFuzzer sees argv without the target name.
var arguments = [CommandLine.arguments[0]] + CommandLine.arguments.dropFirst(2)
var cStrings: [UnsafeMutablePointer<CChar>?] = arguments.map { strdup($0) } + [nil]
var argc = Int32(arguments.count)
let status = cStrings.withUnsafeMutableBufferPointer { buffer -> Int32 in
    var argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>? = buffer.baseAddress
    return LLVMFuzzerRunDriver(&argc, &argv) { data, size in
        selected.run(size == 0 ? Data() : Data(bytes: data!, count: size))
        return 0
    }
}
exit(status)
#else
FileHandle.standardError.write(Data("lantern-fuzz was built without libFuzzer: build and run it with fuzz/run.sh \(target.rawValue)\n".utf8))
exit(2)
#endif
