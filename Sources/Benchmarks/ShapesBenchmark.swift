import Catalog
import Foundation
import Reports
import Rewards
import Sampling
import Search
import ShapesWorld

/// The shapes benchmark (`evosearch bench shapes`, `--video` for the moving-shapes world): every method × budget ×
/// guiding reward on a list of prompts, one search each with the same seed, the best sample judged by the prompt's
/// exact verifier; and the equal-wall-time study — per prompt, a large model's verifier-guided Best-of-k against the
/// small model's Best-of-N and EvoSearch with the NFE that fit in the large model's measured time. Prompts and
/// models are of one world (images or videos); a pipeline of the other kind is an error before any search.
///
/// A method that cannot run at a budget (its own validation refuses) is skipped; a search that fails throws
/// `ShapesBenchmarkError` naming the method and budget.
public struct ShapesBenchmark {
    /// A reward that guides the searches; `make` builds it for one prompt.
    public struct Guide {
        public var name: String
        public var make: (JudgedPrompt) throws -> any Reward
        public init(name: String, make: @escaping (JudgedPrompt) throws -> any Reward) { self.name = name; self.make = make }
        /// The exact verifier of each prompt: `shapes-verifier` for images, `shapes-video-verifier` for videos.
        public static func verifier(_ kind: SampleKind) -> Guide {
            Guide(name: kind == .image ? ShapesVerifierReward.registryName : ShapesVideoVerifierReward.registryName) { $0.verifierReward }
        }
        /// `clip` (CLIP similarity of a sample with its prompt) on a CLIP model directory, e.g. the embedded
        /// shapes-clip; on videos the mean over `videoFrames` evenly spaced frames (`FrameAveragedReward`, at least
        /// 1). Named `ClaimsBenchmark.clipName`, with the frame count for videos.
        public static func clip(directory: URL, videoFrames: Int? = nil) -> Guide {
            let name = ClaimsBenchmark.clipName
            return Guide(name: videoFrames.map { "\(name) (mean of \($0) frames)" } ?? name) { prompt in
                let clip = try Catalog.rewards.make(name, models: RewardModels(shared: directory), prompt: prompt.text)
                return videoFrames.map { FrameAveragedReward(clip, frames: $0) } ?? clip
            }
        }
    }

    public struct Settings: Sendable {
        public var steps: Int
        public var guidance: Float
        public var eta: Float
        /// nil: the pipeline's stochastic sampler.
        public var scheduler: String?
        public var seed: UInt64
        /// Budgets in rollouts (NFE = rollouts × steps).
        public var rollouts: [Int]
        public var methods: [SearchMethod]
        /// k of the large model's Best-of-k in the equal-wall-time study.
        public var largeSamples: [Int]
        public var maxBatch: Int

        public init(steps: Int, guidance: Float, eta: Float, scheduler: String? = nil, seed: UInt64, rollouts: [Int],
                    methods: [SearchMethod], largeSamples: [Int], maxBatch: Int = 16) {
            self.steps = steps; self.guidance = guidance; self.eta = eta; self.scheduler = scheduler; self.seed = seed
            self.rollouts = rollouts; self.methods = methods; self.largeSamples = largeSamples; self.maxBatch = maxBatch
        }

        /// The first setting that cannot work, as a message naming it; nil when all can.
        public var problem: String? {
            if steps < 1 { return "steps: \(steps) must be at least 1" }
            if rollouts.isEmpty || rollouts.contains(where: { $0 < 1 }) { return "rollouts: every budget must be at least 1 rollout" }
            if largeSamples.isEmpty || largeSamples.contains(where: { $0 < 1 }) { return "large samples: every count must be at least 1" }
            if methods.isEmpty { return "methods: give at least one" }
            if maxBatch < 1 { return "max batch: \(maxBatch) must be at least 1" }
            return nil
        }
    }

    /// One search of the grid.
    public struct Run: Sendable, Codable {
        public var guide: String, method: SearchMethod, rollouts: Int, nfe: Int, prompt: String, task: String
        /// The verifier's fraction of constraints satisfied by the best sample, and whether all are.
        public var score: Double, correct: Bool
        public var guideReward: Float, rewardCalls: Int, seconds: Double
    }

    /// One entry of the equal-wall-time study.
    public struct EqualTimeRow: Sendable, Codable {
        public var largeSamples: Int, prompt: String, task: String
        /// "large" or "small".
        public var model: String
        /// "1 sample", "best-of-k" (large) or the small model's method name.
        public var method: String
        public var nfe: Int, score: Double, correct: Bool, seconds: Double
    }

    public var settings: Settings
    public var prompts: [JudgedPrompt]
    public var guides: [Guide]
    /// Called before each search of the grid with (done, total, description) and once per prompt of the study.
    public var progress: (Int, Int, String) -> Void
    /// Polled by every search before each model and reward call (`SearchOptions.isCancelled`); true stops it and
    /// the run throws `BenchmarkInterrupted` (what the journal holds is kept).
    public var isCancelled: (@Sendable () -> Bool)? = nil
    /// Where finished searches are recorded as they finish and read back instead of searching again; nil: none.
    /// One journal per grid (the flow model's grid gets its own).
    public var journal: ShapesBenchmarkJournal? = nil

    public init(settings: Settings, prompts: [JudgedPrompt], guides: [Guide],
                progress: @escaping (Int, Int, String) -> Void = { _, _, _ in }) {
        self.settings = settings; self.prompts = prompts; self.guides = guides; self.progress = progress
    }

    // MARK: Running

    /// The grid on `pipeline`: guides × prompts × budgets × methods.
    public func runGrid(on pipeline: any GeneratorPipeline) throws -> [Run] {
        try JudgedPrompt.checkKind(prompts, pipeline: pipeline)
        let total = guides.count * prompts.count * settings.rollouts.count * settings.methods.count
        var done = 0
        var runs: [Run] = []
        for guide in guides {
            for prompt in prompts {
                let trajectory = try self.trajectory(pipeline, prompt: prompt.text)
                let reward = try guide.make(prompt)
                for r in settings.rollouts {
                    for m in settings.methods {
                        done += 1
                        progress(done, total, "\(guide.name) · \(prompt.text) · \(r) rollouts · \(m.rawValue)")
                        if let recorded = journal?.run(guide: guide.name, method: m, rollouts: r, prompt: prompt.text) {
                            runs.append(recorded)
                            continue
                        }
                        guard let result = try search(m, trajectory: trajectory, reward: reward, budget: r * settings.steps) else { continue }
                        let (score, correct) = try judge(result, prompt: prompt, trajectory: trajectory)
                        let run = Run(guide: guide.name, method: m, rollouts: r, nfe: result.nfe, prompt: prompt.text, task: prompt.task,
                                      score: score, correct: correct, guideReward: result.best.reward,
                                      rewardCalls: result.rewardCalls, seconds: result.wallSeconds)
                        try journal?.record(run)
                        runs.append(run)
                    }
                }
            }
        }
        return runs
    }

    /// Per prompt and k: `large`'s verifier-guided Best-of-k, timed; then `small`'s Best-of-N and EvoSearch with the
    /// NFE that fit in that time (whole rollouts, at least one), guided by the verifier. The small model's cost per
    /// rollout is the median of three single-rollout runs.
    public func runEqualTime(small: any GeneratorPipeline, large: any GeneratorPipeline) throws -> [EqualTimeRow] {
        try JudgedPrompt.checkKind(prompts, pipeline: small); try JudgedPrompt.checkKind(prompts, pipeline: large)
        let steps = settings.steps
        var rows: [EqualTimeRow] = []
        for (i, prompt) in prompts.enumerated() {
            progress(i + 1, prompts.count, "equal wall time: \(prompt.text)")
            if let recorded = journal?.equalTimeRows(prompt: prompt.text) {
                rows.append(contentsOf: recorded)
                continue
            }
            var promptRows: [EqualTimeRow] = []
            let reward = prompt.verifierReward
            let big = try trajectory(large, prompt: prompt.text)
            let little = try trajectory(small, prompt: prompt.text)
            var probes: [Double] = []
            for _ in 0..<3 {
                guard let probe = try search(.bestOfN, trajectory: little, reward: reward, budget: steps) else { break }
                probes.append(probe.wallSeconds)
            }
            guard probes.count == 3 else { continue }
            let rollout = Statistics.median(probes)
            for k in settings.largeSamples {
                guard let res = try search(.bestOfN, trajectory: big, reward: reward, budget: k * steps) else { continue }
                let (s1, c1) = try judge(res, prompt: prompt, trajectory: big)
                promptRows.append(EqualTimeRow(largeSamples: k, prompt: prompt.text, task: prompt.task, model: "large",
                                               method: k == 1 ? "1 sample" : "best-of-\(k)", nfe: res.nfe, score: s1, correct: c1,
                                               seconds: res.wallSeconds))
                let fit = max(1, Int(res.wallSeconds / max(rollout, 1e-6)))
                for m in [SearchMethod.bestOfN, .evosearch] {
                    guard let r = try search(m, trajectory: little, reward: reward, budget: fit * steps) else { continue }
                    let (s, c) = try judge(r, prompt: prompt, trajectory: little)
                    promptRows.append(EqualTimeRow(largeSamples: k, prompt: prompt.text, task: prompt.task, model: "small", method: m.rawValue,
                                                   nfe: r.nfe, score: s, correct: c, seconds: r.wallSeconds))
                }
            }
            try journal?.record(equalTime: promptRows, prompt: prompt.text)
            rows.append(contentsOf: promptRows)
        }
        return rows
    }

    func trajectory(_ pipeline: any GeneratorPipeline, prompt: String) throws -> any Trajectory {
        try pipeline.makeTrajectory(GenerationRequest(prompt: prompt, guidance: settings.guidance, steps: settings.steps,
                                                      scheduler: settings.scheduler, eta: settings.eta))
    }

    /// One search with the method's default settings (seed: `settings.seed` unless given), or nil when the method
    /// cannot run at this budget. A search that `isCancelled` stopped throws `BenchmarkInterrupted`, so nothing
    /// half-done is judged or recorded.
    func search(_ m: SearchMethod, trajectory: any Trajectory, reward: any Reward, budget: Int, seed: UInt64? = nil) throws -> SearchResult? {
        let strategy = m.defaultStrategy
        guard (try? strategy.validate(stepCount: settings.steps, budget: budget)) != nil else { return nil }
        let result: SearchResult
        do {
            result = try strategy.search(trajectory, reward: reward, budget: budget,
                                         options: SearchOptions(seed: seed ?? settings.seed, maxBatch: settings.maxBatch,
                                                                isCancelled: isCancelled))
        } catch { throw ShapesBenchmarkError("\(m.rawValue) at \(budget) NFE: \(error)") }
        if let error = result.error { throw ShapesBenchmarkError("\(m.rawValue) at \(budget) NFE: \(error)") }
        if result.interrupted { throw BenchmarkInterrupted() }
        return result
    }

    /// The verifier's verdict on the best sample (decoded from its final state).
    func judge(_ result: SearchResult, prompt: JudgedPrompt, trajectory: any Trajectory) throws -> (Double, Bool) {
        do {
            let v = try prompt.judge(trajectory.decode(result.states(of: [result.best])))
            return (v.fraction, v.satisfied)
        } catch { throw ShapesBenchmarkError("verifier: \(error)") }
    }
}

/// A shapes benchmark that could not finish; the message names the method, budget or step.
public struct ShapesBenchmarkError: Error, Sendable, CustomStringConvertible {
    public var description: String
    public init(_ description: String) { self.description = description }
}

/// A benchmark stopped by its `isCancelled` (Ctrl-C): the search under way was dropped, finished work is kept.
public struct BenchmarkInterrupted: Error, Sendable, CustomStringConvertible {
    public init() {}
    public var description: String { "interrupted" }
}
