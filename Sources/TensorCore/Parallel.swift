import Foundation

/// Splits independent work over the machine's cores.
///
/// Work is cut into at most one contiguous chunk per core, each run via `DispatchQueue.concurrentPerform`;
/// everything runs inline when the total is too small to pay for a thread hop. (The operators in `Ops/` use
/// `WorkerPool` instead, which keeps threads awake for millisecond-scale work; moving this onto it needs the
/// pool to stop retaining the job closure after `run` returns.) Results must not depend on how work is split (callers write to
/// disjoint ranges), so outputs are identical for any core count.
public enum Parallel {
    /// Cores available, read once: on Linux `activeProcessorCount` reads cgroup files on every call, which
    /// would put a floor under every small operator (docs/BENCHMARKS.md).
    public static let cores = ProcessInfo.processInfo.activeProcessorCount

    /// Number of worker chunks used for `count` items of roughly `costPerItem` scalar operations each.
    public static func chunkCount(_ count: Int, costPerItem: Int) -> Int {
        if count < 2 || cores < 2 || count * Swift.max(costPerItem, 1) < 32_768 { return 1 }
        return Swift.min(cores, count)
    }

    /// Calls `body(range)` for disjoint ranges covering `0..<count`, concurrently where worthwhile.
    public static func forRanges(_ count: Int, costPerItem: Int = 1, _ body: @Sendable (Range<Int>) -> Void) {
        let chunks = chunkCount(count, costPerItem: costPerItem)
        if chunks <= 1 { if count > 0 { body(0..<count) }; return }
        DispatchQueue.concurrentPerform(iterations: chunks) { c in
            let lo = count * c / chunks, hi = count * (c + 1) / chunks
            if lo < hi { body(lo..<hi) }
        }
    }
}
