import Foundation
import Imaging
import Reports
import Rewards
import Sampling
import Search
import StableDiffusion
import Testing

@Suite struct OutputDirectoryTests {
    @Test func writesEveryArtifactAndAResultWithoutPixels() throws {
        let dir = try temporaryDirectory("output")
        defer { try? FileManager.default.removeItem(at: dir) }
        // Files of an earlier, longer search in the same directory.
        for stale in ["generation-7.png", "top-9.png"] { try Data([1]).write(to: dir.appendingPathComponent(stale)) }
        try Data([1]).write(to: dir.appendingPathComponent("notes-1.png"))

        let r = try syntheticResult()
        let output = SearchOutput(result: r, decode: { $0 }, prompt: "p", keepTop: 3, json: ["seed": 7, "prompt": "p"])
        let files = try output.write(to: dir)
        #expect(files == ["best.png", "top-1.png", "top-2.png", "top-3.png", "generation-0.png", "generation-1.png",
                          "generation-2.png", "report.html", "result.json"])
        for f in files { #expect(FileManager.default.fileExists(atPath: dir.appendingPathComponent(f).path), "\(f) missing") }
        #expect(!FileManager.default.fileExists(atPath: dir.appendingPathComponent("generation-7.png").path))
        #expect(!FileManager.default.fileExists(atPath: dir.appendingPathComponent("top-9.png").path))
        #expect(FileManager.default.fileExists(atPath: dir.appendingPathComponent("notes-1.png").path), "only our own names are cleaned")

        // best.png is the winner, top-2 the runner-up.
        let best = try PNG.read(path: dir.appendingPathComponent("best.png").path)
        #expect(best.width == 8 && best.pixels[0] == UInt8((0.95 * 255).rounded()))
        let second = try PNG.read(path: dir.appendingPathComponent("top-2.png").path)
        #expect(second.pixels[0] == UInt8((0.7 * 255).rounded()))
        // Contact sheet: 4 tiles of 64 px (8 px enlarged ×8) in one row.
        let sheet = try PNG.read(path: dir.appendingPathComponent("generation-0.png").path)
        #expect(sheet.width == 4 * 64 + 5 * 4)

        let json = try #require(try JSONSerialization.jsonObject(with: Data(contentsOf: dir.appendingPathComponent("result.json"))) as? [String: Any])
        let history = try #require(json["history"] as? [[String: Any]])
        #expect(history.count == 12)
        for h in history {
            for key in ["id", "generation", "parent", "origin", "reward", "nfe"] { #expect(h[key] != nil, "history entry lacks \(key)") }
            #expect(h["sample"] == nil, "no pixels in result.json")
        }
        #expect((json["best"] as? [String: Any])?["sample"] == nil)
        #expect((json["curve"] as? [Any])?.count == 3)
        #expect(json["seed"] as? Int == 7)
        #expect(json["files"] as? [String] == files)
        #expect((json["settings"] as? [String: String])?["script_generations"] == "3")
        #expect(abs((json["best_reward"] as? Double ?? 0) - 0.95) < 1e-6)
    }

    @Test func interruptedSearchStillWritesEverythingMarked() throws {
        let dir = try temporaryDirectory("interrupted")
        defer { try? FileManager.default.removeItem(at: dir) }
        let r = try syntheticResult(interruptAfter: 1)
        let files = try SearchOutput(result: r, decode: { $0 }, prompt: "p").write(to: dir)
        #expect(files.contains("report.html") && files.contains("generation-0.png") && !files.contains("generation-1.png"))
        let html = try String(contentsOf: dir.appendingPathComponent("report.html"), encoding: .utf8)
        #expect(html.contains("id=\"interrupted\""))
        let json = try #require(try JSONSerialization.jsonObject(with: Data(contentsOf: dir.appendingPathComponent("result.json"))) as? [String: Any])
        #expect(json["interrupted"] as? Bool == true)
    }

    @Test func unwritableDirectoryIsAnError() throws {
        let dir = try temporaryDirectory("blocked")
        defer { try? FileManager.default.removeItem(at: dir) }
        let file = dir.appendingPathComponent("a-file")
        try Data([1]).write(to: file)
        #expect(throws: ReportError.self) {
            try SearchOutput(result: try syntheticResult(), decode: { $0 }, prompt: "p").write(to: file.appendingPathComponent("sub"))
        }
    }
}

/// A real search on the tiny random Stable Diffusion pipeline of the model tests (16×16 images, 4 steps).
@Suite struct RealSearchReportTests {
    static let pipelineDirectory = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .appendingPathComponent("ModelsTests/Fixtures/sd/pipeline-tiny")

    static func search() throws -> (SearchResult, any Trajectory) {
        let pipeline = try StableDiffusionPipeline(directory: pipelineDirectory)
        let trajectory = try pipeline.makeTrajectory(GenerationRequest(prompt: "a red circle", guidance: 7.5, steps: 4, scheduler: "ddim", eta: 1))
        let result = try EvoSearch().search(trajectory, reward: ImageStatisticReward(.brightness), budget: 96,
                                            options: SearchOptions(seed: 1, maxBatch: 16))
        return (result, trajectory)
    }

    @Test func reportOfARealSearchIsCompleteAndOpensInChromium() throws {
        let (result, trajectory) = try Self.search()
        #expect(result.history.allSatisfy { $0.state.count == trajectory.stateShape.reduce(1, *) }, "the history keeps latents, not pixels")
        #expect(result.history.count > 4 && result.nfe <= 96)
        let dir = try temporaryDirectory("real")
        defer { try? FileManager.default.removeItem(at: dir) }
        let files = try SearchOutput(result: result, decode: { try trajectory.decode($0) }, prompt: "a red circle",
                                     parameters: [ReportParameter("model", "pipeline-tiny")]).write(to: dir)
        let generations = Set(result.history.map(\.generation))
        #expect(generations.count >= 2, "EvoSearch ran more than one generation")
        for g in generations { #expect(files.contains("generation-\(g).png")) }
        let html = try String(contentsOf: dir.appendingPathComponent("report.html"), encoding: .utf8)
        #expect(xmlError(html) == nil)
        #expect(imageSources(html).count == 1 + SearchReport.lineage(of: result.best, in: result.history).count + result.history.count)

        let run = try Chromium.dumpDOM(dir.appendingPathComponent("report.html"))
        #expect(run.status == 0, "chromium exited with \(run.status)")
        #expect(Chromium.consoleProblems(run.log).isEmpty, "console: \(Chromium.consoleProblems(run.log))")
        for g in generations { #expect(run.dom.contains("id=\"generation-\(g)\"")) }
        #expect(run.dom.contains("id=\"lineage\"") && run.dom.contains("<svg"))
    }
}
