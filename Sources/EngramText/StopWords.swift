/// Words too common to index, removed before stemming.
public enum StopWords {
    /// English: the 33 words of Lucene's `EnglishAnalyzer` (the list bm25s and Elasticsearch use too),
    /// so BM25 rankings compare with theirs term for term.
    public static let english: Set<String> = [
        "a", "an", "and", "are", "as", "at", "be", "but", "by", "for", "if", "in", "into", "is", "it", "no", "not",
        "of", "on", "or", "such", "that", "the", "their", "then", "there", "these", "they", "this", "to", "was",
        "will", "with",
    ]
}
