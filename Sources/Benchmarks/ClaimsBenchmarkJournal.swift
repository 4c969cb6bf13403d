import Foundation

/// The finished work of one `ClaimsBenchmark` run in a `BenchmarkJournal`: each grid search (`ClaimsBenchmark.Run`)
/// is one line, keyed by guide, method, budget, prompt and seed; each (prompt, seed)'s equal-wall-time rows are one
/// line, kept or redone together. Because every entry carries its own seed and budget, a rerun with more seeds,
/// budgets, methods or prompts reuses what the journal holds and runs only the rest.
public final class ClaimsBenchmarkJournal {
    /// One line: a grid search or one (prompt, seed)'s equal-time rows.
    struct Entry: Codable {
        var run: ClaimsBenchmark.Run?
        var equalTime: UnitRows?
    }

    struct UnitRows: Codable {
        var prompt: String, seed: UInt64
        var rows: [ClaimsBenchmark.EqualTimeRun]
    }

    private struct RunKey: Hashable {
        var guide: String, method: String, rollouts: Int, prompt: String, seed: UInt64
    }

    private struct UnitKey: Hashable {
        var prompt: String, seed: UInt64
    }

    private let file: BenchmarkJournal<Entry>
    private var runs: [RunKey: ClaimsBenchmark.Run] = [:]
    private var equalTime: [UnitKey: [ClaimsBenchmark.EqualTimeRun]] = [:]

    public var url: URL { file.url }
    /// Grid searches and equal-time (prompt, seed) units held: read back from the file, plus those recorded since.
    public var recorded: Int { runs.count + equalTime.count }

    /// The identity of a run with `settings` on the models and rewards `models` describes (seeds are per entry).
    public static func identity(_ settings: ClaimsBenchmark.Settings, models: [String]) -> JournalIdentity {
        JournalIdentity(steps: settings.steps, guidance: settings.guidance, eta: settings.eta, scheduler: settings.scheduler,
                        seed: nil, maxBatch: settings.maxBatch, largeSamples: settings.largeSamples, models: models)
    }

    /// Opens `url` (see `BenchmarkJournal`), indexing what it holds.
    public init(url: URL, identity: JournalIdentity) throws {
        file = try BenchmarkJournal(url: url, identity: identity)
        for entry in file.entries {
            if let run = entry.run { runs[Self.key(run)] = run }
            if let unit = entry.equalTime { equalTime[UnitKey(prompt: unit.prompt, seed: unit.seed)] = unit.rows }
        }
    }

    private static func key(_ r: ClaimsBenchmark.Run) -> RunKey {
        RunKey(guide: r.guide, method: r.method, rollouts: r.rollouts, prompt: r.prompt, seed: r.seed)
    }

    /// The recorded search; nil when not recorded.
    func run(guide: String, method: String, rollouts: Int, prompt: String, seed: UInt64) -> ClaimsBenchmark.Run? {
        runs[RunKey(guide: guide, method: method, rollouts: rollouts, prompt: prompt, seed: seed)]
    }

    func record(_ run: ClaimsBenchmark.Run) throws {
        runs[Self.key(run)] = run
        try file.append(Entry(run: run))
    }

    /// The recorded equal-time rows of (`prompt`, `seed`); nil when that unit was not finished.
    func equalTimeRows(prompt: String, seed: UInt64) -> [ClaimsBenchmark.EqualTimeRun]? { equalTime[UnitKey(prompt: prompt, seed: seed)] }

    /// Records one unit's rows (all of one prompt and seed).
    func record(equalTime rows: [ClaimsBenchmark.EqualTimeRun], prompt: String, seed: UInt64) throws {
        equalTime[UnitKey(prompt: prompt, seed: seed)] = rows
        try file.append(Entry(equalTime: UnitRows(prompt: prompt, seed: seed, rows: rows)))
    }

    /// Deletes the file.
    public func remove() throws { try file.remove() }
}
