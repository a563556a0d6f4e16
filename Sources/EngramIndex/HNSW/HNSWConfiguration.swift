/// The parameters of an ``HNSWIndex`` (Malkov & Yashunin, 2016/2018).
public struct HNSWConfiguration: Sendable, Equatable {
    /// Links per node on the upper layers; layer 0 keeps `2·m`. 2…128.
    public var m: Int
    /// Candidate list size while inserting: larger builds a better graph, slower. ≥ `m`.
    public var efConstruction: Int
    /// Default candidate list size of a search (a search may pass its own). ≥ 1.
    public var efSearch: Int
    /// Seeds the level of each inserted node, so a single-threaded build is reproducible.
    public var seed: UInt64

    public init(m: Int = 16, efConstruction: Int = 200, efSearch: Int = 64, seed: UInt64 = 100) {
        self.m = m
        self.efConstruction = efConstruction
        self.efSearch = efSearch
        self.seed = seed
    }

    /// Throws ``IndexError/invalidParameter(_:value:)`` for the first bad value.
    public func validate() throws(IndexError) {
        guard (2...128).contains(m) else {
            throw .invalidParameter(.m, value: m)
        }
        guard efConstruction >= m && efConstruction <= 100_000 else {
            throw .invalidParameter(.efConstruction, value: efConstruction)
        }
        guard (1...100_000).contains(efSearch) else {
            throw .invalidParameter(.efSearch, value: efSearch)
        }
    }
}
