import Foundation
import Search

/// The finished work of one `ShapesBenchmark` run in a `BenchmarkJournal`: each grid search (`Run`) is one line,
/// and each prompt's equal-wall-time rows are one line, kept or redone together because the small model's NFE come
/// from the large model's time measured in the same minutes.
public final class ShapesBenchmarkJournal {
    /// One line: a grid search or one prompt's equal-time rows.
    struct Entry: Codable {
        var run: ShapesBenchmark.Run?
        var equalTime: PromptRows?
    }

    struct PromptRows: Codable {
        var prompt: String
        var rows: [ShapesBenchmark.EqualTimeRow]
    }

    private struct RunKey: Hashable {
        var guide: String, method: SearchMethod, rollouts: Int, prompt: String
        init(_ run: ShapesBenchmark.Run) { (guide, method, rollouts, prompt) = (run.guide, run.method, run.rollouts, run.prompt) }
        init(guide: String, method: SearchMethod, rollouts: Int, prompt: String) {
            (self.guide, self.method, self.rollouts, self.prompt) = (guide, method, rollouts, prompt)
        }
    }

    private let file: BenchmarkJournal<Entry>
    private var runs: [RunKey: ShapesBenchmark.Run] = [:]
    private var equalTime: [String: [ShapesBenchmark.EqualTimeRow]] = [:]

    public var url: URL { file.url }
    /// Grid searches and equal-time prompts held: read back from the file, plus those recorded since.
    public var recorded: Int { runs.count + equalTime.count }

    /// The identity of a run with `settings` on the models and rewards `models` describes.
    public static func identity(_ settings: ShapesBenchmark.Settings, models: [String]) -> JournalIdentity {
        JournalIdentity(steps: settings.steps, guidance: settings.guidance, eta: settings.eta, scheduler: settings.scheduler,
                        seed: settings.seed, maxBatch: settings.maxBatch, largeSamples: settings.largeSamples, models: models)
    }

    /// Opens `url` (see `BenchmarkJournal`), indexing what it holds.
    public init(url: URL, identity: JournalIdentity) throws {
        file = try BenchmarkJournal(url: url, identity: identity)
        for entry in file.entries {
            if let run = entry.run { runs[RunKey(run)] = run }
            if let rows = entry.equalTime { equalTime[rows.prompt] = rows.rows }
        }
    }

    /// The recorded search of `guide` × `method` × `rollouts` on `prompt`; nil when not recorded.
    func run(guide: String, method: SearchMethod, rollouts: Int, prompt: String) -> ShapesBenchmark.Run? {
        runs[RunKey(guide: guide, method: method, rollouts: rollouts, prompt: prompt)]
    }

    func record(_ run: ShapesBenchmark.Run) throws {
        runs[RunKey(run)] = run
        try file.append(Entry(run: run))
    }

    /// `prompt`'s recorded equal-time rows; nil when the prompt was not finished.
    func equalTimeRows(prompt: String) -> [ShapesBenchmark.EqualTimeRow]? { equalTime[prompt] }

    func record(equalTime rows: [ShapesBenchmark.EqualTimeRow], prompt: String) throws {
        equalTime[prompt] = rows
        try file.append(Entry(equalTime: PromptRows(prompt: prompt, rows: rows)))
    }

    /// Deletes the file.
    public func remove() throws { try file.remove() }
}
