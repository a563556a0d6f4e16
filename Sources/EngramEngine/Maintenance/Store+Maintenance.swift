import Dispatch
import EngramIndex

/// What the background maintenance knows (under ``Store/maintenance``).
struct MaintenanceState {
    /// A pass is queued or running.
    var scheduled = false
    /// Work arrived since the running pass started: run another.
    var kicked = false
    /// Log payload bytes appended since the last snapshot.
    var logBytesSinceSnapshot = 0
}

extension Store {
    /// Makes sure a maintenance pass will run after this call (cheap when one is queued).
    func scheduleMaintenance() {
        let start = maintenance.withLock { state -> Bool in
            state.kicked = true
            guard !state.scheduled else { return false }
            state.scheduled = true
            return true
        }
        if start { maintenanceQueue.async { [weak self] in Store.maintain(self) } }
    }

    /// The background pass, on the maintenance queue: builds the metadata
    /// posting lists recovery deferred, moves staged blocks
    /// into the graphs (a block at a time, round robin over collections),
    /// compacts graphs with many deleted nodes, retrains IVF collections whose
    /// data has drifted, and writes a snapshot once
    /// the log has grown enough. Runs until there is nothing left to do.
    /// Holds the store only for one step at a time, so dropping the last
    /// reference is not delayed by more than a block.
    static func maintain(_ weakStore: Store?) {
        weak let weakStore = weakStore
        while true {
            guard let store = weakStore, !store.closed.load(ordering: .acquiring) else {
                weakStore?.maintenance.withLock { $0.scheduled = false }
                return
            }
            store.maintenance.withLock { $0.kicked = false }
            var worked = false
            for c in store.catalog.withLock({ Array($0.values) }) {
                if store.closed.load(ordering: .acquiring) { break }
                // After recovery: the metadata posting lists first (filters scan until then), a slice at a
                // time so writers and searches get the lock between slices.
                let postingsStart = engineNanoseconds()
                var slices = 0
                while !store.closed.load(ordering: .acquiring), c.indexMetadataPostings(atMost: 50_000) { slices += 1 }
                if slices > 0 {
                    worked = true
                    store.telemetry.logger.info("built the metadata posting lists recovery deferred", metadata: [
                        "collection": "\(c.configuration.name)", "slices": "\(slices)",
                        "ms": "\((engineNanoseconds() - postingsStart) / 1_000_000)",
                    ])
                }
                do {
                    if store.options.backgroundIndexing, try store.indexBlock(of: c) != nil { worked = true }
                    store.compactIfNeeded(c)
                    if store.retrainIfDrifted(c) { worked = true }
                } catch {
                    store.telemetry.logger.error("background indexing failed", metadata: [
                        "collection": "\(c.configuration.name)", "error": "\(error)",
                    ])
                }
            }
            let dueForSnapshot = !store.options.readOnly && store.options.snapshotEveryLogBytes > 0
                && store.maintenance.withLock { $0.logBytesSinceSnapshot } >= store.options.snapshotEveryLogBytes
            if dueForSnapshot && !store.closed.load(ordering: .acquiring) {
                do { try store.writeSnapshot() } catch {
                    store.telemetry.logger.error("background snapshot failed", metadata: ["error": "\(error)"])
                }
            }
            let again = store.maintenance.withLock { state -> Bool in
                if worked || state.kicked { return true }
                state.scheduled = false
                return false
            }
            if !again { return }
        }
    }

    /// Indexes the oldest staged block of `c`; nil if nothing was staged.
    @discardableResult
    func indexBlock(of c: Collection, yielding: Bool = true) throws(EngineError) -> Int? {
        do throws(IndexError) {
            return try c.indexOldestBlock(threads: options.indexThreads, yielding: yielding)
        } catch {
            // Out of room for the floats is io: the block stays staged, searched by exact scan, and is tried
            // again by the next pass or writer. Anything else: the staged rows were validated on their way in.
            throw options.vectorPlacement.engineError(error, collection: c.configuration.name) {
                .corrupt("collection '\(c.configuration.name)': a staged vector failed its graph insert: \($0)")
            }
        }
    }

    /// Retrains a collection's index once its data has drifted from it
    /// (IVF: `IVFIndex/needsRetraining(threshold:clippedThreshold:)`);
    /// searches and writes go on meanwhile. Returns whether it retrained.
    func retrainIfDrifted(_ c: Collection) -> Bool {
        let start = engineNanoseconds()
        do throws(IndexError) {
            guard try c.index.retrainIfDrifted(threads: options.indexThreads) else { return false }
        } catch {
            telemetry.logger.error("retraining failed", metadata: ["collection": "\(c.configuration.name)", "error": "\(error)"])
            return false
        }
        telemetry.logger.info("retrained the index after drift", metadata: [
            "collection": "\(c.configuration.name)", "ms": "\((engineNanoseconds() - start) / 1_000_000)",
        ])
        return true
    }

    /// Reclaims the index's deleted entries once they pass the configured fraction.
    func compactIfNeeded(_ c: Collection) {
        let start = engineNanoseconds()
        let fraction = options.compactTombstoneFraction
        guard let reclaimed = c.indexing.withLock({ _ in c.index.compactIfNeeded(tombstoneFraction: fraction) }) else { return }
        telemetry.logger.info("compacted the index", metadata: [
            "collection": "\(c.configuration.name)", "reclaimed": "\(reclaimed)",
            "ms": "\((engineNanoseconds() - start) / 1_000_000)",
        ])
    }
}
