import ArgumentParser
import Foundation
import Reports
import Rewards
import Sampling
import Search
import ShapesWorld
import TensorCore

/// `evosearch bench shapes`: every method at several budgets on the held-out shapes prompts, guided by the exact
/// verifier and by the learned shapes-clip reward, always judged by the verifier; plus the small model with
/// search against the large model with k verifier-guided samples (Best-of-k) at equal wall time.
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
        OUT/equal-time.csv, OUT/accuracy.svg and OUT/table.md. --quick: one prompt per task type, budgets 1, 4, 16 \
        rollouts of 10 steps (a couple of minutes; run by scripts/test.sh).
        """)

    @Flag(name: .long, help: "Small run: one prompt per task type, budgets 1,4,16 rollouts, 10 steps.")
    var quick = false
    @Option(name: .long, help: "Budgets in rollouts, comma-separated (default 1,4,16,64; quick 1,4,16).")
    var rollouts: IntList?
    @Option(name: .long, help: "Held-out prompts per task type (default: all; quick: 1).")
    var promptsPerTask: Int?
    @Option(name: .long, help: "Methods, comma-separated (default: all).")
    var methods: String?
    @Option(name: .long, help: "Denoising steps (default 20; quick 10).")
    var steps: Int?
    @Option(name: .long, help: "Classifier-free guidance scale.")
    var guidance: Float = SearchCommand.defaultGuidance
    @Option(name: .long, help: "DDIM η of the sampler.")
    var eta: Float = 1
    @Option(name: .long, help: "Seed of every search.")
    var seed: UInt64 = 0
    @Option(name: .long, help: "Small model (directory or embedded name).")
    var small: String = "shapes-sd-small"
    @Option(name: .long, help: "Large model for the equal-wall-time comparison (\"none\" skips it).")
    var large: String = "shapes-sd-large"
    @Option(name: .long, help: "Samples of the large model (verifier-guided Best-of-k) in the equal-wall-time comparison, comma-separated (default 1,4; quick 1).")
    var largeSamples: IntList?
    @Option(name: .long, help: "CLIP model of the learned reward (\"none\" skips the clip-guided runs).")
    var clipModel: String = "shapes-clip"
    @Option(name: .long, help: "Output directory.")
    var out: String = "out/bench-shapes"
    @Flag(name: .long, help: "No progress output.")
    var quiet = false

    struct Run {
        var guide: String, method: String, rollouts: Int, nfe: Int, prompt: String, task: ShapesTask
        var score: Double, correct: Bool, guideReward: Float, rewardCalls: Int, seconds: Double
    }

    func run() throws {
        let steps = self.steps ?? (quick ? 10 : 20)
        let budgets = rollouts?.values ?? (quick ? [1, 4, 16] : [1, 4, 16, 64])
        if steps < 1 { throw CLIError("--steps: \(steps) must be at least 1") }
        if budgets.isEmpty || budgets.contains(where: { $0 < 1 }) { throw CLIError("--rollouts: every budget must be at least 1 rollout") }
        let largeCounts = largeSamples?.values ?? (quick ? [1] : [1, 4])
        if largeCounts.isEmpty || largeCounts.contains(where: { $0 < 1 }) { throw CLIError("--large-samples: every count must be at least 1") }
        let perTask = promptsPerTask ?? (quick ? 1 : Int.max)
        if perTask < 1 { throw CLIError("--prompts-per-task: \(perTask) must be at least 1") }
        let methodNames = try methods?.split(separator: ",").map { name -> MethodName in
            guard let m = MethodName(argument: String(name)) else {
                throw CLIError("--methods: unknown method \"\(name)\"; use \(MethodName.allValueStrings.joined(separator: ", "))")
            }
            return m
        } ?? MethodName.allCases
        try checkWritable(out + "/runs.csv", option: "--out")
        let resolver = EmbeddedModels()
        let smallDir = try resolver.resolvePipeline(small, option: "--small")
        let largeDir = large == "none" ? nil : try resolver.resolvePipeline(large, option: "--large")
        let clipDir = clipModel == "none" ? nil : try resolver.resolve(clipModel, option: "--clip-model")
        var prompts: [ShapesPrompt] = []
        for task in ShapesTask.allCases {
            prompts += ShapesPromptSuite.prompts(.heldout).filter { $0.task == task }.prefix(perTask)
        }
        let smallPipeline = try loadPipeline(smallDir.path)
        var guides: [(name: String, spec: String, models: [String])] = [("shapes-verifier", "shapes-verifier", [])]
        if let clipDir { guides.append(("clip (shapes-clip)", "clip", [clipDir.path])) }

        let started = Date()
        let total = guides.count * prompts.count * budgets.count * methodNames.count
        var done = 0
        var runs: [Run] = []
        for guide in guides {
            for prompt in prompts {
                let trajectory = try self.trajectory(smallPipeline, prompt: prompt.text, steps: steps)
                let reward = try buildReward(guide.spec, modelArguments: guide.models, prompt: prompt.text)
                let verifier = ShapesVerifier(prompt: prompt)
                for r in budgets {
                    for m in methodNames {
                        done += 1
                        if !quiet {
                            FileHandle.standardError.write(Data(String(format: "\r\u{1B}[K%d/%d  %@ · %@ · %d rollouts · %@  %.0f s", done, total,
                                                                       guide.name, prompt.text, r, m.rawValue, Date().timeIntervalSince(started)).utf8))
                        }
                        let budget = r * steps
                        guard let result = try search(m, trajectory: trajectory, reward: reward, steps: steps, budget: budget) else { continue }
                        let (score, correct) = try judge(result, verifier: verifier, trajectory: trajectory)
                        runs.append(Run(guide: guide.name, method: m.rawValue, rollouts: r, nfe: result.nfe, prompt: prompt.text, task: prompt.task,
                                        score: score, correct: correct, guideReward: result.best.reward, rewardCalls: result.rewardCalls,
                                        seconds: result.wallSeconds))
                    }
                }
            }
        }
        if !quiet { FileHandle.standardError.write(Data("\n".utf8)) }

        var equalTime: [EqualTimeRow] = []
        if let largeDir {
            equalTime = try compareWithLarge(largeDir: largeDir, smallPipeline: smallPipeline, prompts: prompts, steps: steps,
                                             largeSamples: largeCounts)
        }
        let table = renderTable(runs: runs, guides: guides.map(\.name), budgets: budgets, methods: methodNames.map(\.rawValue),
                                steps: steps, prompts: prompts.count, equalTime: equalTime, seconds: Date().timeIntervalSince(started))
        print(table)
        try write(Data(table.utf8), to: out + "/table.md")
        var csv = "guide,method,rollouts,nfe,prompt,task,verifier_score,all_satisfied,guide_reward,reward_calls,seconds\n"
        for r in runs {
            csv += "\(r.guide),\(r.method),\(r.rollouts),\(r.nfe),\"\(r.prompt)\",\(r.task.rawValue),\(r.score),\(r.correct),\(r.guideReward),\(r.rewardCalls),\(String(format: "%.3f", r.seconds))\n"
        }
        try write(Data(csv.utf8), to: out + "/runs.csv")
        var eq = "large_samples,prompt,task,model,method,nfe,verifier_score,all_satisfied,seconds\n"
        for e in equalTime {
            eq += "\(e.largeSamples),\"\(e.prompt)\",\(e.task.rawValue),\(e.model),\(e.method),\(e.nfe),\(e.score),\(e.correct),\(String(format: "%.3f", e.seconds))\n"
        }
        if !equalTime.isEmpty { try write(Data(eq.utf8), to: out + "/equal-time.csv") }
        let panels = guides.map { g -> (title: String, series: [MethodComparisonSVG.Series]) in
            (title: "guided by \(g.name)", series: methodNames.map { m in
                MethodComparisonSVG.Series(method: m.rawValue, points: budgets.compactMap { b in
                    let rows = runs.filter { $0.guide == g.name && $0.method == m.rawValue && $0.rollouts == b }
                    return rows.isEmpty ? nil : (nfe: b * steps, value: Double(rows.filter(\.correct).count) / Double(rows.count))
                })
            })
        }
        let svg = MethodComparisonSVG(title: "shapes-sd-small: verifier accuracy on \(prompts.count) held-out prompts against NFE",
                                      yLabel: "verifier accuracy").render(panels: panels)
        try write(Data(svg.utf8), to: out + "/accuracy.svg")
        print("wrote \(out)/table.md, runs.csv, \(equalTime.isEmpty ? "" : "equal-time.csv, ")accuracy.svg")
    }

    /// One search, or nil when the method cannot run at this budget (its own validation says why).
    /// The search trajectory of `pipeline` for one prompt (DDIM at the bench's η and guidance).
    func trajectory(_ pipeline: any GeneratorPipeline, prompt: String, steps: Int) throws -> any Trajectory {
        do {
            return try pipeline.makeTrajectory(GenerationRequest(prompt: prompt, guidance: guidance, steps: steps, scheduler: "ddim", eta: eta))
        } catch { throw cliError(error) }
    }

    func search(_ m: MethodName, trajectory: any Trajectory, reward: any Reward, steps: Int, budget: Int) throws -> SearchResult? {
        let strategy: any SearchStrategy
        do {
            strategy = try MethodOptions.parse(["--method", m.rawValue]).strategy(stepCount: steps, budget: budget)
            try strategy.validate(stepCount: steps, budget: budget)
        } catch { return nil }
        do {
            return try strategy.search(trajectory, reward: reward, budget: budget, options: SearchOptions(seed: seed, maxBatch: 16))
        } catch { throw CLIError("\(m.rawValue) at \(budget) NFE: \(error)") }
    }

    /// The verifier's verdict on the best sample (decoded from its final state).
    func judge(_ result: SearchResult, verifier: ShapesVerifier, trajectory: any Trajectory) throws -> (Double, Bool) {
        do {
            let image = try trajectory.decode(result.states(of: [result.best])).row(0)
            let v = try verifier.verify(tensor: image)
            return (v.fraction, v.allSatisfied)
        } catch { throw CLIError("verifier: \(error)") }
    }

    struct EqualTimeRow {
        var largeSamples: Int, prompt: String, task: ShapesTask, model: String, method: String, nfe: Int, score: Double,
            correct: Bool, seconds: Double
    }

    /// Per prompt and large-sample count k: the large model's verifier-guided Best-of-k, timed; then the small
    /// model's Best-of-N and EvoSearch with the NFE that fit in that time (whole rollouts, at least one), guided by
    /// the verifier. The small model's cost per rollout is the median of three single-rollout runs.
    func compareWithLarge(largeDir: URL, smallPipeline: any GeneratorPipeline, prompts: [ShapesPrompt], steps: Int,
                          largeSamples: [Int]) throws -> [EqualTimeRow] {
        let largePipeline = try loadPipeline(largeDir.path)
        var rows: [EqualTimeRow] = []
        for (i, prompt) in prompts.enumerated() {
            if !quiet { FileHandle.standardError.write(Data("\r\u{1B}[Kequal wall time: prompt \(i + 1)/\(prompts.count)".utf8)) }
            let verifier = ShapesVerifier(prompt: prompt)
            let reward = try buildReward("shapes-verifier", modelArguments: [], prompt: prompt.text)
            let big = try self.trajectory(largePipeline, prompt: prompt.text, steps: steps)
            let little = try self.trajectory(smallPipeline, prompt: prompt.text, steps: steps)
            var probes: [Double] = []
            for _ in 0..<3 {
                guard let probe = try search(.bestOfN, trajectory: little, reward: reward, steps: steps, budget: steps) else { break }
                probes.append(probe.wallSeconds)
            }
            guard probes.count == 3 else { continue }
            let rollout = probes.sorted()[1]
            for k in largeSamples {
                guard let large = try search(.bestOfN, trajectory: big, reward: reward, steps: steps, budget: k * steps) else { continue }
                let (s1, c1) = try judge(large, verifier: verifier, trajectory: big)
                rows.append(EqualTimeRow(largeSamples: k, prompt: prompt.text, task: prompt.task, model: "large",
                                         method: k == 1 ? "1 sample" : "best-of-\(k)", nfe: large.nfe, score: s1, correct: c1,
                                         seconds: large.wallSeconds))
                let fit = max(1, Int(large.wallSeconds / max(rollout, 1e-6)))
                for m in [MethodName.bestOfN, .evosearch] {
                    guard let res = try search(m, trajectory: little, reward: reward, steps: steps, budget: fit * steps) else { continue }
                    let (s, c) = try judge(res, verifier: verifier, trajectory: little)
                    rows.append(EqualTimeRow(largeSamples: k, prompt: prompt.text, task: prompt.task, model: "small", method: m.rawValue,
                                             nfe: res.nfe, score: s, correct: c, seconds: res.wallSeconds))
                }
            }
        }
        if !quiet { FileHandle.standardError.write(Data("\n".utf8)) }
        return rows
    }

    func renderTable(runs: [Run], guides: [String], budgets: [Int], methods: [String], steps: Int, prompts: Int,
                     equalTime: [EqualTimeRow], seconds: Double) -> String {
        func acc<S: Sequence>(_ rows: S) -> String where S.Element == Run {
            let a = Array(rows)
            return a.isEmpty ? "n/a" : String(format: "%.0f%% (%.2f)", 100 * Double(a.filter(\.correct).count) / Double(a.count),
                                               a.map(\.score).reduce(0, +) / Double(a.count))
        }
        var t = "## bench shapes: shapes-sd-small, \(prompts) held-out prompts, \(steps) steps, guidance \(guidance), DDIM η \(eta), seed \(seed)\n\n"
        t += "Verifier accuracy of each search's best image (mean constraint fraction in brackets); columns are budgets in rollouts (NFE = rollouts × \(steps)).\n\n"
        for g in guides {
            t += "### guided by \(g)\n\n| method | " + budgets.map { "\($0) (\($0 * steps) NFE)" }.joined(separator: " | ") + " | reward calls at \(budgets.last ?? 0) |\n"
            t += "|---|" + budgets.map { _ in "---|" }.joined() + "---|\n"
            for m in methods {
                let rows = runs.filter { $0.guide == g && $0.method == m }
                let last = rows.filter { $0.rollouts == budgets.last }
                let calls = last.isEmpty ? "n/a" : String(format: "%.0f", Double(last.map(\.rewardCalls).reduce(0, +)) / Double(last.count))
                t += "| \(m) | " + budgets.map { b in acc(rows.filter { $0.rollouts == b }) }.joined(separator: " | ") + " | \(calls) |\n"
            }
            t += "\nPer task type at \(budgets.last ?? 0) rollouts:\n\n| method | " + ShapesTask.allCases.map(\.rawValue).joined(separator: " | ") + " |\n"
            t += "|---|" + ShapesTask.allCases.map { _ in "---|" }.joined() + "\n"
            for m in methods {
                let rows = runs.filter { $0.guide == g && $0.method == m && $0.rollouts == budgets.last }
                t += "| \(m) | " + ShapesTask.allCases.map { task in acc(rows.filter { $0.task == task }) }.joined(separator: " | ") + " |\n"
            }
            t += "\n"
        }
        if !equalTime.isEmpty {
            t += "### equal wall time: shapes-sd-large with k verifier-guided samples vs shapes-sd-small with verifier-guided search\n\n"
            t += "| k | model · method | accuracy | mean score | mean NFE | mean seconds |\n|---|---|---|---|---|---|\n"
            for k in Array(Set(equalTime.map(\.largeSamples))).sorted() {
                let largeMethod = k == 1 ? "1 sample" : "best-of-\(k)"
                for (model, method) in [("large", largeMethod), ("small", "best-of-n"), ("small", "evosearch")] {
                    let rows = equalTime.filter { $0.largeSamples == k && $0.model == model && $0.method == method }
                    guard !rows.isEmpty else { continue }
                    let n = Double(rows.count)
                    t += String(format: "| %d | %@ · %@ | %.0f%% | %.2f | %.0f | %.2f |\n", k, model, method,
                                100 * Double(rows.filter(\.correct).count) / n, rows.map(\.score).reduce(0, +) / n,
                                Double(rows.map(\.nfe).reduce(0, +)) / n, rows.map(\.seconds).reduce(0, +) / n)
                }
            }
            t += "\n"
        }
        t += String(format: "(%.0f s in total)\n", seconds)
        return t
    }
}
