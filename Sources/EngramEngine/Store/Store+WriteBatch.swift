extension Store {
    /// Writes every change of `batch` as one: validated whole first (any
    /// bad record, unknown collection or id named twice in one collection
    /// refuses the batch, and nothing is logged), then logged as one record
    /// and applied under its LSN. Durable (per the durability mode) and
    /// searchable when it returns. A crash leaves all of it or none; a
    /// snapshot or checkpoint holds all of it or none. Concurrent searches
    /// may see one collection's part before another's while it is applied.
    @discardableResult
    public func write(_ batch: WriteBatch) throws(EngineError) -> WriteBatch.Result {
        try changing { () throws(EngineError) -> WriteBatch.Result in
            let start = engineNanoseconds()
            /// A part ready to apply: validated, prepared, tokenised.
            enum Planned {
                case upsert(Collection, [Record], prepared: [Float], terms: [[String]])
                case delete(Collection, [String])
            }
            var planned = [Planned](), parts = [LogPayload]()
            var named = [String: Set<RecordKey>]()
            for (n, change) in batch.changes.enumerated() {
                let c = try collection(change.collection)
                func claim(_ ids: [String]) throws(EngineError) {
                    for id in ids where !named[change.collection, default: []].insert(RecordKey(id)).inserted {
                        throw .invalidArgument("change \(n): id '\(id)' of collection '\(change.collection)' is named twice in the batch")
                    }
                }
                switch change {
                case .upsert(let name, let records):
                    guard !records.isEmpty else { continue }
                    let prepared: [Float], terms: [[String]]
                    do throws(EngineError) {
                        prepared = try c.validate(records)
                        terms = try c.validateTexts(records)
                    } catch {
                        throw EngineError(error.code, "change \(n) (upsert into '\(name)'): \(error.message)", underlying: error.underlying, record: error.record)
                    }
                    try claim(records.map(\.id))
                    planned.append(.upsert(c, records, prepared: prepared, terms: terms))
                    parts.append(.upsert(collection: name, records: records))
                case .delete(let name, let ids):
                    var seen = Set<RecordKey>()
                    let present = ids.filter { seen.insert(RecordKey($0)).inserted && c.contains($0) }
                    try claim(Array(seen.map(\.id)))
                    guard !present.isEmpty else { continue }
                    planned.append(.delete(c, present))
                    parts.append(.delete(collection: name, ids: present))
                }
            }
            guard !parts.isEmpty else { return WriteBatch.Result(upserted: 0, deleted: 0, lsn: 0) }
            // Back-pressure, as for a single upsert: a full staging buffer is drained by the writers themselves.
            for case .upsert(let c, let records, _, _) in planned {
                while c.unindexedCount + records.count > options.maxUnindexed {
                    if try indexBlock(of: c) == nil { break }
                }
            }
            var upserted = 0, deleted = 0
            var writtenAt: UInt64 = 0
            _ = try logged(.batch(parts)) { lsn throws(EngineError) in
                writtenAt = lsn
                for part in planned {
                    switch part {
                    case .upsert(let c, let records, let prepared, let terms):
                        c.apply(upsert: records, prepared: prepared, terms: terms, lsn: lsn)
                        upserted += records.count
                    case .delete(let c, let ids):
                        deleted += c.apply(delete: ids, lsn: lsn)
                    }
                }
                return upserted + deleted
            }
            scheduleMaintenance()
            let elapsed = engineNanoseconds() - start
            telemetry.upserts.increment(by: Int64(upserted))
            telemetry.deletes.increment(by: Int64(deleted))
            telemetry.upsertDuration.recordNanoseconds(elapsed)
            telemetry.slow("write", nanoseconds: elapsed, "\(parts.count) changes, \(upserted) upserts, \(deleted) deletes")
            return WriteBatch.Result(upserted: upserted, deleted: deleted, lsn: writtenAt)
        }
    }
}
