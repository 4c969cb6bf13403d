import Foundation
import Search

/// The finished work of one `ShapesBenchmark` run, appended to a JSON-lines file as each piece finishes, so that
/// an interrupted run (Ctrl-C, a crash, a session's end) resumes where it stopped: the same command reads the file
/// back and skips every search it holds. The first line is the run's `Identity`; each further line is one grid
/// search (`Run`) or one prompt's equal-wall-time rows, which are kept or redone together because the small model's
/// NFE come from the large model's time measured in the same minutes.
///
/// Limits: a file written under another identity is refused (`ShapesBenchmarkError` naming what differs), never
/// mixed in; an incomplete last line (the process stopped while writing it) is dropped. Entries record what was
/// measured then: a resumed run's `seconds` come from the sessions that ran each search.
public final class ShapesBenchmarkJournal {
    /// What must match for recorded searches to be reused: the sampler, seed and batch, the equal-time study's k,
    /// and a description of each model and guide (e.g. their directories).
    public struct Identity: Codable, Equatable, Sendable {
        public var steps: Int, guidance: Float, eta: Float, scheduler: String?, seed: UInt64, maxBatch: Int
        public var largeSamples: [Int]
        public var models: [String]

        public init(settings: ShapesBenchmark.Settings, models: [String]) {
            (steps, guidance, eta, scheduler, seed) = (settings.steps, settings.guidance, settings.eta, settings.scheduler, settings.seed)
            (maxBatch, largeSamples, self.models) = (settings.maxBatch, settings.largeSamples, models)
        }
    }

    public let url: URL
    public let identity: Identity
    private var runs: [RunKey: ShapesBenchmark.Run] = [:]
    private var equalTime: [String: [ShapesBenchmark.EqualTimeRow]] = [:]
    private let handle: FileHandle

    /// Grid searches and equal-time prompts held: read back from the file, plus those recorded since.
    public var recorded: Int { runs.count + equalTime.count }

    /// Opens `url`, reading back what an earlier run with the same identity recorded; creates it when absent.
    public init(url: URL, identity: Identity) throws {
        self.url = url
        self.identity = identity
        let fm = FileManager.default
        var text = ""
        if fm.fileExists(atPath: url.path) {
            do { text = try String(contentsOf: url, encoding: .utf8) } catch {
                throw ShapesBenchmarkError("\(url.path): \(error.localizedDescription)")
            }
        }
        // Only whole lines count: a line without its newline was being written when the run stopped.
        let complete = text.hasSuffix("\n") ? text : String(text[..<(text.lastIndex(of: "\n").map { text.index(after: $0) } ?? text.startIndex)])
        let lines = complete.split(separator: "\n", omittingEmptySubsequences: true)
        let decoder = JSONDecoder()
        var body = complete
        if let first = lines.first {
            let line = try Self.decode(first, decoder, url: url, number: 1)
            guard let recorded = line.identity else { throw ShapesBenchmarkError("\(url.path): line 1 is not a run's identity; delete the file to start over") }
            if recorded != identity {
                throw ShapesBenchmarkError("\(url.path) was written by a run with other settings (\(Self.difference(recorded, identity))); use another --out, or delete the file to start over")
            }
            for (i, text) in lines.dropFirst().enumerated() {
                let line = try Self.decode(text, decoder, url: url, number: i + 2)
                if let run = line.run { runs[Self.key(run)] = run }
                if let rows = line.equalTime { equalTime[rows.prompt] = rows.rows }
            }
        } else {
            body = String(decoding: try Self.encode(Line(identity: identity)), as: UTF8.self)
        }
        do {
            try Data(body.utf8).write(to: url, options: .atomic)
            handle = try FileHandle(forWritingTo: url)
            try handle.seekToEnd()
        } catch { throw ShapesBenchmarkError("\(url.path): \(error.localizedDescription)") }
    }

    deinit { try? handle.close() }

    /// The recorded search of `guide` × `method` × `rollouts` on `prompt`; nil when not recorded.
    func run(guide: String, method: SearchMethod, rollouts: Int, prompt: String) -> ShapesBenchmark.Run? {
        runs[RunKey(guide: guide, method: method.rawValue, rollouts: rollouts, prompt: prompt)]
    }

    func record(_ run: ShapesBenchmark.Run) throws {
        runs[Self.key(run)] = run
        try append(Line(run: run))
    }

    /// `prompt`'s recorded equal-time rows; nil when the prompt was not finished.
    func equalTimeRows(prompt: String) -> [ShapesBenchmark.EqualTimeRow]? { equalTime[prompt] }

    func record(equalTime rows: [ShapesBenchmark.EqualTimeRow], prompt: String) throws {
        equalTime[prompt] = rows
        try append(Line(equalTime: PromptRows(prompt: prompt, rows: rows)))
    }

    /// Deletes the file (after the report is written: a finished run leaves nothing to resume).
    public func remove() throws {
        try? handle.close()
        do { try FileManager.default.removeItem(at: url) } catch { throw ShapesBenchmarkError("\(url.path): \(error.localizedDescription)") }
    }

    // MARK: File format

    private struct RunKey: Hashable {
        var guide: String, method: String, rollouts: Int, prompt: String
    }

    private static func key(_ run: ShapesBenchmark.Run) -> RunKey {
        RunKey(guide: run.guide, method: run.method.rawValue, rollouts: run.rollouts, prompt: run.prompt)
    }

    private struct PromptRows: Codable {
        var prompt: String
        var rows: [ShapesBenchmark.EqualTimeRow]
    }

    /// One line: exactly one of the three.
    private struct Line: Codable {
        var identity: Identity?
        var run: ShapesBenchmark.Run?
        var equalTime: PromptRows?
    }

    private func append(_ line: Line) throws {
        do { try handle.write(contentsOf: Self.encode(line)) } catch {
            throw ShapesBenchmarkError("\(url.path): \(error.localizedDescription)")
        }
    }

    private static func encode(_ line: Line) throws -> Data {
        let encoder = JSONEncoder()
        encoder.outputFormatting = .sortedKeys
        return try encoder.encode(line) + Data("\n".utf8)
    }

    private static func decode(_ text: Substring, _ decoder: JSONDecoder, url: URL, number: Int) throws -> Line {
        do { return try decoder.decode(Line.self, from: Data(text.utf8)) } catch {
            throw ShapesBenchmarkError("\(url.path): line \(number) is not a journal entry (\(error)); delete the file to start over")
        }
    }

    private static func difference(_ a: Identity, _ b: Identity) -> String {
        var parts: [String] = []
        if a.steps != b.steps { parts.append("steps \(a.steps), now \(b.steps)") }
        if a.guidance != b.guidance { parts.append("guidance \(a.guidance), now \(b.guidance)") }
        if a.eta != b.eta { parts.append("eta \(a.eta), now \(b.eta)") }
        if a.scheduler != b.scheduler { parts.append("scheduler \(a.scheduler ?? "default"), now \(b.scheduler ?? "default")") }
        if a.seed != b.seed { parts.append("seed \(a.seed), now \(b.seed)") }
        if a.maxBatch != b.maxBatch { parts.append("max batch \(a.maxBatch), now \(b.maxBatch)") }
        if a.largeSamples != b.largeSamples { parts.append("large samples \(a.largeSamples), now \(b.largeSamples)") }
        if a.models != b.models { parts.append("models \(a.models.joined(separator: ", ")), now \(b.models.joined(separator: ", "))") }
        return parts.joined(separator: "; ")
    }
}
