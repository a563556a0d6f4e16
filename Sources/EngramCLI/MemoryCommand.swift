import ArgumentParser
import EngramEngine
import EngramMemory
import EngramMemoryPostgres
import EngramMetadata
import EngramPostgres
import EngramTools

#if canImport(Glibc)
import Glibc
#endif

/// `engram memory`: the agent memory layer (Docs/MEMORY.md) on a data directory.
struct MemoryCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "memory", abstract: "The agent memory layer: import, recall, facts, forget (Docs/MEMORY.md).",
        subcommands: [MemoryImportCommand.self, MemoryRecallCommand.self, MemoryFactsCommand.self, MemoryForgetCommand.self])
}

/// A time option: ISO 8601 with a zone.
private func time(_ text: String?, _ flag: String) throws -> MemoryTime? {
    guard let text else { return nil }
    guard let t = ISO8601.parse(text) else { throw ValidationError("\(flag): '\(text)' is not an ISO 8601 time with a zone (2026-12-03T02:30:00Z)") }
    return t
}

/// A memory error as the command line reports it (and exits 1).
private func fail(_ error: MemoryError) -> ExitCode {
    printToStandardError("engram memory: \(error)")
    return ExitCode(1)
}

struct MemoryImportCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "import", abstract: "Import JSON Lines of typed objects (agent, task, experience, entity, fact).",
        discussion: "Runs of experiences, entities and facts are written as atomic calls of up to --batch objects; each line is checked before anything is written.")

    @OptionGroup var dataDirectory: DataDirectoryOptions
    @Option var file: String
    @Option(help: "The embeddings' dimension when the memory is new (default: the first embedding's).") var dimension: Int?
    @Option(help: "Objects per atomic call.") var batch: Int = 256
    @OptionGroup var output: OutputOptions

    private struct Report: Encodable { var agents, tasks, experiences, duplicates, entities, facts, calls: Int }

    func validate() throws {
        guard (1...100_000).contains(batch) else { throw ValidationError("--batch must be between 1 and 100000") }
    }

    func run() throws {
        guard let bytes = readWholeFile(file) else { throw ValidationError("cannot read \(file): \(String(cString: strerror(errno)))") }
        guard let text = String(validating: bytes, as: UTF8.self) else { throw ValidationError("\(file) is not UTF-8") }
        var objects = [MemoryObject]()
        for (n, line) in text.split(separator: "\n", omittingEmptySubsequences: false).enumerated() where !line.allSatisfy(\.isWhitespace) {
            do {
                objects.append(try MemoryObject.parse(try MetadataJSON.parse(String(line))))
            } catch let error as MemoryError {
                throw ValidationError("\(file):\(n + 1): \(error.message)")
            } catch {
                throw ValidationError("\(file):\(n + 1): not a JSON object: \(error)")
            }
        }
        let store = try Store.open(directory: dataDirectory.path)
        defer { try? store.close() }
        let firstDimension = objects.lazy.compactMap { object -> Int? in
            switch object {
            case .experience(let e): return e.embedding.count
            case .entity(let e): return e.embedding.count
            case .fact(let f, _): return f.embedding.count
            default: return nil
            }
        }.first
        do throws(MemoryError) {
            let memory = store.collectionNames.contains("memory_experiences")
                ? try Memory.open(store)
                : try Memory.open(store, dimension: dimension ?? firstDimension ?? 384)
            let report = try memory.importObjects(objects, batch: batch) { done in
                if !output.json { printToStandardError("engram memory import: \(done) objects durable") }
            }
            if output.json {
                printAndFlush(JSONLine.encode(Report(agents: report.agents, tasks: report.tasks, experiences: report.experiences,
                                                     duplicates: report.duplicates, entities: report.entities, facts: report.facts, calls: report.calls)))
            } else {
                printAndFlush("imported: \(report.agents) agents, \(report.tasks) tasks, \(report.experiences) experiences (\(report.duplicates) duplicates), \(report.entities) entities, \(report.facts) facts in \(report.calls) atomic calls")
            }
        } catch {
            throw fail(error)
        }
    }
}

struct MemoryRecallCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "recall", abstract: "Recall an agent's experiences by meaning, words and time.",
        discussion: "Without --half-life and --importance-weight the hits are ranked by similarity alone. --from/--to bound occurred_at, half-open (from <= t < to).")

    @OptionGroup var dataDirectory: DataDirectoryOptions
    @Option var tenant: String
    @Option var agent: String
    @Option(parsing: .unconditional, help: "The query embedding, comma-separated (--vector=-0.1,0.2,...).") var vector: String?
    @Option var text: String?
    @Option var from: String?
    @Option var to: String?
    @Option(name: .customLong("as-of")) var asOf: String?
    @Option(name: .customLong("known-at")) var knownAt: String?
    @Option(help: "Kinds, comma-separated.") var kinds: String?
    @Option(help: "Only this task's experiences.") var task: String?
    @Option(name: .customLong("half-life"), help: "Recency half-life: 7d, 12h, P7D, or seconds.") var halfLife: String?
    @Option(name: .customLong("importance-weight")) var importanceWeight: Double?
    @Option(help: "Maximal marginal relevance with this lambda, 0...1 (1: no diversification).") var mmr: Double?
    @Option var k: Int = 10
    @OptionGroup var output: OutputOptions

    private struct Explain: Encodable {
        var relevance: Double
        var vector_distance: Float?
        var text_score: Double?
        var decay: Double?
        var age_s: Double
        var importance: Double
        var importance_part: Double?
        var mmr_max_similarity: Double?
        var mmr_score: Double?
    }
    private struct Hit: Encodable {
        var id: String
        var score: Double
        var kind: String
        var content: String
        var occurred_at: String
        var explain: Explain
    }
    private struct Answer: Encodable { var hits: [Hit] }

    func validate() throws {
        guard vector != nil || text != nil else { throw ValidationError("give --vector, --text, or both") }
        if let halfLife, ISO8601.parseDuration(halfLife) == nil { throw ValidationError("--half-life: '\(halfLife)' is not a positive duration (7d, 12h, P7D, seconds)") }
        _ = try time(from, "--from")
        _ = try time(to, "--to")
        _ = try time(asOf, "--as-of")
        _ = try time(knownAt, "--known-at")
        _ = try parsedVector()
    }

    private func parsedVector() throws -> [Float]? {
        guard let vector else { return nil }
        return try vector.split(separator: ",", omittingEmptySubsequences: false).map { part in
            guard let x = Float(part.trimmingSpaces), x.isFinite else { throw ValidationError("--vector takes comma-separated numbers, got '\(part)'") }
            return x
        }
    }

    func run() throws {
        let store = try Store.open(directory: dataDirectory.path, options: .readOnly)
        defer { try? store.close() }
        let query = RecallQuery(
            tenant: tenant, agent: agent, vector: try parsedVector(), text: text,
            kinds: kinds.map { $0.split(separator: ",").map { $0.trimmingSpaces } }, task: task,
            from: try time(from, "--from"), to: try time(to, "--to"), asOf: try time(asOf, "--as-of"), knownAt: try time(knownAt, "--known-at"),
            halfLife: halfLife.flatMap(ISO8601.parseDuration), importanceWeight: importanceWeight, mmr: mmr, k: k)
        do throws(MemoryError) {
            let memory = try Memory.open(store)
            let hits = try memory.recall(query)
            if output.json {
                printAndFlush(JSONLine.encode(Answer(hits: hits.map { hit in
                    let e = hit.explanation
                    return Hit(id: hit.experience.id, score: hit.score, kind: hit.experience.kind, content: hit.experience.content,
                               occurred_at: ISO8601.format(hit.experience.occurredAt),
                               explain: Explain(relevance: e.relevance, vector_distance: e.vectorDistance, text_score: e.textScore, decay: e.decay,
                                                age_s: e.ageSeconds, importance: e.importance, importance_part: e.importancePart,
                                                mmr_max_similarity: e.mmrMaxSimilarity, mmr_score: e.mmrScore))
                })))
            } else {
                for (rank, hit) in hits.enumerated() {
                    let e = hit.explanation
                    var parts = ["relevance \(format(e.relevance, 3))"]
                    if let d = e.decay { parts.append("decay \(format(d, 3)) (age \(format(e.ageSeconds / 86_400, 1)) d)") }
                    if let p = e.importancePart { parts.append("importance \(format(e.importance, 2)) → +\(format(p, 3))") }
                    if let m = e.mmrScore { parts.append("MMR \(format(m, 3)) (closest earlier hit \(format(e.mmrMaxSimilarity ?? 0, 3)))") }
                    printAndFlush("\(rank + 1). \(hit.experience.id)  score \(format(hit.score, 4))  [\(hit.experience.kind), \(ISO8601.format(hit.experience.occurredAt))]  \(hit.experience.content)")
                    printAndFlush("     " + parts.joined(separator: "; "))
                }
            }
        } catch {
            throw fail(error)
        }
    }
}

struct MemoryFactsCommand: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "facts", abstract: "An entity's facts, as of a valid time and as known at a record time.")

    @OptionGroup var dataDirectory: DataDirectoryOptions
    @Option var tenant: String
    @Option var entity: String
    @Option(name: .customLong("as-of")) var asOf: String?
    @Option(name: .customLong("known-at")) var knownAt: String?
    @Option(help: "Predicates, comma-separated.") var predicates: String?
    @OptionGroup var output: OutputOptions

    private struct Line: Encodable {
        var id, subject, predicate, text, valid_from, recorded_at: String
        var object_entity: String?
        var object_value: MetadataValue?
        var valid_to: String?
        var confidence: Double
        var sources: [String]
    }
    private struct Answer: Encodable { var facts: [Line] }

    func validate() throws {
        _ = try time(asOf, "--as-of")
        _ = try time(knownAt, "--known-at")
    }

    func run() throws {
        let store = try Store.open(directory: dataDirectory.path, options: .readOnly)
        defer { try? store.close() }
        let asOfTime = try time(asOf, "--as-of"), knownAtTime = try time(knownAt, "--known-at")
        do throws(MemoryError) {
            let memory = try Memory.open(store)
            let facts = try memory.facts(tenant: tenant, entity: entity, asOf: asOfTime, knownAt: knownAtTime,
                                         predicates: predicates.map { $0.split(separator: ",").map { $0.trimmingSpaces } })
            if output.json {
                printAndFlush(JSONLine.encode(Answer(facts: facts.map { f in
                    var objectEntity: String?, objectValue: MetadataValue?
                    switch f.object {
                    case .entity(let e): objectEntity = e
                    case .value(let v): objectValue = v
                    }
                    return Line(id: f.id, subject: f.subject, predicate: f.predicate, text: f.text, valid_from: ISO8601.format(f.validFrom),
                                recorded_at: ISO8601.format(f.recordedAt), object_entity: objectEntity, object_value: objectValue,
                                valid_to: f.validTo.map(ISO8601.format), confidence: f.confidence, sources: f.sources)
                })))
            } else {
                for f in facts {
                    let until = f.validTo.map { " until \(ISO8601.format($0))" } ?? ""
                    printAndFlush("\(f.id): \(f.text)  [from \(ISO8601.format(f.validFrom))\(until); recorded \(ISO8601.format(f.recordedAt))]")
                }
            }
        } catch {
            throw fail(error)
        }
    }
}

struct MemoryForgetCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "forget", abstract: "Forget an experience, an agent, a whole tenant, or the expired experiences.",
        discussion: "Give --tenant with one of --experience, --agent or --all; or --expired alone.")

    @OptionGroup var dataDirectory: DataDirectoryOptions
    @Option var tenant: String?
    @Option var experience: String?
    @Option var agent: String?
    @Flag(help: "Forget the whole tenant.") var all = false
    @Flag(help: "Delete every expired experience.") var expired = false
    @Flag(help: "Then erase what was forgotten from the data directory's files: a store that checkpoints is checkpointed first (--database-url), then purged (Docs/MEMORY.md, \"Forgetting\").")
    var purge = false
    @OptionGroup var database: DatabaseOptions
    @OptionGroup var output: OutputOptions

    private struct Forgotten: Encodable {
        var forgotten: Int
        var checkpoint_lsn: UInt64?
        var erased_vectors, removed_segments: Int?
        var log_kept_from, log_starts_at: UInt64?
    }

    func validate() throws {
        let choices = [experience != nil, agent != nil, all, expired].filter { $0 }.count
        guard choices == 1 else { throw ValidationError("give exactly one of --experience, --agent, --all and --expired") }
        if !expired && tenant == nil { throw ValidationError("--experience, --agent and --all need --tenant") }
    }

    func run() throws {
        let store = try Store.open(directory: dataDirectory.path)
        defer { try? store.close() }
        let count: Int
        do throws(MemoryError) {
            let memory = try Memory.open(store)
            if expired {
                count = try memory.sweepExpired()
            } else if let tenant, let experience {
                count = try memory.forgetExperience(tenant: tenant, id: experience) ? 1 : 0
            } else if let tenant, let agent {
                count = try memory.forgetAgent(tenant: tenant, agent: agent)
            } else if let tenant {
                count = try memory.forgetTenant(tenant)
            } else {
                count = 0
            }
        } catch {
            throw fail(error)
        }
        var report = Forgotten(forgotten: count)
        if purge {
            // The database must have the deletes before the log may drop what they delete.
            if store.checkpointLSN > 0 {
                let target = try PostgresCheckpointTarget(
                    pool: try database.pool(), projections: [MemoryTables(dimension: try store.configuration("memory_experiences").dimension)])
                report.checkpoint_lsn = try store.checkpoint(to: target).lsn
            }
            let purged = try store.purgeDeleted()
            report.erased_vectors = purged.erasedVectors
            report.removed_segments = purged.removedSegments
            report.log_kept_from = purged.logKeptFrom
            report.log_starts_at = purged.logStartsAt
        }
        if output.json {
            printAndFlush(JSONLine.encode(report))
        } else {
            printAndFlush("forgotten: \(count) records" + (purge ? "; purged: \(report.erased_vectors ?? 0) vectors erased, \(report.removed_segments ?? 0) log segments removed"
                                                              + (report.checkpoint_lsn.map { " after a checkpoint at LSN \($0)" } ?? "") : ""))
        }
    }
}
