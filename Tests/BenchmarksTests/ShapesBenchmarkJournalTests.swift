import Foundation
import Search
import Testing
@testable import Benchmarks

@Suite struct ShapesBenchmarkJournalTests {
    static func identity(seed: UInt64 = 7) -> JournalIdentity {
        var settings = ShapesBenchmarkTests.settings()
        settings.seed = seed
        return ShapesBenchmarkJournal.identity(settings, models: ["small models/shapes-sd-small", "large none", "no clip"])
    }

    static func directory() throws -> URL {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("journal-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        return dir
    }

    static func run(_ method: SearchMethod, rollouts: Int, prompt: String, score: Double) -> ShapesBenchmark.Run {
        ShapesBenchmark.Run(guide: "shapes-verifier", method: method, rollouts: rollouts, nfe: 999, prompt: prompt, task: "t",
                            score: score, correct: false, guideReward: Float(score), rewardCalls: 3, seconds: 0.125)
    }

    static let equalTimeRow = ShapesBenchmark.EqualTimeRow(largeSamples: 1, prompt: "p", task: "t", model: "large", method: "1 sample",
                                                           nfe: 77, score: 0.3, correct: false, seconds: 2.5)

    /// What one opening records, the next reads back, with the values exact; a half-written last line is dropped
    /// and appending goes on after the whole lines.
    @Test func recordsAreReadBackAfterAnInterruption() throws {
        let url = try Self.directory().appendingPathComponent("journal.jsonl")
        let first = try ShapesBenchmarkJournal(url: url, identity: Self.identity())
        #expect(first.recorded == 0)
        try first.record(Self.run(.bestOfN, rollouts: 4, prompt: "p", score: 0.1 + 0.2))
        try first.record(Self.run(.evosearch, rollouts: 4, prompt: "p", score: 1))
        try first.record(equalTime: [Self.equalTimeRow], prompt: "p")
        let handle = try FileHandle(forWritingTo: url)
        try handle.seekToEnd()
        try handle.write(contentsOf: Data("{\"run\":{\"guide\":".utf8))
        try handle.close()

        let second = try ShapesBenchmarkJournal(url: url, identity: Self.identity())
        #expect(second.recorded == 3)
        let back = try #require(second.run(guide: "shapes-verifier", method: .bestOfN, rollouts: 4, prompt: "p"))
        #expect(back.score == 0.1 + 0.2 && back.nfe == 999 && back.seconds == 0.125 && back.guideReward == Float(0.1 + 0.2))
        #expect(second.run(guide: "shapes-verifier", method: .bestOfN, rollouts: 16, prompt: "p") == nil)
        #expect(second.run(guide: "clip", method: .bestOfN, rollouts: 4, prompt: "p") == nil)
        #expect(second.equalTimeRows(prompt: "p")?.map(\.nfe) == [77])
        #expect(second.equalTimeRows(prompt: "q") == nil)
        try second.record(Self.run(.beam, rollouts: 4, prompt: "p", score: 0.5))

        let third = try ShapesBenchmarkJournal(url: url, identity: Self.identity())
        #expect(third.recorded == 4)
        #expect(third.run(guide: "shapes-verifier", method: .beam, rollouts: 4, prompt: "p")?.score == 0.5)
        try third.remove()
        #expect(!FileManager.default.fileExists(atPath: url.path))
    }

    @Test func aJournalOfOtherSettingsIsRefused() throws {
        let url = try Self.directory().appendingPathComponent("journal.jsonl")
        _ = try ShapesBenchmarkJournal(url: url, identity: Self.identity(seed: 7))
        #expect { try ShapesBenchmarkJournal(url: url, identity: Self.identity(seed: 8)) } throws: {
            "\($0)".contains("other settings (seed 7, now 8)") && "\($0)".contains("use another --out, or delete the file")
        }
        try Data("not json\n".utf8).write(to: url)
        #expect { try ShapesBenchmarkJournal(url: url, identity: Self.identity()) } throws: { "\($0)".contains("line 1 is not a journal entry") }
    }

    /// A file as written before the journal's mechanics were shared with bench claims (this exact text) still
    /// resumes: an interrupted multi-hour run stays usable.
    @Test func readsTheLineFormatItHasAlwaysWritten() throws {
        let url = try Self.directory().appendingPathComponent("journal.jsonl")
        let text = #"""
        {"identity":{"eta":1,"guidance":1.5,"largeSamples":[1,4],"maxBatch":16,"models":["small m","large l","no clip"],"seed":0,"steps":20}}
        {"run":{"correct":true,"guide":"shapes-video-verifier","guideReward":1,"method":"best-of-n","nfe":80,"prompt":"p","rewardCalls":4,"rollouts":4,"score":1,"seconds":2.5,"task":"single_motion"}}
        {"equalTime":{"prompt":"p","rows":[{"correct":false,"largeSamples":1,"method":"1 sample","model":"large","nfe":20,"prompt":"p","score":0.5,"seconds":0.75,"task":"single_motion"}]}}

        """#
        try Data(text.utf8).write(to: url)
        let settings = ShapesBenchmark.Settings(steps: 20, guidance: 1.5, eta: 1, seed: 0, rollouts: [4], methods: [.bestOfN], largeSamples: [1, 4])
        let journal = try ShapesBenchmarkJournal(url: url, identity: ShapesBenchmarkJournal.identity(settings, models: ["small m", "large l", "no clip"]))
        #expect(journal.recorded == 2)
        #expect(journal.run(guide: "shapes-video-verifier", method: .bestOfN, rollouts: 4, prompt: "p")?.seconds == 2.5)
        #expect(journal.equalTimeRows(prompt: "p")?.first?.score == 0.5)
    }

    /// Non-finite numbers (a reward that returned NaN) are written and read back instead of failing the run.
    @Test func nonFiniteValuesRoundTrip() throws {
        let url = try Self.directory().appendingPathComponent("journal.jsonl")
        var run = Self.run(.bestOfN, rollouts: 1, prompt: "p", score: 0)
        run.guideReward = .nan
        try ShapesBenchmarkJournal(url: url, identity: Self.identity()).record(run)
        let back = try ShapesBenchmarkJournal(url: url, identity: Self.identity())
        #expect(back.run(guide: "shapes-verifier", method: .bestOfN, rollouts: 1, prompt: "p")?.guideReward.isNaN == true)
    }

    /// The grid and the equal-time study take recorded searches instead of searching (a fabricated record comes
    /// back as it was), search the rest, and record them: a second pass over the same journal repeats the first
    /// exactly, timings included.
    @Test func benchmarkSkipsRecordedSearches() throws {
        let pipeline = try ShapesBenchmarkTests.pipeline()
        let prompt = JudgedPrompt.heldout(.image, perTask: 1)[0]
        let settings = ShapesBenchmarkTests.settings(methods: [.bestOfN], rollouts: [1, 2])
        let url = try Self.directory().appendingPathComponent("journal.jsonl")
        let identity = ShapesBenchmarkJournal.identity(settings, models: ["small"])
        var bench = ShapesBenchmark(settings: settings, prompts: [prompt], guides: [.verifier(.image)])
        bench.journal = try ShapesBenchmarkJournal(url: url, identity: identity)
        let fabricated = Self.run(.bestOfN, rollouts: 1, prompt: prompt.text, score: 0.25)
        try bench.journal?.record(fabricated)
        var row = Self.equalTimeRow
        row.prompt = prompt.text
        try bench.journal?.record(equalTime: [row], prompt: prompt.text)

        let runs = try bench.runGrid(on: pipeline)
        #expect(runs.map(\.rollouts) == [1, 2])
        #expect(runs[0].nfe == 999 && runs[0].score == 0.25)
        #expect(runs[1].nfe <= 2 * settings.steps && runs[1].seconds > 0)
        #expect(try bench.runEqualTime(small: pipeline, large: pipeline).map(\.nfe) == [77])

        bench.journal = try ShapesBenchmarkJournal(url: url, identity: identity)
        #expect(bench.journal?.recorded == 3)
        let again = try bench.runGrid(on: pipeline)
        #expect(again.map(\.seconds) == runs.map(\.seconds) && again.map(\.score) == runs.map(\.score))
    }
}
