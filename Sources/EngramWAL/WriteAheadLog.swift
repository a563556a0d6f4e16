#if canImport(Glibc)
import Glibc
#endif

/// A segmented, checksummed, LZ4-compressed write-ahead log of byte records.
///
/// This layer only handles bytes: records are (LSN, type, payload); the
/// engine above defines the types and payloads. LSNs start at 1 and rise by
/// one per record. Segment files are named by their first LSN
/// (`wal-00000000000000000001.seg`) and hold at most `segmentBytes`
/// (a single larger record gets a segment of its own).
///
/// Recovery (``open(directory:options:replay:)``): every record is checked
/// (CRC-32C, lengths, LSN sequence). A damaged or incomplete record at the
/// end of the last segment is a torn tail — a crash mid-write — and is cut
/// off (reported in ``RecoveryReport``). Damage anywhere else is
/// ``WALError/Kind/corrupt`` naming the segment and offset.
///
/// Durability: with `.fsync` (the default) ``append(type:payload:)`` returns
/// only after `fsync`; with `.osBuffered` the bytes are in the OS page cache
/// (they survive a process crash, not a power loss) until ``sync()``.
/// After a failed `fsync` the log is poisoned: every later call throws
/// `.poisoned` until it is reopened, because the kernel may have dropped the
/// dirty pages it failed to write.
///
/// Concurrency: not synchronised; the engine serialises writers (and does
/// group commit above this layer).
public final class WriteAheadLog {
    public enum Durability: String, Sendable {
        /// `fsync` before `append` returns.
        case fsync
        /// Left to the OS until `sync()`.
        case osBuffered
    }

    public struct Options: Sendable {
        public var segmentBytes: Int
        public var durability: Durability
        /// The system calls the log writes with; tests inject faults here.
        public var io: WALFileIO

        /// Open a damaged log anyway by cutting it at the first damaged
        /// record: that segment is copied aside (`<name>.damaged`) and cut,
        /// later segments are renamed aside, and the records in them are
        /// lost (reported in ``RecoveryReport/repaired``). Off by default:
        /// damage before the tail is an error.
        public var repair: Bool
        /// Read the log without changing a byte: the directory must exist, a
        /// torn tail is skipped rather than cut, and appends are refused.
        public var readOnly: Bool

        public init(
            segmentBytes: Int = 64 << 20, durability: Durability = .fsync, io: WALFileIO = .posix, repair: Bool = false,
            readOnly: Bool = false
        ) {
            self.segmentBytes = segmentBytes
            self.durability = durability
            self.io = io
            self.repair = repair
            self.readOnly = readOnly
        }
    }

    /// What opening the log found.
    public struct RecoveryReport: Sendable, Equatable {
        public var segments: Int
        public var records: Int
        /// The segment whose torn tail was cut off, the offset, and how many bytes went.
        public var truncatedTail: (segment: String, offset: Int, bytes: Int)?
        /// With ``Options/repair``: where the log was cut, why, and the files set aside.
        public var repaired: (segment: String, offset: Int, reason: String, keptAside: [String])?

        public static func == (a: RecoveryReport, b: RecoveryReport) -> Bool {
            a.segments == b.segments && a.records == b.records
                && a.truncatedTail?.segment == b.truncatedTail?.segment
                && a.truncatedTail?.offset == b.truncatedTail?.offset && a.truncatedTail?.bytes == b.truncatedTail?.bytes
                && a.repaired?.segment == b.repaired?.segment && a.repaired?.offset == b.repaired?.offset
        }
    }

    public let directory: String
    public let options: Options
    /// The largest payload one record may carry, in bytes.
    public static let maxPayloadBytes = WALFormat.maxPayload
    /// The largest LSN a record may carry (`Int64.max`, what PostgreSQL's `bigint` holds).
    public static let maxLSN = WALFormat.maxLSN
    /// The LSN the next record will get.
    public private(set) var nextLSN: UInt64
    private var segments: [(firstLSN: UInt64, path: String)]
    private var fd: Int32 = -1
    private var size = 0
    private var poisoned = false

    private init(directory: String, options: Options, segments: [(UInt64, String)], nextLSN: UInt64) {
        self.directory = directory
        self.options = options
        self.segments = segments
        self.nextLSN = nextLSN
    }

    deinit { if fd >= 0 { close(fd) } }

    static func segmentName(_ lsn: UInt64) -> String {
        let digits = String(lsn)
        return "wal-" + String(repeating: "0", count: Swift.max(0, 20 - digits.count)) + digits + ".seg"
    }

    /// Opens (creating if needed) the log in `directory`, replays every
    /// record in LSN order through `replay`, cuts off a torn tail, and
    /// returns the log ready to append.
    public static func open(
        directory: String, options: Options = Options(), replay: (WALRecordView) throws -> Void = { _ in }
    ) throws -> (WriteAheadLog, RecoveryReport) {
        guard options.segmentBytes >= 4096 else {
            throw WALError(kind: .invalidArgument, reason: "segmentBytes must be at least 4096")
        }
        guard !(options.readOnly && options.repair) else {
            throw WALError(kind: .invalidArgument, reason: "a read-only log cannot be repaired")
        }
        if options.readOnly {
            var st = stat()
            guard stat(directory, &st) == 0 else { throw ioError(directory, "cannot open the log directory") }
        } else {
            try makeDirectory(directory)
        }
        var found = [(UInt64, String)]()
        guard let dir = opendir(directory) else { throw ioError(directory, "cannot list the log directory") }
        while let entry = readdir(dir) {
            let name = withUnsafeBytes(of: entry.pointee.d_name) { String(decoding: $0.prefix { $0 != 0 }, as: UTF8.self) }
            guard name.hasPrefix("wal-"), name.hasSuffix(".seg"), name.count == 28,
                  let lsn = UInt64(name.dropFirst(4).dropLast(4)) else { continue }
            found.append((lsn, "\(directory)/\(name)"))
        }
        closedir(dir)
        found.sort { $0.0 < $1.0 }
        if let (lsn, path) = found.last, lsn > WALFormat.maxLSN {
            throw WALError(kind: .corrupt, segment: path, offset: 0, reason: "named for LSN \(lsn), beyond the largest LSN \(WALFormat.maxLSN)")
        }

        var report = RecoveryReport(segments: found.count, records: 0, truncatedTail: nil)
        var expected: UInt64? = nil
        var headerless: String? = nil
        // Each segment mapped while it is read; one buffer for decompressed payloads, reused throughout.
        let scratch = ReadBuffer()
        for (index, (firstLSN, path)) in found.enumerated() {
            let isLast = index == found.count - 1
            let segment = try MappedSegment(path)
            defer { withExtendedLifetime(segment) {} }
            let bytes = segment.bytes
            let recordsBefore = report.records
            let end: Int
            do {
                end = try scan(bytes, path: path, firstLSN: firstLSN, expected: &expected, isLast: isLast,
                               scratch: scratch, replay: replay, report: &report)
            } catch let damage as WALError where damage.kind == .corrupt && options.repair {
                let cut = damage.offset ?? 0
                let keepSegment = cut >= WALFormat.segmentHeaderSize && (expected == nil || expected == firstLSN)
                var aside = [String]()
                if keepSegment {
                    try copyAside(path, bytes: bytes)
                    aside.append(path + ".damaged")
                    let fd = Glibc.open(path, O_WRONLY | O_CLOEXEC)
                    guard fd >= 0, ftruncate(fd, off_t(cut)) == 0, fsync(fd) == 0 else {
                        if fd >= 0 { close(fd) }
                        throw ioError(path, "cannot cut the damaged segment")
                    }
                    close(fd)
                    expected = firstLSN + UInt64(report.records - recordsBefore)
                } else if expected == nil {
                    expected = firstLSN  // LSNs go on from where the lost segment began
                }
                for (_, later) in found[(keepSegment ? index + 1 : index)...] {
                    guard rename(later, later + ".damaged") == 0 else { throw ioError(later, "cannot set a damaged segment aside") }
                    aside.append(later + ".damaged")
                }
                found = Array(found[..<(keepSegment ? index + 1 : index)])
                report.repaired = (path, cut, damage.reason, aside)
                headerless = nil
                break
            }
            if options.readOnly {
                if end < bytes.count { report.truncatedTail = (path, end, bytes.count - end) }  // reported, left in place
            } else if end == 0 {
                headerless = path
                report.truncatedTail = (path, 0, bytes.count)
            } else if end < bytes.count {
                // Torn tail of the last segment: cut it off, durably.
                let fd = Glibc.open(path, O_WRONLY | O_CLOEXEC)
                guard fd >= 0, ftruncate(fd, off_t(end)) == 0, fsync(fd) == 0 else {
                    if fd >= 0 { close(fd) }
                    throw ioError(path, "cannot truncate the torn tail")
                }
                close(fd)
                report.truncatedTail = (path, end, bytes.count - end)
            }
        }
        if let headerless {
            guard unlink(headerless) == 0 else { throw ioError(headerless, "cannot remove a headerless segment") }
            found.removeLast()
        }
        let next = expected ?? 1
        let log = WriteAheadLog(directory: directory, options: options, segments: found, nextLSN: next)
        if options.readOnly {
            log.poisoned = true  // refuses every change
            return (log, report)
        }
        if let last = found.last {
            log.fd = Glibc.open(last.1, O_WRONLY | O_APPEND | O_CLOEXEC)
            guard log.fd >= 0 else { throw ioError(last.1, "cannot open for appending") }
            var st = stat()
            fstat(log.fd, &st)
            log.size = Int(st.st_size)
        } else {
            try log.startSegment()
        }
        return (log, report)
    }

    /// Reads one segment's bytes from memory as the last segment of a log
    /// (for the fuzzer: the same checks as ``open(directory:options:replay:)``,
    /// no file touched). Returns the records replayed, or throws as `open` would.
    package static func scanSegment(_ bytes: UnsafeRawBufferPointer, firstLSN: UInt64, replay: (WALRecordView) throws -> Void) throws -> Int {
        var expected: UInt64? = nil
        var report = RecoveryReport(segments: 1, records: 0, truncatedTail: nil)
        _ = try scan(bytes, path: "<memory>", firstLSN: firstLSN, expected: &expected, isLast: true,
                     scratch: ReadBuffer(), replay: replay, report: &report)
        return report.records
    }

    /// Validates one segment, replaying its records; returns where its valid bytes end.
    private static func scan(
        _ b: UnsafeRawBufferPointer, path: String, firstLSN: UInt64, expected: inout UInt64?, isLast: Bool,
        scratch: ReadBuffer, replay: (WALRecordView) throws -> Void, report: inout RecoveryReport
    ) throws -> Int {
        let header = WALFormat.segmentHeaderSize
        guard b.count >= header else {
            if isLast {  // a crash while creating it: removed and created again
                expected = expected ?? firstLSN
                return 0
            }
            throw WALError(kind: .corrupt, segment: path, offset: 0, reason: "segment shorter than its header")
        }
        guard Array(b[0..<8]) == WALFormat.magic else {
            throw WALError(kind: .corrupt, segment: path, offset: 0, reason: "bad magic: not an Engram WAL segment")
        }
        guard WALFormat.u32(b, 8) == WALFormat.version else {
            throw WALError(kind: .corrupt, segment: path, offset: 8, reason: "unsupported format version \(WALFormat.u32(b, 8))")
        }
        guard WALFormat.u32(b, 12) == WALFormat.byteOrderMark,
              CRC32C.checksum(UnsafeRawBufferPointer(rebasing: b[0..<28])) == WALFormat.u32(b, 28),
              WALFormat.u64(b, 16) == firstLSN else {
            throw WALError(kind: .corrupt, segment: path, offset: 12, reason: "segment header fails its checks")
        }
        if let e = expected, e != firstLSN {
            throw WALError(kind: .corrupt, segment: path, offset: 16, reason: "starts at LSN \(firstLSN), expected \(e)")
        }
        var lsn = firstLSN
        var offset = header
        while offset < b.count {
            let decoded = WALFormat.decode(b, at: offset, lsn: .expected(lsn), scratch: scratch)
            switch decoded {
            case .record(let record, let size):
                try replay(record)
                report.records += 1
                lsn += 1
                offset += size
            case .incomplete where !isLast:
                throw WALError(kind: .corrupt, segment: path, offset: offset, reason: "segment ends inside a record")
            case .incomplete, .invalid:
                // A torn tail (a crash mid-write) only if no valid record follows it: a damaged
                // length that points past the end is damage like any other, not a tail to cut.
                guard isLast, !validRecordFollows(b, from: offset, lsn: lsn, scratch: scratch) else {
                    var why = "record runs past the end of the segment"
                    if case .invalid(let reason) = decoded { why = reason }
                    throw WALError(kind: .corrupt, segment: path, offset: offset, reason: why)
                }
                expected = lsn
                return offset
            }
        }
        expected = lsn
        return b.count
    }

    /// Whether a valid record starts at `offset` or anywhere after it (a
    /// damaged record in the middle, rather than a torn one at the end). A
    /// candidate must carry an LSN that could follow `lsn` there, checked
    /// before its checksum, so a garbage tail costs one header look per
    /// byte, not a CRC of up to ``WALFormat/maxPayload`` bytes.
    static func validRecordFollows(_ b: UnsafeRawBufferPointer, from offset: Int, lsn: UInt64, scratch: ReadBuffer) -> Bool {
        var at = offset
        let (highest, overflow) = lsn.addingReportingOverflow(UInt64(Swift.max(0, b.count - offset) / WALFormat.recordHeaderSize + 1))
        let plausible = WALFormat.LSNCheck.range(lsn...(overflow ? UInt64.max : highest))
        while at + WALFormat.recordHeaderSize <= b.count {
            // decode checks the header (LSN first among cheap checks) before any CRC.
            if case .record = WALFormat.decode(b, at: at, lsn: plausible, scratch: scratch) { return true }
            at += 1
        }
        return false
    }

    /// Copies a damaged segment to `<path>.damaged`, durably, before it is cut.
    private static func copyAside(_ path: String, bytes: UnsafeRawBufferPointer) throws {
        let target = path + ".damaged"
        let fd = Glibc.open(target, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, fileMode)
        guard fd >= 0 else { throw ioError(target, "cannot create") }
        defer { close(fd) }
        var done = 0
        while done < bytes.count {
            let n = write(fd, bytes.baseAddress! + done, bytes.count - done)
            if n < 0 && errno == EINTR { continue }
            guard n > 0 else { throw ioError(target, "write failed") }
            done += n
        }
        guard fsync(fd) == 0 else { throw ioError(target, "fsync failed") }
    }

    static func ioError(_ path: String, _ what: String) -> WALError {
        let code = errno
        return WALError(kind: .io, segment: path, reason: "\(what): \(String(cString: strerror(code)))", errno: code)
    }

    private func checkUsable() throws {
        if options.readOnly { throw WALError(kind: .invalidArgument, reason: "the log was opened read-only") }
        if poisoned {
            throw WALError(kind: .poisoned, reason: "an earlier fsync or write failed; reopen the log before trusting it")
        }
    }

    /// Makes a log that never held a record continue from `lsn` instead of 1
    /// (a store restored from a database carries on the database's LSNs).
    public func restart(at lsn: UInt64) throws {
        try checkUsable()
        guard nextLSN == 1 else {
            throw WALError(kind: .invalidArgument, reason: "only an empty log can restart at another LSN (this one is at \(nextLSN))")
        }
        guard (1...WALFormat.maxLSN).contains(lsn) else {
            throw WALError(kind: .invalidArgument, reason: "LSN \(lsn): LSNs run from 1 to \(WALFormat.maxLSN)")
        }
        if fd >= 0 { close(fd); fd = -1 }
        for (_, path) in segments {
            guard unlink(path) == 0 || errno == ENOENT else { throw Self.ioError(path, "cannot remove segment") }
        }
        segments.removeAll()
        nextLSN = lsn
        try startSegment()
    }

    /// Starts a new segment at `nextLSN` and makes its name durable. Any
    /// failure poisons the log: the descriptor may already point at the new,
    /// headerless file, and no record may land there.
    private func startSegment() throws {
        do {
            try createSegment()
        } catch {
            poisoned = true
            if fd >= 0 { close(fd); fd = -1 }
            throw error
        }
    }

    private func createSegment() throws {
        if fd >= 0 { close(fd); fd = -1 }
        let path = "\(directory)/\(Self.segmentName(nextLSN))"
        fd = Glibc.open(path, O_WRONLY | O_CREAT | O_TRUNC | O_APPEND | O_CLOEXEC, Self.fileMode)
        guard fd >= 0 else { throw Self.ioError(path, "cannot create segment") }
        size = 0
        try writeAll(WALFormat.segmentHeader(firstLSN: nextLSN), path: path)
        try syncFile(path: path)
        try Self.syncDirectory(directory)
        segments.removeAll { $0.firstLSN == nextLSN }
        segments.append((nextLSN, path))
    }

    /// Data files are readable by their owner only (vectors are user data).
    package static let fileMode: mode_t = 0o600
    package static let directoryMode: mode_t = 0o700

    /// Creates `directory` (its parent must exist) unless it exists, and
    /// makes the new name durable by fsyncing the parent.
    package static func makeDirectory(_ directory: String) throws {
        if mkdir(directory, directoryMode) == 0 {
            let parent = directory.lastIndex(of: "/").map { $0 == directory.startIndex ? "/" : String(directory[..<$0]) } ?? "."
            try syncDirectory(parent)
        } else if errno != EEXIST {
            throw ioError(directory, "cannot create the directory")
        }
    }

    /// Makes the names in `directory` durable (a new or removed file).
    package static func syncDirectory(_ directory: String) throws {
        let dirfd = Glibc.open(directory, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        guard dirfd >= 0 else { throw ioError(directory, "cannot open the directory to fsync it") }
        defer { close(dirfd) }
        guard fsync(dirfd) == 0 else { throw ioError(directory, "fsync of the directory failed") }
    }

    private func writeAll(_ bytes: [UInt8], path: String) throws {
        var done = 0
        while done < bytes.count {
            let n = bytes.withUnsafeBytes { options.io.write(fd, $0.baseAddress! + done, $0.count - done) }
            if n < 0 {
                if errno == EINTR { continue }
                let error = Self.ioError(path, "write failed")
                // Take back what was written so no torn record stays mid-log.
                if ftruncate(fd, off_t(size)) != 0 { poisoned = true }
                throw error
            }
            done += n
        }
        size += bytes.count
    }

    private func syncFile(path: String) throws {
        if options.io.fsync(fd) != 0 {
            poisoned = true
            throw Self.ioError(path, "fsync failed")
        }
    }

    /// Appends one record and returns its LSN; durable on return in `.fsync` mode.
    @discardableResult
    public func append(type: UInt8, payload: [UInt8]) throws -> UInt64 {
        try checkUsable()
        guard payload.count <= WALFormat.maxPayload else {
            throw WALError(kind: .invalidArgument, reason: "a record payload is limited to \(WALFormat.maxPayload) bytes, got \(payload.count)")
        }
        guard nextLSN <= WALFormat.maxLSN else {
            throw WALError(kind: .invalidArgument, reason: "the log has reached its largest LSN \(WALFormat.maxLSN)")
        }
        let bytes = WALFormat.encode(WALRecord(lsn: nextLSN, type: type, payload: payload))
        if size > WALFormat.segmentHeaderSize && size + bytes.count > options.segmentBytes {
            try syncFile(path: segments.last?.path ?? directory)
            try startSegment()
        }
        guard fd >= 0, let path = segments.last?.path else {
            poisoned = true
            throw WALError(kind: .poisoned, reason: "the log has no open segment")
        }
        try writeAll(bytes, path: path)
        if options.durability == .fsync { try syncFile(path: path) }
        nextLSN += 1
        return nextLSN - 1
    }

    /// Seals the segment being written (made durable) and starts a new one
    /// at the next LSN, so that ``truncate(below:)`` can later remove every
    /// record logged so far. Nothing happens when the current segment holds
    /// no record yet. Returns whether a segment was started.
    @discardableResult
    public func startNewSegment() throws -> Bool {
        try checkUsable()
        guard size > WALFormat.segmentHeaderSize else { return false }
        try syncFile(path: segments.last?.path ?? directory)
        try startSegment()
        return true
    }

    /// Makes every appended record durable.
    public func sync() throws {
        try checkUsable()
        try syncFile(path: segments.last?.path ?? directory)
    }

    /// Removes the segments whose records all have LSNs below `lsn` (for
    /// example below a checkpoint's LSN). The segment being written is kept.
    /// Returns how many were removed.
    @discardableResult
    public func truncate(below lsn: UInt64) throws -> Int {
        try checkUsable()
        var removed = 0
        while segments.count > 1 && segments[1].firstLSN <= lsn {
            let path = segments[0].path
            guard unlink(path) == 0 || errno == ENOENT else { throw Self.ioError(path, "cannot remove segment") }
            segments.removeFirst()
            removed += 1
        }
        return removed
    }

    /// The segment files, oldest first.
    public var segmentPaths: [String] { segments.map(\.path) }

    /// The first LSN of the oldest segment: no record below it is on disk.
    public var oldestSegmentLSN: UInt64 { segments.first?.firstLSN ?? nextLSN }
}

import EngramChecksum
