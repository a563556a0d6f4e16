import EngramText
import Testing

@Suite("Tokenizer")
struct TokenizerTests {
    let tokenizer = Tokenizer()

    @Test("words are folded, stop words dropped, English stemmed", arguments: [
        ("The agents were Running retries", ["agent", "were", "run", "retri"]),
        ("Connection connected CONNECTING", ["connect", "connect", "connect"]),
        ("an error is not a warning", ["error", "warn"]),
        ("", []),
        ("  ,;!? ", []),
    ])
    func words(text: String, expected: [String]) {
        #expect(tokenizer.terms(text) == expected)
    }

    @Test("identifiers are kept whole as well as split", arguments: [
        ("ENOSPC on /dev/sda1", ["enospc", "dev", "sda1", "dev/sda1"]),
        ("apt install libfoo-dev", ["apt", "instal", "libfoo", "dev", "libfoo-dev"]),
        ("call os.path.join()", ["call", "os", "path", "join", "os.path.join"]),
        ("pi is 3.14.", ["pi", "3", "14", "3.14"]),
        ("mail user@example.com now", ["mail", "user", "exampl", "com", "user@example.com", "now"]),
        ("snake_case_name", ["snake", "case", "name", "snake_case_name"]),
        ("a -- b", ["b"]),
        ("x--y", ["x", "y"]),
    ])
    func identifiers(text: String, expected: [String]) {
        #expect(tokenizer.terms(text) == expected)
    }

    @Test("apostrophes: possessives stem away, curly ones count, trailing ones go")
    func apostrophes() {
        #expect(tokenizer.terms("the agent's memory") == ["agent", "memori"])
        #expect(tokenizer.terms("the agent\u{2019}s memory") == ["agent", "memori"])
        #expect(tokenizer.terms("the agents' memories") == ["agent", "memori"])
    }

    @Test("other scripts and digits are words too, kept as they are after folding")
    func unicode() {
        #expect(tokenizer.terms("Überprüfung fehlgeschlagen") == ["überprüfung", "fehlgeschlagen"])
        #expect(tokenizer.terms("ΑΒΓ 東京 x86_64") == ["αβγ", "東京", "x86", "64", "x86_64"])
    }

    @Test("a term longer than 64 bytes is dropped; options turn stemming, stop words and compounds off")
    func limitsAndOptions() {
        let long = String(repeating: "z", count: 65)
        #expect(tokenizer.terms("keep \(long) this") == ["keep"])
        let plain = Tokenizer(stopWords: [], stemming: false, keepCompounds: false)
        #expect(plain.terms("The Running libfoo-dev") == ["the", "running", "libfoo", "dev"])
    }
}
