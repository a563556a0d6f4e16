import EngramMetadata
import EngramIndex
import EngramTestSupport
import Testing

private let kinds: [MetadataValue] = ["agent", "task", "experience", "entity"]
private let statuses: [MetadataValue] = ["open", "done", "failed"]

private func randomRecord(_ rng: inout SeededGenerator) -> MetadataValue {
    var fields: [String: MetadataValue] = [
        "kind": kinds.randomElement(using: &rng)!,
        "step": .number(Double(Int.random(in: 0...20, using: &rng))),
        "at": .timestamp(microseconds: Int64.random(in: 0...1_000, using: &rng) * 1_000_000),
        "tags": .array((0..<Int.random(in: 0...3, using: &rng)).map { _ in ["x", "y", "z"].randomElement(using: &rng)! }),
    ]
    if Bool.random(using: &rng) { fields["task"] = ["status": statuses.randomElement(using: &rng)!] }
    if Int.random(in: 0..<4, using: &rng) == 0 { fields["score"] = .number(Double.random(in: 0...1, using: &rng)) }
    return .object(fields)
}

private func randomFilter(_ rng: inout SeededGenerator, depth: Int = 0) -> MetadataFilter {
    switch Int.random(in: 0..<(depth > 2 ? 5 : 8), using: &rng) {
    case 0: return .equals("kind", kinds.randomElement(using: &rng)!)
    case 1: return .isIn("task.status", Array(statuses.shuffled(using: &rng).prefix(2)))
    case 2:
        let a = Double(Int.random(in: 0...20, using: &rng)), b = Double(Int.random(in: 0...20, using: &rng))
        return .range("step", lower: .number(min(a, b)), lowerInclusive: Bool.random(using: &rng),
                      upper: Bool.random(using: &rng) ? .number(max(a, b)) : nil, upperInclusive: Bool.random(using: &rng))
    case 3: return .range("at", lower: .timestamp(microseconds: 400_000_000), lowerInclusive: true, upper: nil, upperInclusive: false)
    case 4: return [MetadataFilter.exists("task"), .exists("score"), .equals("tags", "y")].randomElement(using: &rng)!
    case 5: return .and((0..<Int.random(in: 0...3, using: &rng)).map { _ in randomFilter(&rng, depth: depth + 1) })
    case 6: return .or((0..<Int.random(in: 1...3, using: &rng)).map { _ in randomFilter(&rng, depth: depth + 1) })
    default: return .not(randomFilter(&rng, depth: depth + 1))
    }
}

/// Expects `index` to select, for `count` random filters, exactly the records whose values match.
private func expectAgrees(
    _ index: MetadataIndex, _ records: [VectorID: MetadataValue], filters count: Int, _ rng: inout SeededGenerator, _ stage: String
) {
    for _ in 0..<count {
        let filter = randomFilter(&rng)
        var got = Set<VectorID>()
        index.evaluate(filter).forEach { got.insert($0) }
        #expect(got == Set(records.filter { filter.matches($0.value) }.keys), "\(stage): \(filter)")
    }
}

/// Replaces or removes `count` random records, in the index and in `records` alike.
private func churn(_ index: inout MetadataIndex, _ records: inout [VectorID: MetadataValue], count: Int, _ rng: inout SeededGenerator) {
    for label in records.keys.sorted().shuffled(using: &rng).prefix(count) {
        if Bool.random(using: &rng) {
            index.remove(label)
            records[label] = nil
        } else {
            let r = randomRecord(&rng)
            index.set(r, for: label)
            records[label] = r
        }
    }
}

@Suite("Metadata filters and the inverted index")
struct MetadataIndexTests {
    @Test("the index selects exactly the records the filter's definition matches, through updates and removals")
    func indexAgreesWithDefinition() {
        var rng = SeededGenerator.forTest("metadata.index", defaultSeed: 93)
        var index = MetadataIndex()
        var records = [VectorID: MetadataValue]()
        for label in 0..<400 {
            let r = randomRecord(&rng)
            records[VectorID(label)] = r
            index.set(r, for: VectorID(label))
        }
        for round in 0..<4 {
            expectAgrees(index, records, filters: 60, &rng, "round \(round)")
            churn(&index, &records, count: 50, &rng)  // replace some, remove some
        }
        #expect(index.count == records.count)
    }

    @Test("deferred postings: filters give the same answers before, during and after the catch-up, through churn")
    func deferredPostings() {
        var rng = SeededGenerator.forTest("metadata.deferred", defaultSeed: 131)
        var index = MetadataIndex()
        var records = [VectorID: MetadataValue]()
        func check(_ stage: String) { expectAgrees(index, records, filters: 40, &rng, stage) }
        func churn() {
            EngramMetadataTests.churn(&index, &records, count: 40, &rng)
            for label in 300..<(300 + Int.random(in: 0...10, using: &rng)) where records[VectorID(label)] == nil {
                let r = randomRecord(&rng)
                index.set(r, for: VectorID(label))
                records[VectorID(label)] = r
            }
        }
        index.deferPostings()
        #expect(index.hasAllPostings)  // nothing to index yet
        for label in 0..<300 {
            let r = randomRecord(&rng)
            records[VectorID(label)] = r
            index.set(r, for: VectorID(label))
        }
        #expect(!index.hasAllPostings)
        check("deferred")
        churn()
        check("deferred, after churn")
        var slices = 0
        while !index.indexPostings(atMost: 70) {
            slices += 1
            check("after \(slices) slices")
            churn()
            check("after \(slices) slices and churn")
        }
        #expect(index.hasAllPostings && slices >= 4)
        check("caught up")
        churn()
        check("caught up, after churn")
        #expect(index.count == records.count)
    }

    @Test("posting lists of every density (one label, a few, a hash set, a bitmap) stay exact through churn")
    func postingDensities() {
        var rng = SeededGenerator.forTest("metadata.postings", defaultSeed: 517)
        // Over 20,000 labels, groups of 1, 5, 100 and 2,000 labels: each size lands in another storage form.
        let sizes = [1, 5, 100, 2_000]
        func group(_ label: Int) -> Int {
            var rest = label % sizes.reduce(0, +)
            for (g, size) in sizes.enumerated() {
                if rest < size { return g * 1_000 + label / sizes.reduce(0, +) }
                rest -= size
            }
            return -1
        }
        var index = MetadataIndex()
        var model = [VectorID: MetadataValue]()
        func check(_ when: String) {
            for value in Set(model.values).prefix(40) {
                guard case .object(let fields) = value, let g = fields["g"] else { continue }
                var got = Set<VectorID>()
                index.evaluate(.equals("g", g)).forEach { got.insert($0) }
                #expect(got == Set(model.filter { $0.value == value }.keys), "\(when): g = \(g)")
            }
            #expect(index.count == model.count, "\(when)")
        }
        for label in 0..<20_000 {
            let value: MetadataValue = ["g": .number(Double(group(label)))]
            index.set(value, for: VectorID(label))
            model[VectorID(label)] = value
        }
        check("built")
        // Remove most of every group, then move some labels to other groups.
        for label in model.keys.shuffled(using: &rng).prefix(15_000) {
            index.remove(label)
            model[label] = nil
        }
        check("after removals")
        for label in (0..<20_000).shuffled(using: &rng).prefix(3_000) {
            let value: MetadataValue = ["g": .number(Double(group(Int.random(in: 0..<20_000, using: &rng))))]
            index.set(value, for: VectorID(label))
            model[VectorID(label)] = value
        }
        check("after moves")
    }

    @Test("selective filters, answered from their smallest posting lists, select exactly what the definition matches")
    func selectivePlans() {
        var rng = SeededGenerator.forTest("metadata.selective", defaultSeed: 4_211)
        // 20,000 records of 2 tenants and 500 agents (about 40 each): an agent's postings are far
        // below the bound / 32 at which a filter is answered label by label.
        func record() -> MetadataValue {
            var fields: [String: MetadataValue] = [
                "tenant": Bool.random(using: &rng) ? "t1" : "t2",
                "agent": .string("a\(Int.random(in: 0..<500, using: &rng))"),
                "kind": kinds.randomElement(using: &rng)!,
                "at": .timestamp(microseconds: Int64.random(in: 0...1_000_000, using: &rng)),
            ]
            if Int.random(in: 0..<50, using: &rng) == 0 { fields["expires"] = .timestamp(microseconds: Int64.random(in: 0...1_000, using: &rng)) }
            if Int.random(in: 0..<3, using: &rng) == 0 { fields["group"] = .array([.string("g\(Int.random(in: 0..<20, using: &rng))")]) }
            return .object(fields)
        }
        func agent() -> MetadataValue { .string("a\(Int.random(in: 0..<520, using: &rng))") }  // some held by no record
        func clause(_ depth: Int) -> MetadataFilter {
            switch Int.random(in: 0..<(depth > 1 ? 7 : 10), using: &rng) {
            case 0: return .equals("agent", agent())
            case 1: return .isIn("agent", [agent(), agent(), agent()])
            case 2: return .equals("tenant", Bool.random(using: &rng) ? "t1" : "t3")
            case 3: return .isIn("group", [.string("g\(Int.random(in: 0..<25, using: &rng))")])
            case 4:
                let a = Int64.random(in: 0...1_000_000, using: &rng)
                return .range("at", lower: .timestamp(microseconds: a), lowerInclusive: Bool.random(using: &rng),
                              upper: .timestamp(microseconds: a + 300_000), upperInclusive: false)
            case 5: return [MetadataFilter.exists("expires"), .exists("nothing"), .exists("group"), .equals("kind", "task")].randomElement(using: &rng)!
            case 6: return .range("expires", lower: .timestamp(microseconds: 500), lowerInclusive: false, upper: nil, upperInclusive: false)
            case 7: return .and((0..<Int.random(in: 1...4, using: &rng)).map { _ in clause(depth + 1) })
            case 8: return .or((0..<Int.random(in: 1...3, using: &rng)).map { _ in clause(depth + 1) })
            default: return .not(clause(depth + 1))
            }
        }
        var index = MetadataIndex()
        var records = [VectorID: MetadataValue]()
        for label in 0..<20_000 {
            let r = record()
            records[VectorID(label)] = r
            index.set(r, for: VectorID(label))
        }
        for round in 0..<3 {
            for _ in 0..<40 {
                // The memory layer's shape: one agent (or its groups) within a tenant, and more conditions.
                let scope: MetadataFilter = .and([.equals("tenant", "t1"), .or([.equals("agent", agent()), .isIn("group", ["g1", "g2"])]),
                                                  .or([.not(.exists("expires")), clause(1)]), clause(1)])
                for filter in [scope, clause(0)] {
                    var got = Set<VectorID>()
                    index.evaluate(filter).forEach { got.insert($0) }
                    let expected = records.filter { filter.matches($0.value) }.keys
                    #expect(got == Set(expected), "round \(round): \(filter)")
                    #expect(index.labels(matching: filter) == expected.sorted(), "round \(round), as a list: \(filter)")
                }
            }
            churn(&index, &records, count: 3_000, &rng)
            for label in records.keys.shuffled(using: &rng).prefix(2_000) {
                let r = record()
                records[label] = r
                index.set(r, for: label)
            }
        }
    }

    @Test("paths, arrays and ranges behave as documented")
    func semantics() {
        let r: MetadataValue = ["task": ["status": "open", "owner": ["name": "ada"]], "tags": ["x", "y"], "step": 3,
                                "at": .timestamp(microseconds: 10)]
        #expect(MetadataFilter.equals("task.owner.name", "ada").matches(r))
        #expect(MetadataFilter.equals("tags", "y").matches(r))
        #expect(!MetadataFilter.equals("tags", "z").matches(r))
        #expect(MetadataFilter.exists("task.owner").matches(r))
        #expect(!MetadataFilter.exists("nothing").matches(r))
        #expect(MetadataFilter.range("step", lower: 3, lowerInclusive: true, upper: 4, upperInclusive: false).matches(r))
        #expect(!MetadataFilter.range("step", lower: 3, lowerInclusive: false, upper: nil, upperInclusive: false).matches(r))
        // A number bound never matches a timestamp, and an unbounded range matches nothing.
        #expect(!MetadataFilter.range("at", lower: 0, lowerInclusive: true, upper: nil, upperInclusive: false).matches(r))
        #expect(!MetadataFilter.range("step", lower: nil, lowerInclusive: true, upper: nil, upperInclusive: true).matches(r))
        var index = MetadataIndex()
        index.set(r, for: 7)
        var got = [VectorID]()
        index.evaluate(.exists("task.owner")).forEach { got.append($0) }
        #expect(got == [7])
        #expect(index.evaluate(.and([])).count == 1)
        #expect(index.evaluate(.or([])).count == 0)
    }
}

@Suite("Filter JSON syntax")
struct FilterJSONTests {
    @Test("the --filter syntax reads into the filter it names")
    func parse() throws {
        #expect(try MetadataFilter.parse(json: #"{"agent": "planner"}"#) == .equals("agent", "planner"))
        #expect(try MetadataFilter.parse(json: #"{"step": {"$gte": 3, "$lt": 9}}"#)
                == .range("step", lower: 3, lowerInclusive: true, upper: 9, upperInclusive: false))
        #expect(try MetadataFilter.parse(json: #"{"kind": {"$in": ["task", "entity"]}}"#) == .isIn("kind", ["task", "entity"]))
        #expect(try MetadataFilter.parse(json: #"{"$or": [{"a": 1}, {"b": {"$exists": false}}]}"#)
                == .or([.equals("a", 1), .not(.exists("b"))]))
        #expect(try MetadataFilter.parse(json: #"{"a": 1, "b": 2}"#) == .and([.equals("a", 1), .equals("b", 2)]))
        #expect(try MetadataFilter.parse(json: #"{"$not": {"a": {"$eq": {"x": 1}}}}"#) == .not(.equals("a", ["x": 1])))
        for bad in [#"[1]"#, #"{"$xor": []}"#, #"{"a": {"$in": 3}}"#, #"{"a": {"$exists": 1}}"#, #"{"a": {"$near": 1}}"#, "{"] {
            #expect(throws: MetadataError.self, "\(bad)") { try MetadataFilter.parse(json: bad) }
        }
    }
}
