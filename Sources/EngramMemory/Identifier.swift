/// The rules every identifier in memory follows (tenants, agents, tasks,
/// experiences, entities, facts, groups, kinds, predicates): 1 to
/// ``maxBytes`` UTF-8 bytes, no control characters (U+0000 to U+001F and
/// U+007F), so an identifier is always a plain value in JSON, SQL and logs.
enum Identifier {
    static let maxBytes = 128

    static func check(_ value: String, _ what: String) throws(MemoryError) {
        let bytes = value.utf8
        guard !bytes.isEmpty, bytes.count <= maxBytes else {
            throw .invalid("\(what) must be 1 to \(maxBytes) UTF-8 bytes, got \(bytes.count)")
        }
        guard !bytes.contains(where: { $0 < 0x20 || $0 == 0x7F }) else {
            throw .invalid("\(what) '\(value.debugDescription)' holds a control character")
        }
    }
}
