/// The Snowball English stemmer ("Porter2", as Snowball 3 defines it), written
/// in Swift from the published algorithm
/// (snowballstem.org/algorithms/english/stemmer.html):
/// `running` → `run`, `generously` → `generous`, `skies` → `sky`.
///
/// Written here rather than reached through a C library: the algorithm is
/// about 300 lines over ASCII bytes with no tables to keep in sync, Debian
/// packages no maintained C build of Snowball's English stemmer as a `-dev`
/// library, and a Swift version inlines into the tokenizer with no per-word
/// allocation across a C boundary. `EnglishStemmerTests` checks it word for
/// word against the reference implementation's output on a committed
/// vocabulary (`Fixtures/text/stems.tsv`, made by the PyPI package
/// `snowballstemmer`).
///
/// Input: a lower-case word. Words of two letters or fewer, and words with
/// anything but `a`–`z` and `'`, come back unchanged.
public enum EnglishStemmer {
    public static func stem(_ word: String) -> String {
        var bytes = Array(word.utf8)
        guard bytes.count > 2, bytes.allSatisfy({ ($0 >= 97 && $0 <= 122) || $0 == 39 }) else { return word }
        stem(&bytes)
        return String(decoding: bytes, as: UTF8.self)
    }

    /// Stems `w` in place (lower-case ASCII letters and apostrophes).
    static func stem(_ w: inout [UInt8]) {
        if let exception = exceptional[w] {
            w = exception
            return
        }
        // Prelude: a leading apostrophe goes; y at the start or after a vowel is a consonant (Y).
        if w.first == apostrophe { w.removeFirst() }
        guard w.count > 2 else { return }
        if w[0] == y { w[0] = Y }
        for i in 1..<w.count where w[i] == y && isVowel(w[i - 1]) { w[i] = Y }
        let r1 = regionOne(w)
        let r2 = region(after: r1, in: w)

        step0(&w)
        step1a(&w)
        step1b(&w, r1: r1)
        step1c(&w)
        step2(&w, r1: r1)
        step3(&w, r1: r1, r2: r2)
        step4(&w, r2: r2)
        step5(&w, r1: r1, r2: r2)
        lowerY(&w)
    }

    // MARK: - Letters and regions

    private static let apostrophe = UInt8(ascii: "'")
    private static let y = UInt8(ascii: "y")
    private static let Y = UInt8(ascii: "Y")

    private static func isVowel(_ c: UInt8) -> Bool {
        c == 97 || c == 101 || c == 105 || c == 111 || c == 117 || c == 121  // a e i o u y
    }

    private static func isDouble(_ a: UInt8, _ b: UInt8) -> Bool {
        a == b && "bdfgmnprt".utf8.contains(a)
    }

    private static func isValidLiEnding(_ c: UInt8) -> Bool { "cdeghkmnrt".utf8.contains(c) }

    /// R1: after the first non-vowel that follows a vowel (or after one of the exceptional prefixes).
    private static func regionOne(_ w: [UInt8]) -> Int {
        for prefix in r1Prefixes where w.starts(with: prefix) { return prefix.count }
        return region(after: 0, in: w)
    }

    /// The region after the first non-vowel following a vowel at or after `start`.
    private static func region(after start: Int, in w: [UInt8]) -> Int {
        var i = start + 1
        while i < w.count {
            if !isVowel(w[i]) && isVowel(w[i - 1]) { return i + 1 }
            i += 1
        }
        return w.count
    }

    /// A short syllable ending at `end` (exclusive): non-vowel, vowel, non-vowel other than w, x, Y;
    /// or, at the start of the word, vowel then non-vowel; or (Snowball 3) the letters `past`.
    private static func endsInShortSyllable(_ w: [UInt8], _ end: Int) -> Bool {
        if end >= 3 {
            let c = w[end - 1]
            if !isVowel(w[end - 3]) && isVowel(w[end - 2]) && !isVowel(c)
                && c != UInt8(ascii: "w") && c != UInt8(ascii: "x") && c != Y { return true }
        }
        if end == 2, isVowel(w[0]), !isVowel(w[1]) { return true }
        return end >= 4 && w[(end - 4)..<end].elementsEqual(b("past"))
    }

    private static func isShort(_ w: [UInt8], r1: Int) -> Bool {
        r1 >= w.count && endsInShortSyllable(w, w.count)
    }

    private static func hasVowel(_ w: [UInt8], before end: Int) -> Bool {
        w[0..<end].contains(where: isVowel)
    }

    private static func ends(_ w: [UInt8], _ suffix: [UInt8]) -> Bool {
        w.count >= suffix.count && w[(w.count - suffix.count)...].elementsEqual(suffix)
    }

    /// The longest of `suffixes` that `w` ends with.
    private static func longest(_ w: [UInt8], _ suffixes: [[UInt8]]) -> [UInt8]? {
        var best: [UInt8]?
        for s in suffixes where ends(w, s) && s.count > (best?.count ?? -1) { best = s }
        return best
    }

    private static func replace(_ w: inout [UInt8], _ suffix: [UInt8], _ with: [UInt8]) {
        w.removeLast(suffix.count)
        w.append(contentsOf: with)
    }

    private static func lowerY(_ w: inout [UInt8]) {
        for i in w.indices where w[i] == Y { w[i] = y }
    }

    // MARK: - Steps

    private static func step0(_ w: inout [UInt8]) {
        if let s = longest(w, step0Suffixes) { w.removeLast(s.count) }
    }

    private static func step1a(_ w: inout [UInt8]) {
        guard let s = longest(w, step1aSuffixes) else { return }
        switch s {
        case b("sses"): replace(&w, s, b("ss"))
        case b("ied"), b("ies"): replace(&w, s, w.count - s.count > 1 ? b("i") : b("ie"))
        case b("s"):
            // Delete if a vowel comes before the letter just before the s.
            if w.count >= 3, hasVowel(w, before: w.count - 2) { w.removeLast() }
        default: break  // us, ss
        }
    }

    private static func step1b(_ w: inout [UInt8], r1: Int) {
        guard let s = longest(w, step1bSuffixes) else { return }
        let stem = w.count - s.count
        if s == b("eed") || s == b("eedly") {
            // proceed, exceed, succeed keep their ending.
            let keeps = eedKeepers.contains { stem == $0.count && w.starts(with: $0) }
            if stem >= r1, !keeps { replace(&w, s, b("ee")) }
            return
        }
        if s == b("ing") {
            // dying → die (a non-vowel and y, alone); inning, outing, evening… stay whole.
            if stem == 2, w[1] == y, !isVowel(w[0]) {
                w = [w[0], UInt8(ascii: "i"), UInt8(ascii: "e")]
                return
            }
            if ingKeepers.contains(where: { stem == $0.count && w.starts(with: $0) }) { return }
        }
        guard hasVowel(w, before: stem) else { return }
        w.removeLast(s.count)
        if ends(w, b("at")) || ends(w, b("bl")) || ends(w, b("iz")) {
            w.append(UInt8(ascii: "e"))
        } else if w.count >= 2, isDouble(w[w.count - 2], w[w.count - 1]) {
            // A double after a lone a, e or o at the start stays (add, egg, odd).
            if !(w.count == 3 && "aeo".utf8.contains(w[0])) { w.removeLast() }
        } else if isShort(w, r1: r1) {
            w.append(UInt8(ascii: "e"))
        }
    }

    private static func step1c(_ w: inout [UInt8]) {
        guard let last = w.last, last == y || last == Y, w.count > 2, !isVowel(w[w.count - 2]) else { return }
        w[w.count - 1] = UInt8(ascii: "i")
    }

    private static let step2Rules: [([UInt8], [UInt8])] = [
        ("tional", "tion"), ("enci", "ence"), ("anci", "ance"), ("abli", "able"), ("entli", "ent"),
        ("izer", "ize"), ("ization", "ize"), ("ational", "ate"), ("ation", "ate"), ("ator", "ate"),
        ("alism", "al"), ("aliti", "al"), ("alli", "al"), ("fulness", "ful"), ("ousli", "ous"),
        ("ousness", "ous"), ("iveness", "ive"), ("iviti", "ive"), ("biliti", "ble"), ("bli", "ble"),
        ("ogi", "og"), ("fulli", "ful"), ("lessli", "less"), ("li", ""),
    ].map { (b($0.0), b($0.1)) }

    private static func step2(_ w: inout [UInt8], r1: Int) {
        guard let s = longest(w, step2Suffixes), w.count - s.count >= r1 else { return }
        let stem = w.count - s.count
        if s == b("ogi") {
            if stem >= 1, w[stem - 1] == UInt8(ascii: "l") { replace(&w, s, b("og")) }
        } else if s == b("li") {
            if stem >= 1, isValidLiEnding(w[stem - 1]) { w.removeLast(2) }
        } else if let rule = step2Rules.first(where: { $0.0 == s }) {
            replace(&w, s, rule.1)
        }
    }

    private static let step3Rules: [([UInt8], [UInt8])] = [
        ("tional", "tion"), ("ational", "ate"), ("alize", "al"), ("icate", "ic"), ("iciti", "ic"),
        ("ical", "ic"), ("ful", ""), ("ness", ""), ("ative", ""),
    ].map { (b($0.0), b($0.1)) }

    private static func step3(_ w: inout [UInt8], r1: Int, r2: Int) {
        guard let s = longest(w, step3Suffixes), w.count - s.count >= r1 else { return }
        if s == b("ative") {
            if w.count - s.count >= r2 { w.removeLast(s.count) }
        } else if let rule = step3Rules.first(where: { $0.0 == s }) {
            replace(&w, s, rule.1)
        }
    }

    // The suffix lists, built once (not per word).
    private static let step0Suffixes: [[UInt8]] = ["'s'", "'s", "'"].map(b)
    private static let step1aSuffixes: [[UInt8]] = ["sses", "ied", "ies", "us", "ss", "s"].map(b)
    private static let step1bSuffixes: [[UInt8]] = ["eed", "eedly", "ed", "edly", "ing", "ingly"].map(b)
    private static let step2Suffixes: [[UInt8]] = step2Rules.map(\.0)
    private static let step3Suffixes: [[UInt8]] = step3Rules.map(\.0)

    private static let step4Suffixes: [[UInt8]] = [
        "al", "ance", "ence", "er", "ic", "able", "ible", "ant", "ement", "ment", "ent", "ism", "ate",
        "iti", "ous", "ive", "ize", "ion",
    ].map(b)

    private static func step4(_ w: inout [UInt8], r2: Int) {
        guard let s = longest(w, step4Suffixes), w.count - s.count >= r2 else { return }
        if s == b("ion") {
            let stem = w.count - s.count
            guard stem >= 1, w[stem - 1] == UInt8(ascii: "s") || w[stem - 1] == UInt8(ascii: "t") else { return }
        }
        w.removeLast(s.count)
    }

    private static func step5(_ w: inout [UInt8], r1: Int, r2: Int) {
        guard let last = w.last else { return }
        if last == UInt8(ascii: "e") {
            let stem = w.count - 1
            if stem >= r2 || (stem >= r1 && !endsInShortSyllable(w, stem)) { w.removeLast() }
        } else if last == UInt8(ascii: "l") {
            let stem = w.count - 1
            if stem >= r2, stem >= 1, w[stem - 1] == UInt8(ascii: "l") { w.removeLast() }
        }
    }

    // MARK: - Exceptions

    private static func b(_ s: String) -> [UInt8] { Array(s.utf8) }

    private static let r1Prefixes: [[UInt8]] = ["arsen", "commun", "emerg", "gener", "inter", "later", "organ", "past", "univers"].map(b)

    private static let eedKeepers: [[UInt8]] = ["succ", "proc", "exc"].map(b)
    private static let ingKeepers: [[UInt8]] = ["even", "cann", "inn", "earr", "herr", "out"].map(b)

    private static let exceptional: [[UInt8]: [UInt8]] = [
        "skis": "ski", "skies": "sky", "idly": "idl", "gently": "gentl", "ugly": "ugli", "early": "earli", "only": "onli", "singly": "singl",
        "sky": "sky", "news": "news", "howe": "howe", "atlas": "atlas", "cosmos": "cosmos", "bias": "bias",
        "andes": "andes",
    ].reduce(into: [:]) { $0[b($1.key)] = b($1.value) }
}
