import ArgumentParser

/// `engram`: the command-line front of the Engram vector store.
@main
struct EngramCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "engram",
        abstract: "Engram: a vector store with in-memory SIMD indexes and PostgreSQL persistence.",
        subcommands: [BenchCommand.self, ImportCommand.self, SearchCommand.self, StatsCommand.self, DeleteCommand.self, CheckpointCommand.self, RestoreCommand.self, VerifyCommand.self, MemoryCommand.self]
    )
}

/// Writes one line to standard output and flushes it at once.
func printAndFlush(_ line: String) {
    var text = line + "\n"
    text.withUTF8 { bytes in _ = write(1, bytes.baseAddress, bytes.count) }
}

/// Writes one line to standard error (progress and error messages).
func printToStandardError(_ line: String) {
    var text = line
    if !text.hasSuffix("\n") { text += "\n" }
    text.withUTF8 { bytes in _ = write(2, bytes.baseAddress, bytes.count) }
}

#if canImport(Glibc)
import Glibc
#endif
