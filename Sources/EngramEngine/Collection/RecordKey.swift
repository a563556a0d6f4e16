#if canImport(Glibc)
import Glibc
#endif

/// A record id as a key: compared and hashed by its UTF-8 bytes, as
/// PostgreSQL's `COLLATE "C"` primary key compares it, not by Unicode
/// canonical equivalence as `String` is. So `"é"` (U+00E9) and `"e\u{301}"`
/// are two records in the engine as they are two rows in the database
/// (Docs/ENGINE.md, "Ids").
///
/// Invariant: two keys are equal exactly when their ids' UTF-8 bytes are.
package struct RecordKey: Hashable, Sendable {
    package let id: String

    package init(_ id: String) { self.id = id }

    package static func == (a: RecordKey, b: RecordKey) -> Bool {
        let equal = a.id.utf8.withContiguousStorageIfAvailable { x in
            b.id.utf8.withContiguousStorageIfAvailable { y in
                x.count == y.count && (x.count == 0 || memcmp(x.baseAddress!, y.baseAddress!, x.count) == 0)
            }
        }
        return (equal ?? nil) ?? a.id.utf8.elementsEqual(b.id.utf8)
    }

    package func hash(into hasher: inout Hasher) {
        let done: Void? = id.utf8.withContiguousStorageIfAvailable { hasher.combine(bytes: UnsafeRawBufferPointer($0)) }
        if done == nil { for byte in id.utf8 { hasher.combine(byte) } }
        hasher.combine(id.utf8.count)
    }
}
