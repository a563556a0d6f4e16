import EngramIndex
import Testing

/// The README's usage example, kept compiling and correct.
@Test("the README example runs and returns what it says")
func readmeExample() throws {
    let index = try FlatIndex(dimension: 3, metric: .cosine)   // or .innerProduct, .squaredL2
    try index.add([1, 0, 0])                                    // id 0
    try index.add(contentsOf: [0, 1, 0, 0.7, 0.7, 0])           // ids 1 and 2, all or nothing
    let hits = try index.search([0.9, 0.1, 0], k: 2)            // best first: smaller distance is closer
    #expect(hits.map(\.id) == [0, 2])

    let allowed = Bitset(capacity: index.count, ids: [1, 2])
    let filtered = try index.search([0.9, 0.1, 0], k: 2, filter: .bitset(allowed))
    #expect(filtered.map(\.id) == [2, 1])
}

@Test("the README's HNSW example runs and returns what it says")
func readmeHNSWExample() throws {
    let graph = try HNSWIndex(dimension: 3, metric: .cosine, configuration: HNSWConfiguration(m: 16, efConstruction: 200))
    try graph.insert(contentsOf: [1, 0, 0, 0, 1, 0, 0.7, 0.7, 0], labels: [10, 20, 30], threads: 2)
    let near = try graph.search([0.9, 0.1, 0], k: 2, efSearch: 64)    // labels 10, 30
    #expect(near.map(\.id) == [10, 30])
    try graph.delete(30)                                              // never returned again
    graph.compact()                                                   // repair the graph, reuse the slot
    #expect(try graph.search([0.9, 0.1, 0], k: 2).map(\.id) == [10, 20])
    try graph.checkInvariants()
}

@Test("the README's IVF example runs and returns what it says")
func readmeIVFExample() throws {
    let ivf = try IVFIndex(dimension: 2, metric: .squaredL2, nlist: 2)
    try ivf.train([0, 0, 0, 1, 9, 9, 9, 10])                              // two clusters
    try ivf.add(contentsOf: [0, 0, 9, 9, 0, 1], labels: [1, 2, 3])
    let closest = try ivf.search([8, 8], k: 1, nprobe: 1)                 // label 2
    #expect(closest.map(\.id) == [2])
    #expect(ivf.invariantProblems() == [])
}
