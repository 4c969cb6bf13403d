/// Summary statistics for benchmark tables.
public enum Statistics {
    /// The median; the mean of the two middle values for an even count; NaN for no values.
    public static func median(_ values: [Double]) -> Double {
        let s = values.sorted()
        if s.isEmpty { return .nan }
        return s.count % 2 == 1 ? s[s.count / 2] : (s[s.count / 2 - 1] + s[s.count / 2]) / 2
    }

    /// The mean and the sample standard deviation (n − 1 in the denominator; 0 for one value, NaN for none).
    public static func meanAndStandardDeviation(_ values: [Double]) -> (mean: Double, standardDeviation: Double) {
        guard !values.isEmpty else { return (.nan, .nan) }
        let m = values.reduce(0, +) / Double(values.count)
        let v = values.count > 1 ? values.map { ($0 - m) * ($0 - m) }.reduce(0, +) / Double(values.count - 1) : 0
        return (m, v.squareRoot())
    }
}
