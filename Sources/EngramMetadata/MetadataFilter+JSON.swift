extension MetadataFilter {
    /// Reads a filter written as JSON (the `--filter` syntax, Docs/ENGINE.md):
    ///
    /// - `{"field": value}`: equality; several fields: all of them
    /// - `{"field": {"$eq": v}}`, `{"$in": [..]}`, `{"$gt"|"$gte"|"$lt"|"$lte": n}`, `{"$exists": true|false}`
    /// - `{"$and": [f, ...]}`, `{"$or": [f, ...]}`, `{"$not": f}`
    public static func parse(json text: String) throws(MetadataError) -> MetadataFilter {
        try from(try MetadataJSON.parse(text))
    }

    static func from(_ value: MetadataValue) throws(MetadataError) -> MetadataFilter {
        func bad(_ why: String) -> MetadataError { MetadataError(offset: 0, reason: "filter: \(why)") }
        guard case .object(let fields) = value else { throw bad("a filter is a JSON object") }
        var parts = [MetadataFilter]()
        for key in fields.keys.sorted() {
            let v = fields[key]!
            switch key {
            case "$and", "$or":
                guard case .array(let items) = v else { throw bad("\(key) takes an array") }
                var subs = [MetadataFilter]()
                for item in items { subs.append(try from(item)) }
                parts.append(key == "$and" ? .and(subs) : .or(subs))
            case "$not":
                parts.append(.not(try from(v)))
            default:
                guard !key.hasPrefix("$") else { throw bad("unknown operator \(key)") }
                parts.append(try condition(field: key, v))
            }
        }
        return parts.count == 1 ? parts[0] : .and(parts)
    }

    static func condition(field: String, _ v: MetadataValue) throws(MetadataError) -> MetadataFilter {
        func bad(_ why: String) -> MetadataError { MetadataError(offset: 0, reason: "filter on '\(field)': \(why)") }
        guard case .object(let ops) = v, let first = ops.keys.first, first.hasPrefix("$") else { return .equals(field, v) }
        var parts = [MetadataFilter]()
        var lower: (MetadataValue, Bool)?
        var upper: (MetadataValue, Bool)?
        for (op, arg) in ops.sorted(by: { $0.key < $1.key }) {
            switch op {
            case "$eq": parts.append(.equals(field, arg))
            case "$in":
                guard case .array(let options) = arg else { throw bad("$in takes an array") }
                parts.append(.isIn(field, options))
            case "$gt": lower = (arg, false)
            case "$gte": lower = (arg, true)
            case "$lt": upper = (arg, false)
            case "$lte": upper = (arg, true)
            case "$exists":
                guard case .bool(let b) = arg else { throw bad("$exists takes true or false") }
                parts.append(b ? .exists(field) : .not(.exists(field)))
            default: throw bad("unknown operator \(op)")
            }
        }
        if lower != nil || upper != nil {
            parts.append(.range(field, lower: lower?.0, lowerInclusive: lower?.1 ?? false,
                                upper: upper?.0, upperInclusive: upper?.1 ?? false))
        }
        return parts.count == 1 ? parts[0] : .and(parts)
    }
}
