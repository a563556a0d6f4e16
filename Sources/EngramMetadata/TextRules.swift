/// The text the engine accepts in ids, collection names and metadata
/// strings: whatever PostgreSQL's `text` and `jsonb` can hold, so that
/// nothing acknowledged can fail its checkpoint (Docs/ENGINE.md, "Ids").
/// A Swift `String` is valid Unicode already; the one code point
/// PostgreSQL refuses is U+0000 (SQLSTATE 22021, and `jsonb` refuses the
/// `\u0000` escape), which a C string would also cut short.
package enum TextRules {
    /// Why `text` may not be stored (naming it `what`), or nil.
    package static func problem(_ text: String, _ what: String) -> String? {
        text.utf8.contains(0) ? "\(what) may not contain U+0000 (PostgreSQL's text cannot hold it)" : nil
    }
}
