/// Turns text into the terms the text index stores and a query looks up.
///
/// 1. **Words.** A word is a run of letters and digits (any script:
///    Unicode's alphabetic and numeric properties), with apostrophes inside
///    it kept (`agent's`). Words joined by a connector (`-` `_` `.` `/` `:`
///    `@`) with no space form a *compound*: `libfoo-dev`, `os.path.join`,
///    `3.14`, `user@example.com`.
/// 2. **Case folding**: every word is lower-cased (`ENOSPC` → `enospc`).
/// 3. **Stop words** (``StopWords/english`` by default) are dropped.
/// 4. **Stemming** (``EnglishStemmer``) reduces an English word to its stem
///    (`retries` → `retri`, `connection` → `connect`); words that are not
///    plain a–z (numbers, other scripts, identifiers with digits) are kept as
///    they are.
/// 5. **Compounds are kept whole as well as split**: `libfoo-dev` gives
///    `libfoo`, `dev` and `libfoo-dev`, so a query for the exact identifier
///    matches it best and a query for a part still matches.
///
/// A word longer than ``maxTermBytes`` (a hash, a base64 blob) is dropped:
/// it would never be searched for and would bloat the dictionary.
/// Deterministic and pure: the same text always gives the same terms, in
/// order, which is what makes an index rebuilt on replay equal the first.
public struct Tokenizer: Sendable, Equatable {
    public var stopWords: Set<String>
    public var stemming: Bool
    public var keepCompounds: Bool

    /// The longest term kept, in UTF-8 bytes.
    public static let maxTermBytes = 64

    public init(stopWords: Set<String> = StopWords.english, stemming: Bool = true, keepCompounds: Bool = true) {
        self.stopWords = stopWords
        self.stemming = stemming
        self.keepCompounds = keepCompounds
    }

    /// The terms of `text`, in order (a term may repeat).
    public func terms(_ text: String) -> [String] {
        var out = [String]()
        var parts = [String]()       // the words of the compound being read
        var word = String.UnicodeScalarView()
        var pendingConnector = false // a connector after a word, not yet followed by one

        func endWord() {
            if !word.isEmpty { parts.append(String(word)) }
            word = String.UnicodeScalarView()
        }
        func endCompound() {
            endWord()
            pendingConnector = false
            guard !parts.isEmpty else { return }
            for part in parts { emit(part, stem: true) }
            if keepCompounds && parts.count > 1 { emit(compound, stem: false) }
            parts.removeAll(keepingCapacity: true)
            compound = ""
        }
        var compound = ""
        func emit(_ raw: String, stem: Bool) {
            let lower = raw.lowercased()
            guard !lower.isEmpty, lower.utf8.count <= Self.maxTermBytes, !stopWords.contains(lower) else { return }
            out.append(stemming && stem ? EnglishStemmer.stem(lower) : lower)
        }

        for scalar in text.unicodeScalars {
            if Self.isWordScalar(scalar) {
                if pendingConnector {
                    // The connector joined two words: part of the compound.
                    pendingConnector = false
                }
                word.append(scalar)
                compound.unicodeScalars.append(scalar)
            } else if Self.isApostrophe(scalar), !word.isEmpty {
                word.append("'")
                compound.unicodeScalars.append("'")
            } else if Self.isConnector(scalar), !word.isEmpty || (!parts.isEmpty && !pendingConnector) {
                // Trailing apostrophes are not part of a word.
                while word.last == "'" { word.removeLast(); compound.unicodeScalars.removeLast() }
                endWord()
                if pendingConnector {
                    endCompound()  // two connectors in a row end the compound
                } else {
                    pendingConnector = true
                    compound.unicodeScalars.append(scalar)
                }
            } else {
                while word.last == "'" { word.removeLast(); compound.unicodeScalars.removeLast() }
                if pendingConnector { compound.unicodeScalars.removeLast() }
                endCompound()
            }
        }
        while word.last == "'" { word.removeLast(); compound.unicodeScalars.removeLast() }
        if pendingConnector { compound.unicodeScalars.removeLast() }
        endCompound()
        return out
    }

    static func isWordScalar(_ s: Unicode.Scalar) -> Bool {
        if s.isASCII {
            let v = s.value
            return (v >= 48 && v <= 57) || (v >= 65 && v <= 90) || (v >= 97 && v <= 122)
        }
        return s.properties.isAlphabetic || s.properties.numericType != nil
    }

    static func isApostrophe(_ s: Unicode.Scalar) -> Bool { s == "'" || s == "\u{2019}" }

    static func isConnector(_ s: Unicode.Scalar) -> Bool {
        s == "-" || s == "_" || s == "." || s == "/" || s == ":" || s == "@"
    }
}
