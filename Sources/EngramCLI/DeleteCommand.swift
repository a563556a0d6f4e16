import ArgumentParser
import EngramEngine
import EngramTools

#if canImport(Glibc)
import Glibc
#endif

/// `engram delete`: delete records by id.
struct DeleteCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "delete", abstract: "Delete records of a collection by id.",
        discussion: "Ids come from --id (repeatable) or --file (one id per line; blank lines are skipped). Ids not present are ignored. Prints how many records were deleted once the delete is durable.")

    @OptionGroup var dataDirectory: DataDirectoryOptions
    @Option var collection: String
    @Option(name: .customLong("id"), parsing: .unconditionalSingleValue, help: "An id to delete (repeatable).") var ids: [String] = []
    @Option(help: "A file of ids, one per line.") var file: String?
    @Option(help: "Ids per logged batch.") var batch: Int = 10_000
    @OptionGroup var output: OutputOptions

    private struct Deleted: Encodable { var requested: Int; var deleted: Int; var lsn: UInt64 }

    func validate() throws {
        guard ids.isEmpty != (file == nil) else { throw ValidationError("give --id (one or more) or --file, not both") }
        guard (1...100_000).contains(batch) else { throw ValidationError("--batch must be between 1 and 100000") }
    }

    func run() throws {
        var all = ids
        if let file {
            guard let bytes = readWholeFile(file) else { throw ValidationError("cannot read \(file): \(String(cString: strerror(errno)))") }
            guard let text = String(validatingUTF8: bytes.map { CChar(bitPattern: $0) } + [0]), !bytes.contains(0) else {
                throw ValidationError("\(file) is not UTF-8 text")
            }
            all = text.split(separator: "\n", omittingEmptySubsequences: true).map { String($0).trimmingNewline }.filter { !$0.isEmpty }
        }
        let store = try Store.open(directory: dataDirectory.path)
        guard store.collectionNames.contains(collection) else {
            try store.close()
            throw ValidationError("no collection '\(collection)' in \(dataDirectory.path)")
        }
        var deleted = 0
        var start = 0
        while start < all.count {
            let end = min(all.count, start + batch)
            deleted += try store.delete(collection, ids: Array(all[start..<end]))
            start = end
        }
        try store.close()
        printAndFlush(output.json ? JSONLine.encode(Deleted(requested: all.count, deleted: deleted, lsn: store.lastLSN)) : "deleted \(deleted) of \(all.count) ids (durable, LSN \(store.lastLSN))")
    }
}
