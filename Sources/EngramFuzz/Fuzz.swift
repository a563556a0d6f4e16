import EngramFuzzTargets

#if canImport(Glibc)
import Glibc
#endif

// `EngramFuzz`: the fuzz targets of Sources/EngramFuzzTargets as one program
// (Docs/DEVELOPMENT.md, "Fuzzing"; scripts/fuzz runs it).
//
// Built with `-sanitize=fuzzer,address -DENGRAM_LIBFUZZER`, it is a libFuzzer
// binary: the target is named by ENGRAM_FUZZ_TARGET, and libFuzzer's own
// flags follow. Built normally, it makes seeds and replays inputs:
//
//   EngramFuzz seed TARGET DIR          write the target's seed inputs into DIR
//   EngramFuzz replay TARGET FILE...    run each file through the target

/// The target of this libFuzzer run, read once.
nonisolated(unsafe) private var fuzzTarget: FuzzTarget?

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzOneInput(_ data: UnsafePointer<UInt8>?, _ count: Int) -> CInt {
    guard let target = fuzzTarget else { return 0 }
    let bytes = count == 0 ? [] : Array(UnsafeBufferPointer(start: data, count: count))
    // A broken promise (a decoded value that does not round-trip) is a finding like a trap.
    if !target.run(bytes) { abort() }
    return 0
}

private func selectTarget(_ name: String?) -> FuzzTarget? {
    guard let name, let target = FuzzTarget(rawValue: name) else {
        let names = FuzzTarget.allCases.map(\.rawValue).joined(separator: ", ")
        complain("EngramFuzz: name a target (\(names))\n")
        return nil
    }
    return target
}

#if ENGRAM_LIBFUZZER
@_silgen_name("LLVMFuzzerRunDriver")
private func runDriver(
    _ argc: UnsafeMutablePointer<CInt>, _ argv: UnsafeMutablePointer<UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?>,
    _ callback: @convention(c) (UnsafePointer<UInt8>?, Int) -> CInt
) -> CInt

/// SwiftPM links an executable's entry point under this name.
@_cdecl("EngramFuzz_main")
func fuzzMain(_ argc: CInt, _ argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?) -> CInt {
    fuzzTarget = selectTarget(getenv("ENGRAM_FUZZ_TARGET").map { String(cString: $0) })
    guard fuzzTarget != nil else { return 2 }
    var count = argc
    var arguments = argv
    return runDriver(&count, &arguments, fuzzOneInput)
}
#else
@main
struct FuzzCommand {
    static func main() {
        let arguments = CommandLine.arguments
        guard arguments.count >= 4, let target = selectTarget(arguments[2]) else {
            complain("usage: EngramFuzz seed TARGET DIR | EngramFuzz replay TARGET FILE...\n")
            exit(2)
        }
        switch arguments[1] {
        case "seed":
            let directory = arguments[3]
            let scratch = "/tmp/engram-fuzz-seed-\(getpid())"
            mkdir(scratch, 0o700)
            defer { _ = system("rm -rf '\(scratch)'") }
            do {
                for (i, seed) in try target.seeds(scratch: scratch).enumerated() {
                    let path = "\(directory)/seed-\(i)"
                    guard let f = fopen(path, "wb") else { complain("cannot write \(path)\n"); exit(1) }
                    _ = seed.withUnsafeBytes { fwrite($0.baseAddress, 1, $0.count, f) }
                    fclose(f)
                }
            } catch {
                complain("seeding \(target.rawValue) failed: \(error)\n")
                exit(1)
            }
        case "replay":
            var failed = 0
            for path in arguments[3...] {
                guard let bytes = read(path) else { complain("cannot read \(path)\n"); exit(1) }
                if !target.run(bytes) { failed += 1; complain("broken promise: \(path)\n") }
            }
            print("replayed \(arguments.count - 3) inputs through \(target.rawValue): \(failed) broke a promise")
            exit(failed == 0 ? 0 : 1)
        default:
            complain("usage: EngramFuzz seed TARGET DIR | EngramFuzz replay TARGET FILE...\n")
            exit(2)
        }
    }
}
#endif

/// Writes `text` to standard error.
private func complain(_ text: String) {
    var line = text
    line.withUTF8 { _ = write(2, $0.baseAddress, $0.count) }
}
