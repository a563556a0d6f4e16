import EngramText

/// A collection's text fields and their BM25 parameters
/// (Docs/ENGINE.md, "Text fields").
///
/// A record of such a collection may carry a text per field
/// (``Record/text``); every field's terms go into one BM25 index beside the
/// vector index (`TextIndex` in `EngramText`), so a search matches words in any field.
/// In PostgreSQL each field is a `text` column of the same name, and a
/// generated `tsv tsvector` column over all of them serves SQL users.
///
/// Invariants (checked by `validate()`): 1 to ``maxFields`` distinct field names,
/// each a plain lower-case SQL identifier (`[a-z][a-z0-9_]*`, at most 63
/// bytes) that is not one of the table's own columns; `k1` in 0…10 and `b`
/// in 0…1, both finite.
public struct TextSettings: Sendable, Equatable {
    /// The fields, in the order declared: the order their terms are indexed in.
    public var fields: [String]
    /// BM25's term-frequency saturation.
    public var k1: Double
    /// BM25's length normalisation.
    public var b: Double

    public init(fields: [String], k1: Double = 1.2, b: Double = 0.75) {
        self.fields = fields
        self.k1 = k1
        self.b = b
    }

    /// The most text fields a collection may declare.
    public static let maxFields = 16
    /// The columns a collection's table has of its own, which a field may not be named.
    public static let reservedNames: Set<String> = ["id", "embedding", "metadata", "lsn", "updated_at", "tsv"]

    var parameters: TextIndex.Parameters { TextIndex.Parameters(k1: k1, b: b) }

    func validate() throws(EngineError) {
        guard (1...Self.maxFields).contains(fields.count) else {
            throw .invalidArgument("a collection declares 1 to \(Self.maxFields) text fields, not \(fields.count)")
        }
        guard Set(fields).count == fields.count else { throw .invalidArgument("text fields \(fields) repeat a name") }
        for field in fields {
            let bytes = Array(field.utf8)
            let plain = !bytes.isEmpty && bytes.count <= 63 && (bytes[0] >= 0x61 && bytes[0] <= 0x7A)
                && bytes.allSatisfy { ($0 >= 0x61 && $0 <= 0x7A) || ($0 >= 0x30 && $0 <= 0x39) || $0 == 0x5F }
            guard plain else {
                throw .invalidArgument("text field '\(field)': a name is a lower-case letter, then letters, digits or '_', at most 63 bytes")
            }
            guard !Self.reservedNames.contains(field) else {
                throw .invalidArgument("text field '\(field)': the name is one of the table's own columns (\(Self.reservedNames.sorted().joined(separator: ", ")))")
            }
        }
        guard k1.isFinite, (0...10).contains(k1), b.isFinite, (0...1).contains(b) else {
            throw .invalidArgument("BM25 k1 \(k1) and b \(b): expected k1 in 0...10 and b in 0...1")
        }
    }
}
