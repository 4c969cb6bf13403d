import ArgumentParser
import Benchmarks
import Catalog
import Foundation
import Rewards
import Sampling

/// `evosearch bench shapes`: parses the flags, runs `ShapesBenchmark` (the grid and the equal-wall-time study) and
/// writes `ShapesBenchmarkReport`.
struct BenchShapes: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "shapes",
        abstract: "Search methods on the shapes prompt suite: verifier accuracy against NFE, and small+search vs large.",
        discussion: """
        For each held-out prompt, guiding reward (shapes-verifier, and clip on shapes-clip), budget (rollouts × steps \
        NFE) and method (default settings derived from the budget; a method that cannot run at a budget is skipped), \
        one search with seed --seed on shapes-sd-small; its best image is judged by the exact verifier. "accuracy" = \
        fraction of prompts whose every constraint holds; "score" = mean fraction of constraints satisfied. Then, per \
        prompt and each --large-samples k, shapes-sd-large runs verifier-guided Best-of-k and shapes-sd-small runs \
        Best-of-N and EvoSearch guided by the verifier with the NFE that fit in the large model's measured wall \
        time. Writes OUT/runs.csv, \
        OUT/equal-time.csv, OUT/accuracy.svg and OUT/table.md. The same grid then runs on the flow model --flux \
        (shapes-flux-small: the flow SDE at η 1, guidance as true CFG) into OUT/flux/. --quick: one prompt per task \
        type, budgets 1, 4, 16 rollouts of 10 steps (a few minutes; run by scripts/test.sh).

        --video runs the same on the moving-shapes world: the held-out video prompts, shapes-wan-small against \
        shapes-wan-large, guided by shapes-video-verifier and by shapes-clip averaged over --frame-average evenly \
        spaced frames, every best video judged by the video verifier (no flow-model grid).

        Each finished search is appended to OUT/journal.jsonl (OUT/flux/journal.jsonl for the flow grid), so an \
        interrupted run (Ctrl-C stops at the next model call) loses nothing: the same command again skips every \
        search recorded there and goes on. A journal written with other settings or models is refused. The journal is \
        deleted once the report is written.
        """)

    @Flag(name: .long, help: "The moving-shapes world: video prompts, shapes-wan-small vs shapes-wan-large, the video verifier.")
    var video = false
    @Option(name: .long, help: "Frames the clip-guided video searches average shapes-clip over (--video).")
    var frameAverage: Int = 4

    @Flag(name: .long, help: "Small run: one prompt per task type, budgets 1,4,16 rollouts, 10 steps.")
    var quick = false
    @Option(name: .long, help: "Budgets in rollouts, comma-separated (default 1,4,16,64; quick 1,4,16).")
    var rollouts: IntList?
    @Option(name: .long, help: "Held-out prompts per task type (default: all; quick: 1).")
    var promptsPerTask: Int?
    @Option(name: .long, help: "Methods, comma-separated (default: all).")
    var methods: String?
    @OptionGroup(title: "Sampler (steps default 20, quick 10)") var sampler: SamplerOptions
    @Option(name: .long, help: "Seed of every search.")
    var seed: UInt64 = 0
    @Option(name: .long, help: "Small model (directory or embedded name; default shapes-sd-small, --video shapes-wan-small).")
    var small: String?
    @Option(name: .long, help: "Large model for the equal-wall-time comparison (\"none\" skips it; default shapes-sd-large, --video shapes-wan-large).")
    var large: String?
    @Option(name: .long, help: "Samples of the large model (verifier-guided Best-of-k) in the equal-wall-time comparison, comma-separated (default 1,4; quick 1).")
    var largeSamples: IntList?
    @Option(name: .long, help: "Flow model whose grid also runs, into OUT/flux (\"none\" skips it; default shapes-flux-small, none with --video).")
    var flux: String?
    @Option(name: .long, help: "CLIP model of the learned reward (\"none\" skips the clip-guided runs).")
    var clipModel: String = "shapes-clip"
    @Option(name: .long, help: "Output directory (default out/bench-shapes, --video out/bench-shapes-video).")
    var out: String?
    @Flag(name: .long, help: "No progress output.")
    var quiet = false

    func run() throws {
        let s = sampler.forSearch(defaultSteps: quick ? 10 : SamplerOptions.searchDefaults.steps)
        if s.width != nil || s.height != nil { throw CLIError("--width/--height: bench shapes runs at the models' own size") }
        let settings = ShapesBenchmark.Settings(
            steps: s.steps, guidance: s.guidance, eta: s.eta, scheduler: s.scheduler, seed: seed,
            rollouts: rollouts?.values ?? (quick ? [1, 4, 16] : [1, 4, 16, 64]), methods: try parseMethods(methods),
            largeSamples: largeSamples?.values ?? (quick ? [1] : [1, 4]))
        if let problem = settings.problem { throw CLIError("bench shapes: \(problem)") }
        let perTask = promptsPerTask ?? (quick ? 1 : Int.max)
        if perTask < 1 { throw CLIError("--prompts-per-task: \(perTask) must be at least 1") }
        if frameAverage < 1 { throw CLIError("--frame-average: \(frameAverage) must be at least 1 frame") }
        let kind: SampleKind = video ? .video : .image
        let small = self.small ?? (video ? "shapes-wan-small" : "shapes-sd-small")
        let large = self.large ?? (video ? "shapes-wan-large" : "shapes-sd-large")
        let flux = self.flux ?? (video ? "none" : "shapes-flux-small")
        let out = self.out ?? (video ? "out/bench-shapes-video" : "out/bench-shapes")
        if video, flux != "none" { throw CLIError("--flux: the flow-model grid is of the image world; drop --flux with --video") }
        try checkWritable(out + "/runs.csv", option: "--out")
        let resolver = EmbeddedModels()
        let smallDir = try resolver.resolvePipeline(small, option: "--small")
        let largeDir = large == "none" ? nil : try resolver.resolvePipeline(large, option: "--large")
        let fluxDir = flux == "none" ? nil : try resolver.resolvePipeline(flux, option: "--flux")
        try checkModelKinds([(smallDir, "--small"), (largeDir, "--large"), (fluxDir, "--flux")], kind: kind, command: "bench shapes")
        if fluxDir != nil { try checkWritable(out + "/flux/runs.csv", option: "--out") }
        let clipDir = clipModel == "none" ? nil : try resolver.resolve(clipModel, option: "--clip-model")

        var guides = [ShapesBenchmark.Guide.verifier(kind)]
        if let clipDir { guides.append(.clip(directory: clipDir, videoFrames: video ? frameAverage : nil)) }
        let started = Date()
        let status = StatusLine(quiet: quiet)
        let interrupt = InterruptFlag(action: "stopping at the next model call; finished searches are in the journal")
        var bench = ShapesBenchmark(settings: settings, prompts: JudgedPrompt.heldout(kind, perTask: perTask), guides: guides) { done, total, what in
            status.show(String(format: "%d/%d  %@  %.0f s", done, total, what, Date().timeIntervalSince(started)))
        }
        let rewards = [clipDir.map { "clip \($0.path)" + (video ? " mean of \(frameAverage) frames" : "") } ?? "no clip"]
        let journal = try openJournal(out, settings: settings, models: ["small \(smallDir.path)", "large \(largeDir?.path ?? "none")"] + rewards)
        let fluxJournal = try fluxDir.map { try openJournal(out + "/flux", settings: settings, models: ["flux \($0.path)"] + rewards) }
        bench.journal = journal
        bench.isCancelled = { interrupt.isRaised }
        let smallPipeline = try loadPipeline(smallDir.path)
        let runs: [ShapesBenchmark.Run], equalTime: [ShapesBenchmark.EqualTimeRow], fluxRuns: [ShapesBenchmark.Run]?
        var fluxSeconds = 0.0
        do {
            defer { status.end() }
            runs = try bench.runGrid(on: smallPipeline)
            status.end()
            equalTime = try largeDir.map { try bench.runEqualTime(small: smallPipeline, large: loadPipeline($0.path)) } ?? []
            status.end()
            let fluxStarted = Date()
            var fluxBench = bench
            fluxBench.journal = fluxJournal
            fluxRuns = try fluxDir.map { try fluxBench.runGrid(on: loadPipeline($0.path)) }
            fluxSeconds = Date().timeIntervalSince(fluxStarted)
        } catch is BenchmarkInterrupted {
            let held = ([journal] + (fluxJournal.map { [$0] } ?? [])).map { (url: $0.url, recorded: $0.recorded) }
            FileHandle.standardError.write(Data(JournalLines.stopped(held).utf8))
            throw ExitCode(interrupt.exitStatus ?? 130)
        } catch let error as ShapesBenchmarkError { throw CLIError("bench shapes: \(error)") } catch { throw cliError(error) }

        let report = ShapesBenchmarkReport(settings: settings, model: small, promptCount: bench.prompts.count,
                                           guides: guides.map(\.name), runs: runs, equalTime: equalTime,
                                           seconds: Date().timeIntervalSince(started) - fluxSeconds, kind: kind)
        try writeReport(report, to: out)
        if let fluxRuns {
            try writeReport(ShapesBenchmarkReport(settings: settings, model: flux, promptCount: bench.prompts.count,
                                                  guides: guides.map(\.name), runs: fluxRuns, equalTime: [], seconds: fluxSeconds),
                            to: out + "/flux")
        }
        do {
            try journal.remove()
            try fluxJournal?.remove()
        } catch { throw cliError(error) }
    }

    /// DIR/journal.jsonl, with what an interrupted run of the same settings left there.
    private func openJournal(_ dir: String, settings: ShapesBenchmark.Settings, models: [String]) throws -> ShapesBenchmarkJournal {
        let journal: ShapesBenchmarkJournal
        do {
            journal = try ShapesBenchmarkJournal(url: URL(fileURLWithPath: dir + "/journal.jsonl"),
                                                 identity: ShapesBenchmarkJournal.identity(settings, models: models))
        } catch { throw CLIError("bench shapes: \(error)") }
        if journal.recorded > 0, !quiet {
            FileHandle.standardError.write(Data(JournalLines.resuming(journal.url, recorded: journal.recorded).utf8))
        }
        return journal
    }

    private func writeReport(_ report: ShapesBenchmarkReport, to dir: String) throws {
        print(report.markdown)
        try write(Data(report.markdown.utf8), to: dir + "/table.md")
        try write(Data(report.runsCSV.utf8), to: dir + "/runs.csv")
        if !report.equalTime.isEmpty { try write(Data(report.equalTimeCSV.utf8), to: dir + "/equal-time.csv") }
        try write(Data(report.accuracySVG.utf8), to: dir + "/accuracy.svg")
        print("wrote \(dir)/table.md, runs.csv, \(report.equalTime.isEmpty ? "" : "equal-time.csv, ")accuracy.svg")
    }
}
