/// What a collection's text index holds (``Store/textIndexInfo(_:)``).
public struct TextIndexInfo: Sendable, Equatable {
    /// The declared text fields.
    public var fields: [String]
    /// Records with a text (documents in the BM25 index).
    public var documents: Int
    /// Distinct terms in the dictionary.
    public var terms: Int
    /// Bytes the index holds in memory (an estimate from its arrays' capacities; the texts themselves apart).
    public var memoryBytes: Int
}
