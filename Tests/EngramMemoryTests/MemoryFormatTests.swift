import EngramMetadata
@testable import EngramMemory
import Testing

@Suite("EngramMemory: times, durations and the import format")
struct MemoryFormatTests {
    @Test("ISO 8601 times parse with a zone, to the microsecond, and print back; bad ones are nil")
    func times() {
        #expect(ISO8601.parse("1970-01-01T00:00:00Z") == MemoryTime(microseconds: 0))
        #expect(ISO8601.parse("2026-12-03T02:30:00Z")?.microseconds == Int64(1_796_265_000) * 1_000_000)
        #expect(ISO8601.parse("2026-12-03T04:30:00+02:00") == ISO8601.parse("2026-12-03T02:30:00Z"))
        #expect(ISO8601.parse("2026-12-03T02:30:00.123456Z")?.microseconds == Int64(1_796_265_000) * 1_000_000 + 123_456)
        #expect(ISO8601.parse("2026-12-03") == ISO8601.parse("2026-12-03T00:00:00Z"))
        for bad in ["2026-12-03T02:30:00", "2026-02-30", "2026-13-01", "yesterday", "2026-12-03T25:00:00Z", "2026-12-03T02:30:00Zjunk", ""] {
            #expect(ISO8601.parse(bad) == nil, "\(bad)")
        }
        for text in ["2026-12-03T02:30:00Z", "1969-12-31T23:59:59.5Z", "2026-12-03T02:30:00.000001Z"] {
            #expect(ISO8601.parse(text).map(ISO8601.format) == (text == "1969-12-31T23:59:59.5Z" ? "1969-12-31T23:59:59.500000Z" : text))
        }
    }

    @Test("durations: ISO 8601, a number with a unit, or seconds; nothing else")
    func durations() {
        #expect(ISO8601.parseDuration("P7D") == 604_800.0)
        #expect(ISO8601.parseDuration("PT12H") == 43_200.0)
        #expect(ISO8601.parseDuration("P1DT6H30M") == 109_800.0)
        #expect(ISO8601.parseDuration("P2W") == 1_209_600.0)
        #expect(ISO8601.parseDuration("7d") == 604_800.0)
        #expect(ISO8601.parseDuration("45s") == 45)
        #expect(ISO8601.parseDuration("90") == 90)
        for bad in ["", "P", "PT", "P1H", "7x", "-3d", "0", "nan", "P1DT", "inf"] { #expect(ISO8601.parseDuration(bad) == nil, "\(bad)") }
    }

    @Test("every object type reads from JSON; a missing or mistyped field names itself")
    func importFormat() throws {
        func parse(_ json: String) throws(MemoryError) -> MemoryObject {
            let value: MetadataValue
            do { value = try MetadataJSON.parse(json) } catch { throw .invalid("\(error)") }
            return try MemoryObject.parse(value)
        }
        guard case .agent(let agent) = try parse(#"{"type": "agent", "tenant": "t", "id": "a", "name": "A", "groups": ["ops"]}"#) else { Issue.record("agent"); return }
        #expect(agent.groups == ["ops"])
        guard case .task(let task, let status, let result) = try parse(#"{"type": "task", "tenant": "t", "id": "k", "title": "T", "agent": "a", "status": "succeeded", "result": {"ok": true}}"#) else { Issue.record("task"); return }
        #expect(task.agent == "a" && status == .succeeded && result == ["ok": true])
        guard case .experience(let e) = try parse(#"{"type": "experience", "tenant": "t", "id": "e", "agent": "a", "kind": "message", "content": "hi", "embedding": [1, 0], "occurred_at": "2026-01-01T00:00:00Z", "importance": 0.7, "metadata": {"channel": "chat"}, "group": "ops"}"#) else { Issue.record("experience"); return }
        #expect(e.visibility == .group("ops") && e.importance == 0.7 && e.metadata == ["channel": "chat"])
        guard case .entity(let n) = try parse(#"{"type": "entity", "tenant": "t", "id": "alice", "entity_type": "person", "name": "Alice", "embedding": [0, 1]}"#) else { Issue.record("entity"); return }
        #expect(n.type == "person")
        guard case .fact(let f, let single) = try parse(#"{"type": "fact", "tenant": "t", "id": "f", "subject": "alice", "predicate": "age", "object_value": 31, "text": "Alice is 31", "embedding": [1, 1], "valid_from": "2026-01-01T00:00:00Z", "single_valued": true}"#) else { Issue.record("fact"); return }
        #expect(f.object == .value(.number(31)) && single)
        for (json, words) in [
            (#"{"type": "robot"}"#, "robot"),
            (#"{"type": "agent", "tenant": "t", "id": "a"}"#, "\"name\""),
            (#"{"type": "task", "tenant": "t", "id": "k", "title": "T", "status": "done"}"#, "done"),
            (#"{"type": "experience", "tenant": "t", "id": "e", "agent": "a", "kind": "m", "content": "c", "embedding": [1], "occurred_at": "yesterday"}"#, "occurred_at"),
            (#"{"type": "experience", "tenant": "t", "id": "e", "agent": "a", "kind": "m", "content": "c", "embedding": [1e39], "occurred_at": "2026-01-01"}"#, "float32"),
            (#"{"type": "fact", "tenant": "t", "id": "f", "subject": "s", "predicate": "p", "text": "x", "embedding": [1], "valid_from": "2026-01-01"}"#, "object_"),
        ] {
            let error = #expect(throws: MemoryError.self) { try parse(json) }
            #expect(error?.message.contains(words) == true, "\(json): \(String(describing: error))")
        }
    }
}
