import EngramMetadata
import EngramChecksum
import EngramEngine

/// `engram verify`: compares what the engine holds with what PostgreSQL
/// holds, id by id (Docs/POSTGRES.md, "Verifying").
///
/// The database is compared as of its last checkpoint, at LSN C, read in
/// one REPEATABLE READ view; the engine as of its last write (LSN L ≥ C).
/// Each id then falls in one case:
///
/// | engine | table | verdict |
/// |---|---|---|
/// | live, written at ≤ C | a row with the same LSN (and, for sampled ids, the same vector and metadata) | equal |
/// | live, written at ≤ C | no row, or another LSN | **difference** (missing, stale) |
/// | live, written after C | anything | pending (the next checkpoint sends it) |
/// | deleted after C | a row | pending delete |
/// | not live, no later delete known | a row | **difference** (phantom) |
/// | any | a row written after C | **difference** (the table is ahead of its own checkpoint) |
///
/// A database owned by another store, or ahead of the store, is a
/// difference as well. A consistent report has no differences.
public enum PostgresVerify {
    /// One way the table and the engine disagree.
    public struct Difference: Sendable, CustomStringConvertible {
        public enum Kind: String, Sendable {
            /// Live in the engine since before the checkpoint, absent from the table.
            case missing
            /// Not live in the engine and no delete pending, but in the table.
            case phantom
            /// In both, with different versions (LSNs).
            case stale
            /// Same version, different vector.
            case vector
            /// Same version, different metadata.
            case metadata
            /// Same version, different texts.
            case text
            /// A row written after the database's own checkpoint LSN.
            case ahead
            /// The database as a whole: another owner, ahead of the store, a collection on one side only.
            case database
        }

        public var kind: Kind
        public var collection: String
        public var id: String?
        public var detail: String

        public var description: String {
            "\(kind.rawValue): collection '\(collection)'" + (id.map { " id '\($0)'" } ?? "") + ": \(detail)"
        }
    }

    /// What one collection compared.
    public struct CollectionReport: Sendable {
        public var name: String
        public var engineRecords = 0
        public var tableRows = 0
        /// Engine versions written after the database's checkpoint.
        public var pendingUpserts = 0
        /// Table rows whose ids the engine deleted after the checkpoint.
        public var pendingDeletes = 0
        /// Rows whose vector and metadata were compared with the engine's.
        public var vectorsCompared = 0
    }

    public struct Report: Sendable {
        /// The database's checkpoint LSN and the store's last LSN.
        public var databaseLSN: UInt64
        public var storeLSN: UInt64
        public var collections: [CollectionReport] = []
        /// The first differences found (at most ``maxListed``).
        public var differences: [Difference] = []
        /// Every difference found.
        public var differenceCount = 0

        public var isConsistent: Bool { differenceCount == 0 }

        mutating func add(_ difference: Difference) {
            differenceCount += 1
            if differences.count < maxListed { differences.append(difference) }
        }
    }

    /// Differences listed in a report (all are counted).
    public static let maxListed = 100

    /// Compares every collection of `store` with the database. Vectors and
    /// metadata are compared for one id in `sampleEvery` (by a hash of the
    /// id: 1 compares every row); ids, versions and counts for all.
    public static func compare(store: Store, pool: PostgresPool, sampleEvery: Int = 1) throws -> Report {
        guard sampleEvery >= 1 else { throw PostgresError(kind: .invalidArgument, message: "sampleEvery must be at least 1, got \(sampleEvery)") }
        return try PostgresRestore.checkpointView(pool) { db, checkpointLSN, owner in
            var report = Report(databaseLSN: checkpointLSN, storeLSN: store.lastLSN)
            if let owner, owner != store.storeID {
                report.add(Difference(kind: .database, collection: "*", id: nil,
                                      detail: "the database takes the checkpoints of store \(owner), not of this store \(store.storeID)"))
                return report
            }
            if checkpointLSN > store.lastLSN {
                report.add(Difference(kind: .database, collection: "*", id: nil,
                                      detail: "the database's checkpoint LSN \(checkpointLSN) is beyond the store's last write \(store.lastLSN)"))
            }
            let registered = Set(try PostgresCollectionReader.collectionNames(db))
            for name in registered.subtracting(store.collectionNames).sorted() {
                report.add(Difference(kind: .database, collection: name, id: nil, detail: "registered in the database, unknown to the store"))
            }
            for name in store.collectionNames {
                var collection = CollectionReport(name: name)
                let versions = try store.versions(name)
                collection.engineRecords = versions.live.count
                var live = [RecordKey: UInt64](minimumCapacity: versions.live.count)
                for (id, lsn) in versions.live { live[RecordKey(id)] = lsn }
                var deleted = [RecordKey: UInt64](minimumCapacity: versions.deleted.count)
                for (id, lsn) in versions.deleted { deleted[RecordKey(id)] = lsn }
                guard registered.contains(name) else {
                    // Never checkpointed: fine only while everything in it is newer than the checkpoint.
                    for (id, lsn) in versions.live {
                        if lsn > checkpointLSN { collection.pendingUpserts += 1 } else {
                            report.add(Difference(kind: .missing, collection: name, id: id, detail: "written at LSN \(lsn), the collection is not in the database"))
                        }
                    }
                    report.collections.append(collection)
                    continue
                }
                let table = try PostgresCollectionReader.configuration(name, db)
                var seen = Set<RecordKey>(minimumCapacity: versions.live.count)
                try PostgresCollectionReader.rows(of: table, db) { row in
                    let (id, vector, json, rowLSN) = (row.id, row.vector, row.metadataJSON, row.lsn)
                    collection.tableRows += 1
                    let key = RecordKey(id)
                    seen.insert(key)
                    if rowLSN > checkpointLSN {
                        report.add(Difference(kind: .ahead, collection: name, id: id, detail: "row written at LSN \(rowLSN), after the checkpoint \(checkpointLSN)"))
                        return
                    }
                    guard let engineLSN = live[key] else {
                        if let deletedAt = deleted[key], deletedAt > checkpointLSN {
                            collection.pendingDeletes += 1
                        } else {
                            report.add(Difference(kind: .phantom, collection: name, id: id, detail: "row at LSN \(rowLSN); the engine does not hold this id"))
                        }
                        return
                    }
                    if engineLSN > checkpointLSN {
                        collection.pendingUpserts += 1
                        return
                    }
                    guard engineLSN == rowLSN else {
                        report.add(Difference(kind: .stale, collection: name, id: id, detail: "row at LSN \(rowLSN), the engine's version at LSN \(engineLSN)"))
                        return
                    }
                    guard sampled(id, every: sampleEvery) else { return }
                    collection.vectorsCompared += 1
                    guard let record = try? store.get(name, id: id) else {
                        report.add(Difference(kind: .missing, collection: name, id: id, detail: "the engine lost the record while it was compared"))
                        return
                    }
                    if !sameVector(record.vector, vector, halfPrecision: table.vectorType == .halfvec) {
                        report.add(Difference(kind: .vector, collection: name, id: id, detail: "the stored vector differs from the engine's"))
                    }
                    let metadata = try MetadataJSON.parse(json)
                    if metadata != record.metadata {
                        report.add(Difference(kind: .metadata, collection: name, id: id, detail: "table \(json), engine \(MetadataJSON.format(record.metadata))"))
                    }
                    if row.text != record.text {
                        report.add(Difference(kind: .text, collection: name, id: id, detail: "table texts \(row.text.keys.sorted()), engine \(record.text.keys.sorted()) differ"))
                    }
                }
                for (id, lsn) in versions.live where !seen.contains(RecordKey(id)) {
                    if lsn > checkpointLSN { collection.pendingUpserts += 1 } else {
                        report.add(Difference(kind: .missing, collection: name, id: id, detail: "written at LSN \(lsn), not in the table"))
                    }
                }
                report.collections.append(collection)
            }
            return report
        }
    }

    /// Whether `id` is among the one in `every` ids whose vectors are compared.
    static func sampled(_ id: String, every: Int) -> Bool {
        every <= 1 || UInt64(CRC32C.checksum(Array(id.utf8))) % UInt64(every) == 0
    }

    /// Bit for bit, or (halfvec) equal once the engine's value is rounded to half precision.
    static func sameVector(_ engine: [Float], _ table: UnsafeBufferPointer<Float>, halfPrecision: Bool) -> Bool {
        guard engine.count == table.count else { return false }
        for i in 0..<engine.count {
            let expected = halfPrecision ? Float(Float16(engine[i])) : engine[i]
            if expected.bitPattern != table[i].bitPattern { return false }
        }
        return true
    }
}
