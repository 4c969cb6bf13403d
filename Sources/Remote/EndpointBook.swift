import Foundation

/// What one endpoint did during a search: requests answered, rows served, time spent waiting for them, the
/// server's own compute time when it reports it (the rest is the wire: serialisation, transfer, queueing), and
/// failed attempts.
public struct EndpointStatistics: Sendable, Equatable {
    public var endpoint: String
    public var requests = 0
    public var rows = 0
    public var seconds = 0.0
    public var serverSeconds = 0.0
    public var failedAttempts = 0
    /// Taken out of the rotation after its attempts ran out.
    public var down = false
}

/// The shared, lock-protected record of every endpoint: its measured speed (rows per second, an exponential
/// average over its replies), whether it is down, and its statistics.
final class EndpointBook: @unchecked Sendable {
    private let lock = NSLock()
    private var speeds: [Double]
    private var stats: [EndpointStatistics]

    init(_ endpoints: [InferenceEndpoint]) {
        speeds = [Double](repeating: 0, count: endpoints.count)
        stats = endpoints.map { EndpointStatistics(endpoint: $0.description) }
    }

    var statistics: [EndpointStatistics] { lock.withLock { stats } }

    func isDown(_ i: Int) -> Bool { lock.withLock { stats[i].down } }

    /// Contiguous row ranges per endpoint (endpoint index, rows) for a batch of `rows`: endpoints that are up,
    /// in proportion to their speeds (an unmeasured one counts as the mean of the measured ones).
    func plan(rows: Int) -> [(endpoint: Int, rows: Range<Int>)] {
        let (up, speed): ([Int], [Double]) = lock.withLock {
            var up = stats.indices.filter { !stats[$0].down }
            if up.isEmpty { up = Array(stats.indices) }
            let known = up.map { speeds[$0] }.filter { $0 > 0 }
            let fill = known.isEmpty ? 1 : known.reduce(0, +) / Double(known.count)
            return (up, up.map { speeds[$0] > 0 ? speeds[$0] : fill })
        }
        var out: [(Int, Range<Int>)] = []
        var start = 0
        for (k, count) in splitRows(rows, speeds: speed).enumerated() where count > 0 {
            out.append((up[k], start..<start + count))
            start += count
        }
        return out
    }

    func recordSuccess(_ i: Int, rows: Int, seconds: Double, serverSeconds: Double?) {
        lock.withLock {
            let rate = Double(rows) / max(seconds, 1e-6)
            speeds[i] = speeds[i] > 0 ? 0.7 * speeds[i] + 0.3 * rate : rate
            stats[i].requests += 1
            stats[i].rows += rows
            stats[i].seconds += seconds
            stats[i].serverSeconds += serverSeconds ?? 0
        }
    }

    func recordFailure(_ i: Int) { lock.withLock { stats[i].failedAttempts += 1 } }

    func markDown(_ i: Int) { lock.withLock { stats[i].down = true } }
}
