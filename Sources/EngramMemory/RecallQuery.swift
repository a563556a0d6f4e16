/// One recall of an agent's experiences (``Memory/recall(_:)``,
/// Docs/MEMORY.md, "Recall").
///
/// The scope (``tenant``, ``agent``: the agent's own experiences and its
/// groups'), ``kinds``, ``task``, the valid-time window (``from`` ≤
/// occurred at < ``to``), ``asOf`` (occurred at or before) and ``knownAt``
/// (recorded at or before) form one filter applied inside the search, with
/// expired experiences (expiry at or before ``now``) left out; so a recall
/// returns `min(k, visible)` hits. The candidates are ranked by relevance
/// (the vector's cosine, the text's BM25, or both fused by reciprocal rank,
/// each scaled so the best candidate is 1), times the recency decay
/// `0.5^(age / halfLife)` if ``halfLife`` is set, plus ``importanceWeight`` ×
/// importance if set; without either the order is the search's own.
public struct RecallQuery: Sendable {
    public var tenant: String
    public var agent: String
    public var vector: [Float]?
    public var text: String?
    public var kinds: [String]?
    public var task: String?
    public var from: MemoryTime?
    public var to: MemoryTime?
    public var asOf: MemoryTime?
    public var knownAt: MemoryTime?
    /// Seconds for a memory's relevance to halve with its age (from occurred at to ``now``).
    public var halfLife: Double?
    public var importanceWeight: Double?
    /// Maximal marginal relevance over the ranked candidates with this λ (0…1; 1: the ranking itself):
    /// each next hit maximises `λ · score − (1 − λ) · max cosine to the hits before it`.
    public var mmr: Double?
    public var k: Int
    /// The time recency and expiry are measured at (default: the clock).
    public var now: MemoryTime?

    public init(tenant: String, agent: String, vector: [Float]? = nil, text: String? = nil, kinds: [String]? = nil, task: String? = nil,
                from: MemoryTime? = nil, to: MemoryTime? = nil, asOf: MemoryTime? = nil, knownAt: MemoryTime? = nil,
                halfLife: Double? = nil, importanceWeight: Double? = nil, mmr: Double? = nil, k: Int = 10, now: MemoryTime? = nil) {
        self.tenant = tenant
        self.agent = agent
        self.vector = vector
        self.text = text
        self.kinds = kinds
        self.task = task
        self.from = from
        self.to = to
        self.asOf = asOf
        self.knownAt = knownAt
        self.halfLife = halfLife
        self.importanceWeight = importanceWeight
        self.mmr = mmr
        self.k = k
        self.now = now
    }
}

/// One recalled experience with its score and how it got it.
public struct RecallHit: Sendable, Equatable {
    public struct Explanation: Sendable, Equatable {
        /// The relevance, 0…1: the search's score over the best candidate's.
        public var relevance: Double
        /// The cosine distance to the query vector, if it was among the vector hits.
        public var vectorDistance: Float?
        /// The BM25 score, if it was among the text hits.
        public var textScore: Double?
        /// The recency factor, if a half-life was given.
        public var decay: Double?
        /// Seconds from occurred at to `now`.
        public var ageSeconds: Double
        public var importance: Double
        /// `importanceWeight × importance`, if a weight was given.
        public var importancePart: Double?
        /// With MMR: the largest cosine to an earlier hit (0 for the first), and the MMR score it was picked with.
        public var mmrMaxSimilarity: Double?
        public var mmrScore: Double?
    }

    public var experience: Experience
    public var score: Double
    public var explanation: Explanation
}
