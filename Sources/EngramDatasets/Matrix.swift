/// A dense row-major matrix read from or written to a dataset file.
///
/// Invariant: `values.count == rows * columns`.
public struct Matrix<Scalar: BitwiseCopyable & Sendable & Equatable>: Sendable, Equatable {
    public private(set) var rows: Int
    public let columns: Int
    public private(set) var values: [Scalar]

    /// A matrix over `values` (row after row); `nil` unless
    /// `values.count == rows * columns` with `rows, columns ≥ 0`.
    public init?(rows: Int, columns: Int, values: [Scalar]) {
        guard rows >= 0, columns >= 0, rows * columns == values.count else { return nil }
        self.rows = rows
        self.columns = columns
        self.values = values
    }

    /// Row `i` as a new array.
    public func row(_ i: Int) -> ArraySlice<Scalar> {
        values[(i * columns)..<((i + 1) * columns)]
    }

    /// The first `count` rows (all of them if `count ≥ rows`).
    public func prefix(rows count: Int) -> Matrix {
        let kept = Swift.max(0, Swift.min(count, rows))
        return Matrix(rows: kept, columns: columns, values: Array(values[0..<(kept * columns)]))!
    }
}

public typealias FloatMatrix = Matrix<Float>
public typealias Int32Matrix = Matrix<Int32>
