import EngramTestSupport
import Testing

#if canImport(Glibc)
import Glibc
#endif

/// The built `engram` binary, run as a user runs it: exit status, standard
/// output and standard error.
func engram(_ arguments: [String], environment: [String: String] = [:]) throws -> ChildProcess.Finished {
    let path = ChildProcess.sibling("engram")
    return try #require(ChildProcess.run(path, arguments, environment: environment), "cannot run \(path)")
}

/// A status that a trap or a crash gives (SIGILL, SIGTRAP, SIGABRT, SIGSEGV, SIGBUS).
func crashed(_ finished: ChildProcess.Finished) -> Bool {
    [128 + SIGILL, 128 + SIGTRAP, 128 + SIGABRT, 128 + SIGSEGV, 128 + SIGBUS].contains(finished.status)
}

func writeLines(_ path: String, _ lines: [String]) {
    TemporaryDirectory.writeFile(path, Array(lines.joined(separator: "\n").utf8) + [10])
}
