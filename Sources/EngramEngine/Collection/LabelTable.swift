import EngramIndex

/// Where each of a collection's labels is: every version of a record gets
/// its own label, so the graph never holds a stale vector under a live
/// label, and a label is reused only once nothing refers to it any more.
///
/// Invariants:
/// - A label is in `free` exactly when its placement is `.free`.
/// - `.staged` and `.deadStaged` labels have a row in the staging buffer,
///   and a label has at most one row there: a dead row's label is freed
///   only once its block is removed, never while the indexer inserts it
///   (`Collection.indexOldestBlock`; `LabelReuseTests`);
///   `.inFlight` and `.deadInFlight` labels are in the block the indexer is
///   inserting; `.indexed` labels are live in the graph; no other label is
///   in the graph.
/// - `deadInFlight` counts the `.deadInFlight` labels.
///
/// Not synchronised: the owning ``Collection`` guards it with its lock.
struct LabelTable {
    enum Placement: UInt8 {
        case free, staged, inFlight, indexed, deadStaged, deadInFlight

        /// A live record's current version.
        var isLive: Bool { self == .staged || self == .inFlight || self == .indexed }
    }

    private(set) var placements: [Placement] = []
    /// The LSN of the write that created each label's version (0 when free).
    private(set) var lsns: [UInt64] = []
    private var free: [VectorID] = []
    private(set) var deadInFlight = 0

    /// Labels ever handed out: every label is below it.
    var bound: Int { placements.count }

    func placement(_ label: VectorID) -> Placement { placements[Int(label)] }
    func lsn(_ label: VectorID) -> UInt64 { lsns[Int(label)] }

    /// A free label, placed `placement`, for the version written at `lsn`.
    mutating func allocate(_ placement: Placement, lsn: UInt64) -> VectorID {
        if let label = free.popLast() {
            placements[Int(label)] = placement
            lsns[Int(label)] = lsn
            return label
        }
        placements.append(placement)
        lsns.append(lsn)
        return VectorID(placements.count - 1)
    }

    mutating func set(_ label: VectorID, _ placement: Placement) {
        let old = placements[Int(label)]
        if old == .deadInFlight { deadInFlight -= 1 }
        if placement == .deadInFlight { deadInFlight += 1 }
        placements[Int(label)] = placement
        if placement == .free {
            lsns[Int(label)] = 0
            free.append(label)
        }
    }

    /// Marks a live label's version dead; returns whether the caller must
    /// now delete it from the graph (and then free it).
    mutating func kill(_ label: VectorID) -> Bool {
        switch placement(label) {
        case .staged: set(label, .deadStaged)
        case .inFlight: set(label, .deadInFlight)
        case .indexed: return true
        case .free, .deadStaged, .deadInFlight: break
        }
        return false
    }

    /// Rebuilds a table from a snapshot: `placed` labels get their placement
    /// and LSN, every other label below `bound` is free.
    init(bound: Int, placed: [(VectorID, Placement, UInt64)]) {
        placements = [Placement](repeating: .free, count: bound)
        lsns = [UInt64](repeating: 0, count: bound)
        for (label, placement, lsn) in placed {
            placements[Int(label)] = placement
            lsns[Int(label)] = lsn
        }
        free = (0..<bound).reversed().compactMap { placements[$0] == .free ? VectorID($0) : nil }
    }

    init() {}
}
