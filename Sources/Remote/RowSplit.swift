/// Splits `rows` batch rows into contiguous shares proportional to each endpoint's measured speed (rows per
/// second; all equal before the first measurement), largest remainders first. Every endpoint gets at least one
/// row while there are rows enough, so a slow one keeps being measured. Returns one count per endpoint, in order.
public func splitRows(_ rows: Int, speeds: [Double]) -> [Int] {
    precondition(!speeds.isEmpty && rows >= 0, "splitRows: no endpoints")
    let n = speeds.count
    let positive = speeds.map { $0.isFinite && $0 > 0 ? $0 : 0 }
    let total = positive.reduce(0, +)
    let weights = total > 0 ? positive.map { $0 / total } : [Double](repeating: 1 / Double(n), count: n)
    let floor1 = rows >= n ? 1 : 0
    let spare = rows - floor1 * n
    let exact = weights.map { $0 * Double(spare) }
    var counts = exact.map { Int($0) }
    var left = spare - counts.reduce(0, +)
    for i in (0..<n).sorted(by: { exact[$0] - Double(counts[$0]) > exact[$1] - Double(counts[$1]) }) where left > 0 {
        counts[i] += 1; left -= 1
    }
    if floor1 == 0 {  // fewer rows than endpoints: the fastest take one each
        counts = [Int](repeating: 0, count: n)
        for i in (0..<n).sorted(by: { weights[$0] > weights[$1] }).prefix(rows) { counts[i] = 1 }
        return counts
    }
    return counts.map { $0 + floor1 }
}
