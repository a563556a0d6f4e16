/// `Σ codes[t] · weights[t]` over `count` 8-bit codes and 16-bit weights,
/// in wrapping 32-bit integer arithmetic: the inner loop of scalar-quantised
/// (SQ8) search, where `weights` is the query quantised once per search.
///
/// Written as a plain loop with wrapping `&+`/`&*` so that LLVM vectorises
/// it (zero-extend to 16 bits, `vpmaddwd`, 32-bit adds): 15 ns at d 384 on
/// the project machine against 64 ns for the float inner product over the
/// same rows (Docs/KERNELS.md). Checked arithmetic would block the
/// vectorisation (notes: 281 ns).
///
/// The caller keeps the sum in range: with `|weights[t]| ≤ w`, the result
/// is exact while `255 · w · count < 2³¹` (``ScalarQuantizer`` picks `w`
/// from the dimension).
@inlinable
public func codeDotProduct(_ codes: UnsafePointer<UInt8>, _ weights: UnsafePointer<Int16>, count: Int) -> Int32 {
    var sum: Int32 = 0
    for t in 0..<count {
        sum &+= Int32(truncatingIfNeeded: codes[t]) &* Int32(truncatingIfNeeded: weights[t])
    }
    return sum
}
