import EngramTestSupport
import EngramText
import Testing

#if canImport(Glibc)
import Glibc
#endif

/// The stemmer against the reference implementation, word for word.
@Suite("EnglishStemmer: Snowball English")
struct EnglishStemmerTests {
    /// `Fixtures/text/stems.tsv`: every word of the Python standard library's docstrings (and the
    /// algorithm's exceptional forms) with the stem `snowballstemmer` gives it.
    @Test("every stem of the committed vocabulary equals the reference implementation's")
    func referenceVocabulary() throws {
        let path = "\(RepositoryPaths.root)/Fixtures/text/stems.tsv"
        let text = try #require(GoldenFiles.readFile(path), "cannot read \(path)")
        var compared = 0
        var wrong = [String]()
        for line in text.split(separator: "\n") where !line.hasPrefix("#") {
            let parts = line.split(separator: "\t", omittingEmptySubsequences: false)
            guard parts.count == 2 else { continue }
            let got = EnglishStemmer.stem(String(parts[0]))
            if got != String(parts[1]) { wrong.append("\(parts[0]) → \(got), expected \(parts[1])") }
            compared += 1
        }
        #expect(compared > 5000)
        #expect(wrong.isEmpty, "\(wrong.count) of \(compared) differ, first: \(wrong.prefix(20))")
    }

    @Test("short words and words outside a–z come back unchanged")
    func unchanged() {
        for word in ["a", "is", "élan", "naïve", "x86", "ENOSPC", ""] { #expect(EnglishStemmer.stem(word) == word) }
    }
}
