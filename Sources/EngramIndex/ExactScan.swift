import EngramKernels

/// The one exact scan over packed rows, shared by ``FlatIndex``, the
/// engine's staging buffer and an IVF collection before training: every
/// row the filter admits is scored (four rows at a time through the
/// metric's batched kernel) and offered to a top-k heap.
///
/// The metric's kernel is chosen once per call, by ``scan(metric:query:rows:count:stride:labels:allowed:into:)``,
/// and the loop is specialised for it: no per-distance dispatch. HNSW's
/// exact plan scores graph slots (floats or 8-bit codes) through its own
/// scorer and does not come here.
package enum ExactScan {
    /// Scores `count` rows at `rows` (`stride` floats apart; the metric's
    /// dimension is `stride`) against the prepared `query`. A row's label is
    /// `labels[i]`, or `i` without labels; `allowed` (nil: every row) says
    /// which labels may be offered.
    package static func scan(
        metric: Metric, query: UnsafePointer<Float>, rows: UnsafePointer<Float>, count: Int, stride: Int,
        labels: UnsafeBufferPointer<VectorID>?, allowed: ((VectorID) -> Bool)?, into heap: inout TopKHeap
    ) {
        switch metric {
        case .squaredL2: scan(SquaredL2Kernel.self, query, rows, count, stride, labels, allowed, &heap)
        case .innerProduct: scan(InnerProductKernel.self, query, rows, count, stride, labels, allowed, &heap)
        case .cosine: scan(CosineKernel.self, query, rows, count, stride, labels, allowed, &heap)
        }
    }

    @inline(never)
    static func scan<K: DistanceKernel>(
        _: K.Type, _ query: UnsafePointer<Float>, _ rows: UnsafePointer<Float>, _ n: Int, _ stride: Int,
        _ labels: UnsafeBufferPointer<VectorID>?, _ allowed: ((VectorID) -> Bool)?, _ heap: inout TopKHeap
    ) {
        guard let allowed else {
            // Every row: consecutive rows four at a time, no gathering (the common, unfiltered case).
            if let labels {
                consecutive(K.self, query, rows, n, stride, &heap) { labels[$0] }
            } else {
                consecutive(K.self, query, rows, n, stride, &heap) { VectorID(truncatingIfNeeded: $0) }
            }
            return
        }
        @inline(__always) func label(_ i: Int) -> VectorID { labels.map { $0[i] } ?? VectorID(truncatingIfNeeded: i) }
        // Admitted rows are gathered four at a time for the batched kernel; the rest go one by one.
        var batch: (Int, Int, Int, Int) = (0, 0, 0, 0)
        var filled = 0
        var i = 0
        while i < n {
            let id = label(i)
            if allowed(id) {
                switch filled {
                case 0: batch.0 = i
                case 1: batch.1 = i
                case 2: batch.2 = i
                default: batch.3 = i
                }
                filled &+= 1
                if filled == 4 {
                    let d = K.distances4(query, rows + batch.0 &* stride, rows + batch.1 &* stride,
                                         rows + batch.2 &* stride, rows + batch.3 &* stride, count: stride)
                    heap.consider(distance: d[0], id: label(batch.0))
                    heap.consider(distance: d[1], id: label(batch.1))
                    heap.consider(distance: d[2], id: label(batch.2))
                    heap.consider(distance: d[3], id: label(batch.3))
                    filled = 0
                }
            }
            i &+= 1
        }
        if filled > 0 { heap.consider(distance: K.distance(query, rows + batch.0 &* stride, count: stride), id: label(batch.0)) }
        if filled > 1 { heap.consider(distance: K.distance(query, rows + batch.1 &* stride, count: stride), id: label(batch.1)) }
        if filled > 2 { heap.consider(distance: K.distance(query, rows + batch.2 &* stride, count: stride), id: label(batch.2)) }
    }

    @inline(__always)
    static func consecutive<K: DistanceKernel>(
        _: K.Type, _ query: UnsafePointer<Float>, _ rows: UnsafePointer<Float>, _ n: Int, _ stride: Int,
        _ heap: inout TopKHeap, label: (Int) -> VectorID
    ) {
        var row = rows
        var i = 0
        while i &+ 4 <= n {
            let d = K.distances4(query, row, row + stride, row + 2 &* stride, row + 3 &* stride, count: stride)
            heap.consider(distance: d[0], id: label(i))
            heap.consider(distance: d[1], id: label(i &+ 1))
            heap.consider(distance: d[2], id: label(i &+ 2))
            heap.consider(distance: d[3], id: label(i &+ 3))
            row += 4 &* stride
            i &+= 4
        }
        while i < n {
            heap.consider(distance: K.distance(query, row, count: stride), id: label(i))
            row += stride
            i &+= 1
        }
    }
}
