/// The nearest-rank percentile of `values` (`p` in 0...1; 1 is the largest), or 0 when empty.
public func percentile(_ values: [UInt64], _ p: Double) -> UInt64 {
    guard !values.isEmpty else { return 0 }
    let sorted = values.sorted()
    let index = min(sorted.count - 1, max(0, Int((Double(sorted.count) * p).rounded(.up)) - 1))
    return sorted[index]
}
