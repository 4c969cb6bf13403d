import Foundation

/// What must match for a benchmark's recorded work to be reused: the sampler, the search seed (when one seed serves
/// the whole run; benchmarks with several seeds key each entry by its own), the batch, the equal-time study's k,
/// and a description of each model and reward (e.g. their directories).
public struct JournalIdentity: Codable, Equatable, Sendable {
    public var steps: Int, guidance: Float, eta: Float, scheduler: String?, seed: UInt64?, maxBatch: Int
    public var largeSamples: [Int]
    public var models: [String]

    public init(steps: Int, guidance: Float, eta: Float, scheduler: String?, seed: UInt64?, maxBatch: Int, largeSamples: [Int],
                models: [String]) {
        (self.steps, self.guidance, self.eta, self.scheduler, self.seed) = (steps, guidance, eta, scheduler, seed)
        (self.maxBatch, self.largeSamples, self.models) = (maxBatch, largeSamples, models)
    }

    /// What differs from `earlier`, each as "what earlier, now new".
    func differences(from earlier: JournalIdentity) -> [String] {
        var parts: [String] = []
        func note<T: Equatable>(_ name: String, _ key: KeyPath<JournalIdentity, T>, _ text: (T) -> String) {
            if earlier[keyPath: key] != self[keyPath: key] { parts.append("\(name) \(text(earlier[keyPath: key])), now \(text(self[keyPath: key]))") }
        }
        note("steps", \.steps) { "\($0)" }
        note("guidance", \.guidance) { "\($0)" }
        note("eta", \.eta) { "\($0)" }
        note("scheduler", \.scheduler) { $0 ?? "default" }
        note("seed", \.seed) { $0.map(String.init) ?? "per search" }
        note("max batch", \.maxBatch) { "\($0)" }
        note("large samples", \.largeSamples) { "\($0)" }
        note("models", \.models) { $0.joined(separator: ", ") }
        return parts
    }
}

/// A benchmark's finished work as a JSON-lines file, appended to as each piece finishes so that an interrupted run
/// (Ctrl-C, a crash, a session's end) resumes where it stopped: the same command reads the file back and skips
/// every piece it holds. Line 1 is `{"identity": …}`; every further line is one `Entry` as JSON.
///
/// Limits: a file written under another identity is refused (`ShapesBenchmarkError` naming what differs), never
/// mixed in; an incomplete last line (the process stopped while writing it) is dropped. Non-finite numbers are
/// written as "nan" / "inf" / "-inf". Entries record what was measured then: a resumed run's timings come from the
/// sessions that ran each piece.
public final class BenchmarkJournal<Entry: Codable> {
    public let url: URL
    /// The entries read back when the file was opened (not those appended since).
    public let entries: [Entry]
    private let handle: FileHandle

    private struct Header: Codable { var identity: JournalIdentity }

    /// Opens `url`, reading back what an earlier run with the same identity recorded; creates it when absent.
    public init(url: URL, identity: JournalIdentity) throws {
        self.url = url
        var text = ""
        if FileManager.default.fileExists(atPath: url.path) {
            do { text = try String(contentsOf: url, encoding: .utf8) } catch {
                throw ShapesBenchmarkError("\(url.path): \(error.localizedDescription)")
            }
        }
        // Only whole lines count: a line without its newline was being written when the run stopped.
        if !text.hasSuffix("\n") {
            text = text.lastIndex(of: "\n").map { String(text[...$0]) } ?? ""
        }
        let lines = text.split(separator: "\n")
        var entries: [Entry] = []
        if let first = lines.first {
            let recorded: JournalIdentity
            do { recorded = try Self.decoder.decode(Header.self, from: Data(first.utf8)).identity } catch {
                throw ShapesBenchmarkError("\(url.path): line 1 is not a journal entry holding a run's identity (\(error)); delete the file to start over")
            }
            if recorded != identity {
                throw ShapesBenchmarkError("\(url.path) was written by a run with other settings (\(identity.differences(from: recorded).joined(separator: "; "))); use another --out, or delete the file to start over")
            }
            for (i, line) in lines.dropFirst().enumerated() {
                do { entries.append(try Self.decoder.decode(Entry.self, from: Data(line.utf8))) } catch {
                    throw ShapesBenchmarkError("\(url.path): line \(i + 2) is not a journal entry (\(error)); delete the file to start over")
                }
            }
        } else {
            text = String(decoding: try Self.encode(Header(identity: identity)), as: UTF8.self)
        }
        self.entries = entries
        do {
            try Data(text.utf8).write(to: url, options: .atomic)
            handle = try FileHandle(forWritingTo: url)
            try handle.seekToEnd()
        } catch { throw ShapesBenchmarkError("\(url.path): \(error.localizedDescription)") }
    }

    deinit { try? handle.close() }

    /// Appends `entry` as one line.
    public func append(_ entry: Entry) throws {
        do { try handle.write(contentsOf: Self.encode(entry)) } catch {
            throw ShapesBenchmarkError("\(url.path): \(error.localizedDescription)")
        }
    }

    /// Deletes the file (once the report is written: a finished run leaves nothing to resume).
    public func remove() throws {
        try? handle.close()
        do { try FileManager.default.removeItem(at: url) } catch { throw ShapesBenchmarkError("\(url.path): \(error.localizedDescription)") }
    }

    private static var decoder: JSONDecoder {
        let d = JSONDecoder()
        d.nonConformingFloatDecodingStrategy = .convertFromString(positiveInfinity: "inf", negativeInfinity: "-inf", nan: "nan")
        return d
    }

    private static func encode<T: Encodable>(_ value: T) throws -> Data {
        let encoder = JSONEncoder()
        encoder.outputFormatting = .sortedKeys
        encoder.nonConformingFloatEncodingStrategy = .convertToString(positiveInfinity: "inf", negativeInfinity: "-inf", nan: "nan")
        return try encoder.encode(value) + Data("\n".utf8)
    }
}
