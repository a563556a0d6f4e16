import EngramEngine

extension Memory {
    /// What an import did.
    public struct ImportReport: Sendable, Equatable {
        public var agents = 0, tasks = 0, experiences = 0, duplicates = 0, entities = 0, facts = 0
        /// `remember` calls made (each all or nothing).
        public var calls = 0
    }

    /// Writes objects in their order: agents and tasks one call each (a task created, then moved to its
    /// status along the graph), and runs of experiences, entities and facts as `remember` calls of up
    /// to `batch` objects each (atomic per call). `progress` is called after every call with the objects
    /// written so far.
    @discardableResult
    public func importObjects(_ objects: [MemoryObject], batch: Int = 256, at now: MemoryTime = .now(),
                              progress: (Int) -> Void = { _ in }) throws(MemoryError) -> ImportReport {
        guard (1...100_000).contains(batch) else { throw .invalid("batch must be 1...100000, got \(batch)") }
        var report = ImportReport()
        var experiences = [Experience](), entities = [Entity](), facts = [Fact]()
        var declared = Set<String>()
        var done = 0
        func flush() throws(MemoryError) {
            guard !(experiences.isEmpty && entities.isEmpty && facts.isEmpty) else { return }
            let result = try remember(experiences, entities: entities, facts: facts, at: now)
            for outcome in result.experiences {
                if case .stored = outcome { report.experiences += 1 } else { report.duplicates += 1 }
            }
            report.entities += entities.count
            report.facts += result.facts.count
            report.calls += 1
            done += experiences.count + entities.count + facts.count
            experiences = []
            entities = []
            facts = []
            progress(done)
        }
        for object in objects {
            switch object {
            case .agent(let agent):
                try flush()
                try upsert(agent, at: now)
                report.agents += 1
                done += 1
            case .task(let task, let status, let result):
                try flush()
                try create(task, at: now)
                let path: [TaskStatus]
                switch status {
                case .pending: path = []
                case .running: path = [.running]
                case .cancelled: path = [.cancelled]
                case .succeeded, .failed: path = [.running, status]
                }
                for (i, step) in path.enumerated() {
                    try transition(tenant: task.tenant, task: task.id, to: step, result: i == path.count - 1 && step.isFinal ? result : nil, at: now)
                }
                report.tasks += 1
                done += 1
            case .experience(let e): experiences.append(e)
            case .entity(let e): entities.append(e)
            case .fact(let f, let singleValued):
                if singleValued, declared.insert(f.tenant + "\u{1}" + f.predicate).inserted {
                    try declareSingleValued(tenant: f.tenant, predicate: f.predicate)
                }
                facts.append(f)
            }
            if experiences.count + entities.count + facts.count >= batch { try flush() }
        }
        try flush()
        return report
    }

    /// The memory a store already holds (its dimension read from it), without creating anything: for
    /// read-only use.
    public static func open(_ store: Store, cacheCapacity: Int = defaultCacheCapacity) throws(MemoryError) -> Memory {
        guard store.collectionNames.contains(MemoryRecords.experiences) else {
            throw MemoryError(.notFound, "\(store.directory) holds no memory (import some first)")
        }
        let dimension: Int
        do { dimension = try store.configuration(MemoryRecords.experiences).dimension } catch { throw .engine(error) }
        return Memory(store: store, dimension: dimension, cacheCapacity: Swift.max(0, cacheCapacity))
    }
}
