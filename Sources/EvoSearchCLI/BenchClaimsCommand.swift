import ArgumentParser
import Benchmarks
import Catalog
import Foundation
import Sampling
import Search
import ShapesWorld

/// `evosearch bench claims`: parses the flags, runs `ClaimsBenchmark`, writes the CSVs as runs finish and
/// `ClaimsReport`'s files at the end (also after Ctrl-C, with what finished).
struct BenchClaims: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "claims",
        abstract: "The paper's four claims on the shapes world's hard prompts, with bootstrap intervals and plots.",
        discussion: """
        On the hard prompt split, with --seeds search seeds per prompt: (1) scaling — every method at every budget \
        guided by the verifier's constraint fraction, judged by the verifier, compared with EvoSearch at equal NFE and \
        at equal total compute; (2) generalisation — guided by the verifier and judged by CLIP (--clip-model), and the \
        reverse, with the reward-hacking view; (3) diversity of each search's final population (distinct layouts, \
        latent and pixel distances); (4) equal wall time — the small model's search against --large's Best-of-k. \
        Writes OUT/<claim>.csv (appended as runs finish), OUT/<claim>.md, OUT/<claim>.svg and OUT/results.md with a \
        verdict per claim. Each finished search is also appended to OUT/journal.jsonl, so an interrupted run (Ctrl-C \
        writes the report of what finished) resumes when the same command runs again — with more seeds, budgets, \
        methods or prompts, only the new searches run; a journal of other sampler settings or models is refused. \
        The journal is deleted once a complete report is written. Default steps: 10. --quick: 2 prompts, 2 seeds, budgets 1,4 rollouts of 5 steps, \
        evosearch, best-of-n and particle, k = 1 (under a minute). --dry-run prints the plan and estimate only.

        --video runs the same on the moving-shapes world: the video hard split, shapes-wan-small against \
        shapes-wan-large, guided by shapes-video-verifier and by shapes-clip averaged over --frame-average evenly \
        spaced frames; layouts are read from each video's first and last frames. Default steps 20 (the video models' \
        search default), output out/claims-video.
        """)

    @Flag(name: .long, help: "The moving-shapes world: the video hard split, shapes-wan-small vs shapes-wan-large, the video verifier.")
    var video = false
    @Option(name: .long, help: "Frames the CLIP reward averages over on videos (--video).")
    var frameAverage: Int = 4

    @Flag(name: .long, help: "Small run: 2 prompts, 2 seeds, rollouts 1,4, 5 steps, 3 methods.")
    var quick = false
    @Option(name: .long, help: "Claims to run, comma-separated: scaling, generalisation, diversity, equal-time (default: all).")
    var claims: String?
    @Option(name: .long, help: "Budgets in rollouts, comma-separated (default 1,4,16,64,256; quick 1,4).")
    var rollouts: IntList?
    @Option(name: .long, help: "Search seeds per prompt (default 4; quick 2).")
    var seeds: Int?
    @Option(name: .long, help: "First search seed.")
    var firstSeed: UInt64 = 0
    @Option(name: .long, help: "Use N prompts of the hard split, taken in turn from each task type (default: all; quick 2).")
    var prompts: Int?
    @Option(name: .long, help: "Methods, comma-separated (default: all; quick evosearch,best-of-n,particle).")
    var methods: String?
    @OptionGroup(title: "Sampler (steps default 10, --video 20, quick 5)") var sampler: SamplerOptions
    @Option(name: .long, help: "Small model (directory or embedded name; default shapes-sd-small, --video shapes-wan-small).")
    var small: String?
    @Option(name: .long, help: "Large model of the equal-wall-time claim (\"none\" skips it; default shapes-sd-large, --video shapes-wan-large).")
    var large: String?
    @Option(name: .long, help: "k of the large model's Best-of-k, comma-separated (default 1,4; quick 1).")
    var largeSamples: IntList?
    @Option(name: .long, help: "CLIP model of the generalisation claim (\"none\" leaves CLIP out).")
    var clipModel: String = "shapes-clip"
    @Option(name: .long, help: "Output directory (default out/claims, --video out/claims-video).")
    var out: String?
    @Option(name: .long, help: "Largest number of rows per model or reward call (results do not depend on it; 8 is the fastest for the embedded models here, docs/BENCHMARKS.md).")
    var maxBatch: Int = 8
    @Flag(name: .long, help: "Print the plan and the estimated time, then stop.")
    var dryRun = false
    @Flag(name: .long, help: "No progress output.")
    var quiet = false

    func run() throws {
        let kind: SampleKind = video ? .video : .image
        let small = self.small ?? (video ? "shapes-wan-small" : "shapes-sd-small")
        let large = self.large ?? (video ? "shapes-wan-large" : "shapes-sd-large")
        let out = self.out ?? (video ? "out/claims-video" : "out/claims")
        if frameAverage < 1 { throw CLIError("--frame-average: \(frameAverage) must be at least 1 frame") }
        let defaultSteps = quick ? ClaimsBenchmark.Settings.quick.steps : video ? SamplerOptions.searchDefaults.steps : ClaimsBenchmark.Settings().steps
        let s = sampler.forSearch(defaultSteps: defaultSteps)
        if s.width != nil || s.height != nil { throw CLIError("--width/--height: bench claims runs at the models' own size") }
        let base = quick ? ClaimsBenchmark.Settings.quick : ClaimsBenchmark.Settings()
        var claimList = ClaimsBenchmark.Claim.allCases
        if let claims {
            claimList = try claims.split(separator: ",").map { name in
                guard let c = ClaimsBenchmark.Claim(rawValue: name.trimmingCharacters(in: .whitespaces).lowercased()) else {
                    throw CLIError("--claims: unknown claim \"\(name)\"; use \(ClaimsBenchmark.Claim.allCases.map(\.rawValue).joined(separator: ", "))")
                }
                return c
            }
        }
        var settings = ClaimsBenchmark.Settings(
            steps: s.steps, guidance: s.guidance, eta: s.eta, scheduler: s.scheduler, seeds: seeds ?? base.seeds, firstSeed: firstSeed,
            rollouts: rollouts?.values ?? base.rollouts, methods: methods == nil ? base.methods : try parseMethods(methods),
            largeSamples: largeSamples?.values ?? base.largeSamples, claims: claimList, maxBatch: maxBatch)
        if large == "none" { settings.claims.removeAll { $0 == .equalTime } }
        if let problem = settings.problem { throw CLIError("bench claims: \(problem)") }
        let count = prompts ?? (quick ? ClaimsBenchmark.Settings.quickPromptCount : nil)
        if let count, count < 1 { throw CLIError("--prompts: \(count) must be at least 1") }
        let chosen = ClaimsBenchmark.prompts(kind, count: count)
        guard !chosen.isEmpty else { throw CLIError("bench claims: the \(kind.rawValue) world has no hard prompt split") }

        let resolver = EmbeddedModels()
        let smallDir = try resolver.resolvePipeline(small, option: "--small")
        let largeDir = settings.claims.contains(.equalTime) ? try resolver.resolvePipeline(large, option: "--large") : nil
        let clipDir = clipModel == "none" ? nil : try resolver.resolve(clipModel, option: "--clip-model")
        let interrupt = InterruptFlag(action: "stopping at the next model call; the report will hold what finished")
        let started = Date()
        let quiet = self.quiet
        let outDir = URL(fileURLWithPath: out)
        let clipGuide = clipDir.map { ShapesBenchmark.Guide.clip(directory: $0, videoFrames: video ? frameAverage : nil) }
        var bench = ClaimsBenchmark(settings: settings, prompts: chosen, clip: clipGuide, isCancelled: { interrupt.isRaised })

        try checkModelKinds([(smallDir, "--small"), (largeDir, "--large")], kind: kind, command: "bench claims")
        let smallPipeline = try loadPipeline(smallDir.path)
        let largePipeline = try largeDir.map { try loadPipeline($0.path) }
        // The estimate: measured throughput of each model (one Best-of-N search each) times the planned NFE.
        let smallRate: Double, largeRate: Double
        do {
            smallRate = try bench.measureThroughput(smallPipeline, rollouts: 16)
            largeRate = try largePipeline.map { try bench.measureThroughput($0, rollouts: 4) } ?? smallRate
        } catch is BenchmarkInterrupted { throw ExitCode(interrupt.exitStatus ?? 130) } catch { throw CLIError("bench claims: \(error)") }
        let plan = bench.plan(largeCostRatio: largeRate.isFinite && largeRate > 0 ? smallRate / largeRate : 2)
        let estimate = plan.seconds(smallNFEPerSecond: smallRate, largeNFEPerSecond: largeRate)
        var lines = "bench claims: \(chosen.count) prompts of the \(kind.rawValue) hard split × \(settings.seeds) seeds, \(settings.steps) steps, budgets \(settings.rollouts.map(String.init).joined(separator: ",")) rollouts, methods \(settings.methods.map(\.rawValue).joined(separator: ",")), claims \(settings.claims.map(\.rawValue).joined(separator: ","))\n"
        lines += String(format: "plan: %d searches, %d NFE on %@ (grid) + ~%d (equal time), %d NFE on %@; measured %.0f and %.0f NFE/s → about %.0f min of model time (rewards, decoding and overhead on top)\n",
                        plan.searches, plan.gridNFE, small, plan.equalTimeSmallNFE, plan.largeNFE, large, smallRate, largeRate, estimate / 60)
        for skip in plan.skipped { lines += "skipped: \(skip.method) at \(skip.rollouts) rollouts: \(skip.reason)\n" }
        FileHandle.standardError.write(Data(lines.utf8))
        if dryRun { return }

        // CSVs are appended as runs finish, so an interrupted or killed run keeps every finished row; the journal
        // lets the next run skip them.
        try checkWritable(out + "/results.md", option: "--out")
        let clipUsed = settings.claims.contains(.generalisation) ? clipDir : nil
        let models = ["small \(smallDir.path)", "large \(largeDir?.path ?? "none")",
                      clipUsed.map { "clip \($0.path)" + (video ? " mean of \(frameAverage) frames" : "") } ?? "no clip"]
        let journal: ClaimsBenchmarkJournal
        do {
            journal = try ClaimsBenchmarkJournal(url: outDir.appendingPathComponent("journal.jsonl"),
                                                 identity: ClaimsBenchmarkJournal.identity(settings, models: models))
        } catch { throw CLIError("bench claims: \(error)") }
        if journal.recorded > 0, !quiet {
            FileHandle.standardError.write(Data(JournalLines.resuming(journal.url, recorded: journal.recorded).utf8))
        }
        bench.journal = journal
        var opened: [ClaimsBenchmark.Claim: FileHandle] = [:]
        for c in settings.claims {
            let path = outDir.appendingPathComponent("\(c.rawValue).csv").path
            let header = c == .equalTime ? ClaimsReport.equalTimeCSVHeader : ClaimsReport.csvHeader
            guard FileManager.default.createFile(atPath: path, contents: Data(header.utf8)), let h = FileHandle(forWritingAtPath: path) else {
                throw CLIError("--out \(out): cannot write \(path)")
            }
            h.seekToEndOfFile()
            opened[c] = h
        }
        let handles = opened
        let verifierGuide = bench.verifierGuide.name
        bench.record = { event in
            switch event {
            case .run(let r):
                for (c, h) in handles where ClaimsReport.holds(c, r, verifier: verifierGuide) { h.write(Data(ClaimsReport.csvRow(r).utf8)) }
            case .equalTime(let rows):
                handles[.equalTime]?.write(Data(rows.map(ClaimsReport.csvRow).joined().utf8))
            }
        }
        let status = StatusLine(quiet: quiet)
        bench.progress = { p in
            let eta = p.eta.map { String(format: "ETA %.0f min", $0 / 60) } ?? "ETA —"
            let line = String(format: "%d/%d searches  %.1f/%.1f kNFE  %.0f s  %@  %@", p.done, p.total, Double(p.nfeDone) / 1000,
                              Double(p.nfeTotal) / 1000, p.elapsed, eta, p.description)
            status.show(line)
        }
        let result: ClaimsBenchmark.Result
        do {
            defer { status.end() }
            result = try bench.run(small: smallPipeline, large: largePipeline)
        } catch let error as ShapesBenchmarkError { throw CLIError("bench claims: \(error)") } catch { throw cliError(error) }
        for h in handles.values { h.closeFile() }

        let context = ClaimsReport.Context(
            command: "evosearch " + CommandLine.arguments.dropFirst().joined(separator: " "), commit: Self.gitCommit(),
            model: small, largeModel: largeDir == nil ? nil : large, clipModel: clipDir == nil ? nil : clipModel,
            prompts: "\(chosen.count) prompt\(chosen.count == 1 ? "" : "s") of the \(video ? "video " : "")hard split")
        let report = ClaimsReport(settings: settings, result: result, context: context)
        do { try report.write(to: outDir) } catch { throw CLIError("--out \(out): \(error.localizedDescription)") }
        print(report.resultsMarkdown())
        print("wrote " + report.files.map { "\(out)/\($0.name)" }.joined(separator: ", ")
              + String(format: " (%.0f s)", Date().timeIntervalSince(started)))
        if result.interrupted {
            FileHandle.standardError.write(Data(JournalLines.stopped([(journal.url, journal.recorded)]).utf8))
        } else {
            do { try journal.remove() } catch { throw cliError(error) }
        }
        if let status = interrupt.exitStatus { throw ExitCode(status) }
    }

    /// `git rev-parse HEAD` in the working directory, with "+ uncommitted changes" when the tree is dirty; "unknown"
    /// without git or outside a repository.
    static func gitCommit() -> String {
        func git(_ args: [String]) -> String? {
            let p = Process(), pipe = Pipe()
            p.executableURL = URL(fileURLWithPath: "/usr/bin/env")
            p.arguments = ["git"] + args
            p.standardOutput = pipe
            p.standardError = FileHandle.nullDevice
            do { try p.run() } catch { return nil }
            let data = pipe.fileHandleForReading.readDataToEndOfFile()
            p.waitUntilExit()
            guard p.terminationStatus == 0 else { return nil }
            return String(decoding: data, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)
        }
        guard let head = git(["rev-parse", "HEAD"]), !head.isEmpty else { return "unknown" }
        let dirty = git(["status", "--porcelain", "--untracked-files=no"]).map { !$0.isEmpty } ?? false
        return head + (dirty ? " (+ uncommitted changes)" : "")
    }
}
