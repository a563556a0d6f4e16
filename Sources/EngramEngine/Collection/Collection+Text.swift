import EngramMetadata
import EngramText

/// The text gate: a batch's texts are checked and turned into terms on the
/// writer's thread, before anything is logged, so applying a write only
/// inserts the terms (``Collection/apply(upsert:prepared:terms:lsn:)``).
extension Collection {
    /// Checks every record's texts (declared fields only, no U+0000, at most
    /// ``Record/maxTextBytes`` per field) and returns each record's terms
    /// (empty when the collection has no text fields).
    func validateTexts(_ records: [Record]) throws(EngineError) -> [[String]] {
        guard let settings = configuration.text else {
            if let i = records.firstIndex(where: { !$0.text.isEmpty }) {
                throw .invalidArgument("record \(i): collection '\(configuration.name)' has no text fields, but the record carries text")
            }
            return []
        }
        var out = [[String]]()
        out.reserveCapacity(records.count)
        for (i, r) in records.enumerated() {
            for (field, text) in r.text {
                guard settings.fields.contains(field) else {
                    throw .invalidArgument("record \(i): text field '\(field)' is not one of the collection's (\(settings.fields.joined(separator: ", ")))")
                }
                guard text.utf8.count <= Record.maxTextBytes else {
                    throw .invalidArgument("record \(i): text field '\(field)' holds \(text.utf8.count) bytes; at most \(Record.maxTextBytes)")
                }
                if let why = TextRules.problem(text, "text field '\(field)'") { throw .invalidArgument("record \(i): \(why)") }
            }
            out.append(terms(of: r.text))
        }
        return out
    }

    /// The terms of a record's texts: each declared field's, in declared order.
    func terms(of text: [String: String]) -> [String] {
        guard let fields = configuration.text?.fields, !text.isEmpty else { return [] }
        var out = [String]()
        for field in fields {
            if let t = text[field] { out += tokenizer.terms(t) }
        }
        return out
    }

    /// A logged batch's texts, checked like a live write's and turned into
    /// terms (replay); a text the collection cannot hold is corruption.
    func loggedTerms(_ texts: [[String: String]], lsn: UInt64) throws(EngineError) -> [[String]] {
        guard !texts.isEmpty else { return [] }
        let records = texts.map { Record(id: "-", vector: [], text: $0) }
        do throws(EngineError) { return try validateTexts(records) } catch {
            throw .corrupt("log record \(lsn): \(error.message)")
        }
    }
}
