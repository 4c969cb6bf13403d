import Catalog
import Foundation
import Rewards
import Sampling
import Search
import ShapesWorld
import TensorCore

/// The paper's four claims on the shapes world or the moving-shapes world (`evosearch bench claims`, `--video`), run
/// on one small model with several search seeds per prompt so that every figure has an interval over (prompt, seed)
/// pairs:
///
/// 1. scaling — every method × budget guided by the verifier's constraint fraction, judged by the verifier;
/// 2. generalisation — guided by the verifier and judged by CLIP, and guided by CLIP and judged by the verifier;
/// 3. diversity — of each verifier-guided search's final population (`diversitySet`);
/// 4. equal wall time — `ShapesBenchmark.runEqualTime` (a large model's Best-of-k against the small model's
///    search at the large model's measured time) once per prompt and seed.
///
/// The grid runs guide → prompt → seed → budget → method, one search at a time (so measured model and reward
/// times are not shared). A method that cannot run at a budget (its own validation refuses) is skipped and the
/// reason kept. `record` receives every finished run at once (callers write CSVs incrementally), including those
/// read back from `journal`, which holds every finished piece so that a rerun resumes; when `isCancelled` turns
/// true the search under way is dropped and `run` returns what finished, marked interrupted.
public struct ClaimsBenchmark {
    public enum Claim: String, CaseIterable, Sendable, Comparable {
        case scaling, generalisation, diversity
        case equalTime = "equal-time"
        public static func < (a: Claim, b: Claim) -> Bool { allCases.firstIndex(of: a)! < allCases.firstIndex(of: b)! }
    }

    public struct Settings: Sendable {
        public var steps: Int
        public var guidance: Float
        public var eta: Float
        /// nil: the pipeline's stochastic sampler.
        public var scheduler: String?
        /// Search seeds per prompt: firstSeed, firstSeed + 1, … (the search's Philox seed).
        public var seeds: Int
        public var firstSeed: UInt64
        /// Budgets in rollouts (NFE = rollouts × steps).
        public var rollouts: [Int]
        public var methods: [SearchMethod]
        /// k of the large model's Best-of-k in the equal-wall-time claim.
        public var largeSamples: [Int]
        public var claims: [Claim]
        public var maxBatch: Int

        public init(steps: Int = 10, guidance: Float = 1.5, eta: Float = 1, scheduler: String? = nil, seeds: Int = 4,
                    firstSeed: UInt64 = 0, rollouts: [Int] = [1, 4, 16, 64, 256], methods: [SearchMethod] = SearchMethod.allCases,
                    largeSamples: [Int] = [1, 4], claims: [Claim] = Claim.allCases, maxBatch: Int = 16) {
            self.steps = steps; self.guidance = guidance; self.eta = eta; self.scheduler = scheduler; self.seeds = seeds
            self.firstSeed = firstSeed; self.rollouts = rollouts; self.methods = methods; self.largeSamples = largeSamples
            self.claims = claims; self.maxBatch = maxBatch
        }

        /// `--quick`: 2 seeds, budgets 1 and 4 rollouts of 5 steps, EvoSearch, Best-of-N and particle filtering, k = 1.
        public static var quick: Settings {
            Settings(steps: 5, seeds: 2, rollouts: [1, 4], methods: [.evosearch, .bestOfN, .particle], largeSamples: [1])
        }

        /// Prompts `--quick` keeps.
        public static let quickPromptCount = 2

        /// The first setting that cannot work, as a message naming it; nil when all can.
        public var problem: String? {
            if steps < 1 { return "steps: \(steps) must be at least 1" }
            if seeds < 1 { return "seeds: \(seeds) must be at least 1" }
            if rollouts.isEmpty || rollouts.contains(where: { $0 < 1 }) { return "rollouts: every budget must be at least 1 rollout" }
            if Set(rollouts).count != rollouts.count { return "rollouts: \(rollouts) lists a budget twice" }
            if methods.isEmpty { return "methods: give at least one" }
            if !methods.contains(.evosearch) { return "methods: the claims compare EvoSearch with the others; include evosearch" }
            if claims.isEmpty { return "claims: give at least one of \(Claim.allCases.map(\.rawValue).joined(separator: ", "))" }
            if claims.contains(.equalTime) && (largeSamples.isEmpty || largeSamples.contains(where: { $0 < 1 })) {
                return "large samples: every count must be at least 1"
            }
            if maxBatch < 1 { return "max batch: \(maxBatch) must be at least 1" }
            return nil
        }

        var seedList: [UInt64] { (0..<seeds).map { firstSeed + UInt64($0) } }

        func shapesSettings(seed: UInt64) -> ShapesBenchmark.Settings {
            ShapesBenchmark.Settings(steps: steps, guidance: guidance, eta: eta, scheduler: scheduler, seed: seed, rollouts: rollouts,
                                     methods: methods, largeSamples: largeSamples, maxBatch: maxBatch)
        }
    }

    /// `count` prompts (all when nil) of the world's frozen `hard` split, whose plain samples succeed rarely, taken
    /// in turn from each task type (first of each type, then second, …) so that a subset still covers every task
    /// type the split has.
    public static func prompts(_ kind: SampleKind = .image, count: Int? = nil) -> [JudgedPrompt] {
        let all = kind == .image ? ShapesPromptSuite.prompts(.hard).map(JudgedPrompt.init(image:))
                                 : ShapesVideoPromptSuite.prompts(.hard).map(JudgedPrompt.init(video:))
        let byTask = JudgedPrompt.tasks(kind).map { t in all.filter { $0.task == t } }.filter { !$0.isEmpty }
        var out: [JudgedPrompt] = []
        for i in 0..<(byTask.map(\.count).max() ?? 0) { for group in byTask where i < group.count { out.append(group[i]) } }
        return Array(out.prefix(count ?? out.count))
    }

    /// The name image runs carry for the verifier and for CLIP, as guide or judge (video runs: `shapes-video-verifier`
    /// and the CLIP guide's name with its frame count; `Result` names the two a run used).
    public static let verifierName = ShapesVerifierReward.registryName
    public static let clipName = "clip"

    /// One search of the grid, judged by the verifier (and by CLIP when the benchmark has it), with the diversity of
    /// its final population.
    public struct Run: Sendable, Equatable, Codable {
        public var guide: String, method: String, rollouts: Int, prompt: String, task: String, seed: UInt64
        public var nfe: Int, rewardCalls: Int
        /// The guiding reward of the best sample.
        public var guideReward: Double
        /// The verifier's constraint fraction of the best image, and whether all constraints hold.
        public var verifierScore: Double, correct: Bool
        /// CLIP's score of the best image (nil when the benchmark has no CLIP judge).
        public var clipScore: Double?
        /// Measured inside the search: model time (denoiser and decoding), reward time, wall time.
        public var modelSeconds: Double, rewardSeconds: Double, wallSeconds: Double
        /// `ClaimsBenchmark.diversitySet`'s size, its distinct layouts, and its mean pairwise L2 distances of the
        /// final latents and of the decoded images (nil for a set of one: no pairs).
        public var diversitySize: Int, layouts: Int, latentDistance: Double?, pixelDistance: Double?

        public init(guide: String, method: String, rollouts: Int, prompt: String, task: String, seed: UInt64, nfe: Int,
                    rewardCalls: Int, guideReward: Double, verifierScore: Double, correct: Bool, clipScore: Double?,
                    modelSeconds: Double, rewardSeconds: Double, wallSeconds: Double, diversitySize: Int, layouts: Int,
                    latentDistance: Double?, pixelDistance: Double?) {
            self.guide = guide; self.method = method; self.rollouts = rollouts; self.prompt = prompt; self.task = task
            self.seed = seed; self.nfe = nfe; self.rewardCalls = rewardCalls; self.guideReward = guideReward
            self.verifierScore = verifierScore; self.correct = correct; self.clipScore = clipScore
            self.modelSeconds = modelSeconds; self.rewardSeconds = rewardSeconds; self.wallSeconds = wallSeconds
            self.diversitySize = diversitySize; self.layouts = layouts; self.latentDistance = latentDistance
            self.pixelDistance = pixelDistance
        }

        /// The total-compute axis: model plus reward time.
        public var computeSeconds: Double { modelSeconds + rewardSeconds }
        /// The pairing unit: runs of different cells are compared on the same (prompt, seed).
        public var unit: String { "\(prompt)\u{1F}\(seed)" }
    }

    /// A method that refused a budget, with its reason (the same for every prompt and seed).
    public struct Skip: Sendable, Equatable {
        public var method: String, rollouts: Int, reason: String
        public init(method: String, rollouts: Int, reason: String) { self.method = method; self.rollouts = rollouts; self.reason = reason }
    }

    /// One row of the equal-wall-time claim: `ShapesBenchmark.EqualTimeRow` with the seed its searches used.
    public struct EqualTimeRun: Sendable, Equatable, Codable {
        public var seed: UInt64, largeSamples: Int, prompt: String, task: String
        /// "large" or "small".
        public var model: String
        /// "1 sample", "best-of-k" (large) or the small model's method name.
        public var method: String
        public var nfe: Int, score: Double, correct: Bool, seconds: Double
        public init(seed: UInt64, largeSamples: Int, prompt: String, task: String, model: String, method: String, nfe: Int,
                    score: Double, correct: Bool, seconds: Double) {
            self.seed = seed; self.largeSamples = largeSamples; self.prompt = prompt; self.task = task; self.model = model
            self.method = method; self.nfe = nfe; self.score = score; self.correct = correct; self.seconds = seconds
        }
        public var unit: String { "\(prompt)\u{1F}\(seed)" }
    }

    /// What the benchmark emits as it goes.
    public enum Event: Sendable {
        case run(Run)
        case equalTime([EqualTimeRun])
    }

    /// Progress before each search or equal-time unit: counts, NFE planned and done (`nfeResumed` of them read
    /// back from the journal), seconds, and the ETA (elapsed × NFE left / NFE spent in this run; nil before anything
    /// was spent).
    public struct Progress: Sendable {
        public var done: Int, total: Int, nfeDone: Int, nfeResumed: Int, nfeTotal: Int, elapsed: Double, description: String
        public var eta: Double? {
            let spent = nfeDone - nfeResumed
            return spent > 0 ? elapsed * Double(max(0, nfeTotal - nfeDone)) / Double(spent) : nil
        }
    }

    public struct Result: Sendable {
        public var runs: [Run]
        public var skipped: [Skip]
        public var equalTime: [EqualTimeRun]
        public var interrupted: Bool
        public var seconds: Double
        /// The guide names the runs carry for the verifier and for CLIP.
        public var verifierGuide: String, clipGuide: String
        public init(runs: [Run], skipped: [Skip], equalTime: [EqualTimeRun], interrupted: Bool, seconds: Double,
                    verifierGuide: String = ClaimsBenchmark.verifierName, clipGuide: String = ClaimsBenchmark.clipName) {
            self.runs = runs; self.skipped = skipped; self.equalTime = equalTime; self.interrupted = interrupted; self.seconds = seconds
            self.verifierGuide = verifierGuide; self.clipGuide = clipGuide
        }
    }

    /// The searches and NFE a run plans (the equal-wall-time claim's small-model NFE depends on measured times and
    /// is estimated with `largeCostRatio`, the large model's seconds per NFE over the small one's).
    public struct Plan: Sendable, Equatable {
        public var searches: Int
        /// The grid's NFE on the small model.
        public var gridNFE: Int
        /// The equal-wall-time claim: NFE on the large model, and on the small model (estimated).
        public var largeNFE: Int, equalTimeSmallNFE: Int
        public var skipped: [Skip]

        /// Seconds at the given throughputs (model time only: rewards, decoding and overhead come on top).
        public func seconds(smallNFEPerSecond: Double, largeNFEPerSecond: Double) -> Double {
            Double(gridNFE + equalTimeSmallNFE) / max(smallNFEPerSecond, 1e-9) + Double(largeNFE) / max(largeNFEPerSecond, 1e-9)
        }
    }

    public var settings: Settings
    /// Prompts of one world (images or videos); the models must make that kind of sample.
    public var prompts: [JudgedPrompt]
    /// The learned reward of the generalisation claim (on videos, e.g. frame-averaged); nil leaves that claim out.
    public var clip: ShapesBenchmark.Guide?
    public var progress: (Progress) -> Void
    public var record: (Event) -> Void
    public var isCancelled: (@Sendable () -> Bool)?
    /// Where finished pieces are recorded and read back instead of running again; nil: none.
    public var journal: ClaimsBenchmarkJournal? = nil

    public init(settings: Settings, prompts: [JudgedPrompt], clip: ShapesBenchmark.Guide?,
                progress: @escaping (Progress) -> Void = { _ in }, record: @escaping (Event) -> Void = { _ in },
                isCancelled: (@Sendable () -> Bool)? = nil) {
        self.settings = settings; self.prompts = prompts; self.clip = clip; self.progress = progress; self.record = record
        self.isCancelled = isCancelled
    }

    /// The world of the prompts.
    public var kind: SampleKind { prompts.first?.kind ?? .image }

    /// The prompts' verifier as a guide (`shapes-verifier` or `shapes-video-verifier`).
    public var verifierGuide: ShapesBenchmark.Guide { .verifier(kind) }

    /// The guides the grid runs: the verifier for claims 1–3, CLIP too for claim 2.
    public var guides: [ShapesBenchmark.Guide] {
        let c = Set(settings.claims)
        var g: [ShapesBenchmark.Guide] = []
        if !c.isDisjoint(with: [.scaling, .generalisation, .diversity]) { g.append(verifierGuide) }
        if c.contains(.generalisation), let clip { g.append(clip) }
        return g
    }

    /// The reason `method` cannot run at `rollouts`, or nil when it can.
    func refusal(_ m: SearchMethod, rollouts r: Int) -> String? {
        do {
            try m.defaultStrategy.validate(stepCount: settings.steps, budget: r * settings.steps)
            return nil
        } catch { return "\(error)" }
    }

    public func plan(largeCostRatio: Double = 2) -> Plan {
        var perUnit = 0, searchesPerUnit = 0, skipped: [Skip] = []
        for r in settings.rollouts {
            for m in settings.methods {
                if let why = refusal(m, rollouts: r) { skipped.append(Skip(method: m.rawValue, rollouts: r, reason: why)); continue }
                perUnit += r * settings.steps; searchesPerUnit += 1
            }
        }
        let units = prompts.count * settings.seeds
        var large = 0, small = 0
        if settings.claims.contains(.equalTime) {
            for k in settings.largeSamples {
                large += k * settings.steps
                small += 2 * max(1, Int(Double(k) * largeCostRatio)) * settings.steps
            }
            small += 3 * settings.steps
        }
        return Plan(searches: units * (guides.count * searchesPerUnit + (settings.claims.contains(.equalTime) ? 1 : 0)),
                    gridNFE: units * guides.count * perUnit, largeNFE: units * large, equalTimeSmallNFE: units * small,
                    skipped: skipped)
    }

    /// Model NFE per second of `pipeline` on the first prompt: one Best-of-N search of `rollouts` rollouts (its
    /// NFE over its model seconds), for the up-front estimate.
    public func measureThroughput(_ pipeline: any GeneratorPipeline, rollouts: Int) throws -> Double {
        guard let prompt = prompts.first else { return .nan }
        let bench = shapes(seed: settings.firstSeed)
        let trajectory = try bench.trajectory(pipeline, prompt: prompt.text)
        guard let r = try bench.search(.bestOfN, trajectory: trajectory, reward: prompt.verifierReward, budget: rollouts * settings.steps) else {
            return .nan
        }
        return Double(r.nfe) / max(r.modelSeconds, 1e-9)
    }

    // MARK: Running

    /// The grid on `small`, then the equal-wall-time claim against `large` (skipped when nil).
    public func run(small: any GeneratorPipeline, large: (any GeneratorPipeline)?) throws -> Result {
        if let problem = settings.problem { throw ShapesBenchmarkError(problem) }
        let started = Clock.wallSeconds()
        let plan = self.plan()
        var runs: [Run] = [], equal: [EqualTimeRun] = []
        var done = 0, nfeDone = 0, nfeResumed = 0
        let total = plan.searches, nfeTotal = plan.gridNFE + plan.largeNFE + plan.equalTimeSmallNFE
        func report(_ what: String) {
            progress(Progress(done: done, total: total, nfeDone: nfeDone, nfeResumed: nfeResumed, nfeTotal: nfeTotal,
                              elapsed: Clock.wallSeconds() - started, description: what))
        }
        func finish(interrupted: Bool) -> Result {
            Result(runs: runs, skipped: plan.skipped, equalTime: equal, interrupted: interrupted, seconds: Clock.wallSeconds() - started,
                   verifierGuide: verifierGuide.name, clipGuide: clip?.name ?? Self.clipName)
        }
        try JudgedPrompt.checkKind(prompts, pipeline: small)
        if let large { try JudgedPrompt.checkKind(prompts, pipeline: large) }
        let stopped = { isCancelled?() ?? false }
        let judgeByCLIP = settings.claims.contains(.generalisation) ? clip : nil
        let gridGuides = guides
        for guide in gridGuides {
            for prompt in prompts {
                let bench = self.shapes(seed: settings.firstSeed)
                let trajectory: any Trajectory
                let reward: any Reward, clipJudge: (any Reward)?
                do {
                    trajectory = try bench.trajectory(small, prompt: prompt.text)
                    reward = try guide.make(prompt)
                    clipJudge = try judgeByCLIP.map { try $0.make(prompt) }
                } catch { throw ShapesBenchmarkError("\(prompt.text): \(error)") }
                for seed in settings.seedList {
                    for r in settings.rollouts {
                        for m in settings.methods where refusal(m, rollouts: r) == nil {
                            if let recorded = journal?.run(guide: guide.name, method: m.rawValue, rollouts: r, prompt: prompt.text, seed: seed) {
                                runs.append(recorded); record(.run(recorded))
                                done += 1; nfeDone += r * settings.steps; nfeResumed += r * settings.steps
                                continue
                            }
                            if stopped() { return finish(interrupted: true) }
                            report("\(guide.name) · \(prompt.text) · seed \(seed) · \(r) rollouts · \(m.rawValue)")
                            let result: SearchResult
                            do {
                                guard let searched = try bench.search(m, trajectory: trajectory, reward: reward, budget: r * settings.steps, seed: seed) else { continue }
                                result = searched
                            } catch is BenchmarkInterrupted { return finish(interrupted: true) }
                            let run = try judge(result, guide: guide.name, method: m, rollouts: r, prompt: prompt, seed: seed,
                                                trajectory: trajectory, clip: clipJudge)
                            try journal?.record(run)
                            runs.append(run); record(.run(run))
                            done += 1; nfeDone += r * settings.steps
                        }
                    }
                }
            }
        }
        if settings.claims.contains(.equalTime), let large {
            for seed in settings.seedList {
                for prompt in prompts {
                    if let recorded = journal?.equalTimeRows(prompt: prompt.text, seed: seed) {
                        let nfe = recorded.map(\.nfe).reduce(0, +)
                        equal += recorded; record(.equalTime(recorded))
                        done += 1; nfeDone += nfe; nfeResumed += nfe
                        continue
                    }
                    if stopped() { return finish(interrupted: true) }
                    report("equal wall time · \(prompt.text) · seed \(seed)")
                    let rows: [ShapesBenchmark.EqualTimeRow]
                    var bench = ShapesBenchmark(settings: settings.shapesSettings(seed: seed), prompts: [prompt], guides: [])
                    bench.isCancelled = isCancelled
                    do { rows = try bench.runEqualTime(small: small, large: large) } catch is BenchmarkInterrupted { return finish(interrupted: true) }
                    let tagged = rows.map {
                        EqualTimeRun(seed: seed, largeSamples: $0.largeSamples, prompt: $0.prompt, task: $0.task, model: $0.model,
                                     method: $0.method, nfe: $0.nfe, score: $0.score, correct: $0.correct, seconds: $0.seconds)
                    }
                    try journal?.record(equalTime: tagged, prompt: prompt.text, seed: seed)
                    equal += tagged; record(.equalTime(tagged))
                    done += 1; nfeDone += rows.map(\.nfe).reduce(0, +)
                }
            }
        }
        return finish(interrupted: false)
    }

    func shapes(seed: UInt64) -> ShapesBenchmark {
        var b = ShapesBenchmark(settings: settings.shapesSettings(seed: seed), prompts: prompts, guides: [])
        b.isCancelled = isCancelled
        return b
    }

    /// The verifier's (and CLIP's) verdict on the best sample, and the diversity of the final population.
    func judge(_ result: SearchResult, guide: String, method m: SearchMethod, rollouts r: Int, prompt: JudgedPrompt, seed: UInt64,
               trajectory: any Trajectory, clip: (any Reward)?) throws -> Run {
        let set = Self.diversitySet(population: result.population, best: result.best, method: m)
        do {
            let samples = [result.best] + set
            let decoded = try trajectory.decode(result.states(of: samples))
            let verdict = try prompt.judge(decoded.row(0))
            let clipScore = try clip.map { Double(try $0.scores(decoded.gatherRows([0]))[0]) }
            let layouts = try (1..<samples.count).map { try prompt.layout(decoded.row($0)) }
            let d = decoded.shape.dropFirst().reduce(1, *)
            let pixels = (1..<samples.count).map { Array(decoded.scalars[($0 * d)..<(($0 + 1) * d)]) }
            return Run(guide: guide, method: m.rawValue, rollouts: r, prompt: prompt.text, task: prompt.task, seed: seed, nfe: result.nfe,
                       rewardCalls: result.rewardCalls, guideReward: Double(result.best.reward), verifierScore: verdict.fraction,
                       correct: verdict.satisfied, clipScore: clipScore, modelSeconds: result.modelSeconds,
                       rewardSeconds: result.rewardSeconds, wallSeconds: result.wallSeconds, diversitySize: set.count,
                       layouts: Set(layouts).count, latentDistance: Self.meanPairwiseDistance(set.map(\.state)),
                       pixelDistance: Self.meanPairwiseDistance(pixels))
        } catch { throw ShapesBenchmarkError("judging \(m.rawValue) at \(r) rollouts, seed \(seed), \(prompt.text): \(error)") }
    }

    // MARK: Diversity measures

    /// Methods whose final population is a generation (or iteration) of the search: all of it is kept.
    public static let generational: Set<SearchMethod> = [.evosearch, .zeroOrder, .searchOverPaths]
    /// How many of a population without generations are kept: its best min(8, size).
    public static let diversityK = 8

    /// The final population whose diversity is measured: the last generation for EvoSearch (its last iteration for
    /// zero-order search, the final paths for search over paths) — all of it; for methods without generations
    /// (Best-of-N: all its samples, particle filtering: the final particles, beam search: the final beams) the
    /// best K = min(8, size) by reward (ties: earlier first). Empty populations fall back to the best sample.
    public static func diversitySet(population: [ScoredSample], best: ScoredSample, method: SearchMethod) -> [ScoredSample] {
        let p = population.isEmpty ? [best] : population
        if generational.contains(method) { return p }
        return Array(p.enumerated().sorted { a, b in
            a.element.reward != b.element.reward ? a.element.reward > b.element.reward : a.offset < b.offset
        }.prefix(diversityK).map(\.element))
    }

    /// A layout: the sorted multiset of (shape, colour, coarse position) of the detected objects, where the coarse
    /// position is the cell of a 3 × 3 grid over the image that holds the object's centre (column, row from the
    /// top left). Written as "circle red 0,2 | square blue 1,1"; "(empty)" when nothing was detected.
    public static func layout(_ objects: [DetectedObject], width: Int, height: Int) -> String {
        func cell(_ v: Double, _ n: Int) -> Int { min(2, max(0, Int((3 * v / Double(max(n, 1))).rounded(.down)))) }
        let items = objects.map { "\($0.shape.rawValue) \($0.color.rawValue) \(cell($0.centerX, width)),\(cell($0.centerY, height))" }.sorted()
        return items.isEmpty ? "(empty)" : items.joined(separator: " | ")
    }

    /// The mean Euclidean distance over all unordered pairs of equal-length vectors; nil for fewer than two.
    public static func meanPairwiseDistance(_ vectors: [[Float]]) -> Double? {
        guard vectors.count >= 2 else { return nil }
        var sum = 0.0, pairs = 0
        for i in 0..<vectors.count {
            for j in (i + 1)..<vectors.count {
                var s = 0.0
                for (a, b) in zip(vectors[i], vectors[j]) { let d = Double(a) - Double(b); s += d * d }
                sum += s.squareRoot(); pairs += 1
            }
        }
        return sum / Double(pairs)
    }
}
