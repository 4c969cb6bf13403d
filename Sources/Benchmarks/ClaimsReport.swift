import Foundation
import Reports
import Search
import ShapesWorld

/// What `bench claims` writes: per claim a CSV of every run, a markdown table, an SVG (means with bootstrap 95%
/// bands against NFE and against total compute) and a section of `results.md` with a verdict read from the
/// intervals.
///
/// Every interval is over (prompt, seed) pairs. Differences are paired: two cells are compared on the pairs both
/// ran. Equal NFE and equal total compute are `ToyBenchmarkReport.pairedDifference` and
/// `ToyBenchmarkReport.differenceAtEqualCost` (the method's curve interpolated in log compute at the reference's
/// mean compute, never extrapolated). A difference is a win or a loss only when its interval excludes zero
/// (`Outcome`).
///
/// Verdicts, each read at the largest budget at which EvoSearch ran (`verdict(_:)`):
/// - scaling: EvoSearch − every other method on the guiding reward (the verifier's fraction), at equal NFE and at
///   equal compute: holds when every read is a win, does not hold when any is a loss, else cannot tell;
/// - generalisation: in both directions EvoSearch's judged metric must rise from its smallest to its largest
///   budget (paired change, interval above zero) and lose to no method at equal NFE: holds when both hold, does
///   not hold when the change's interval lies below zero or a loss is read, else cannot tell;
/// - diversity: EvoSearch − every other method on the mean pairwise pixel distance of the final population at equal
///   NFE, read as for scaling (not distinct layouts: their count grows with the population's size, which differs
///   between methods);
/// - equal time: the small model's EvoSearch − the large model's Best-of-k on the verifier's score, for every k,
///   read as for scaling.
public struct ClaimsReport {
    public typealias Run = ClaimsBenchmark.Run

    /// How the run was made, printed under every figure.
    public struct Context: Sendable {
        public var command: String, commit: String
        public var model: String, largeModel: String?, clipModel: String?
        /// The prompts, e.g. "the hard split (12 prompts)".
        public var prompts: String
        public init(command: String, commit: String, model: String, largeModel: String?, clipModel: String?, prompts: String) {
            self.command = command; self.commit = commit; self.model = model; self.largeModel = largeModel
            self.clipModel = clipModel; self.prompts = prompts
        }
    }

    public enum Metric: String, CaseIterable, Sendable {
        case guideReward = "guide reward", accuracy, verifierScore = "verifier score", clipScore = "clip score"
        case layouts = "distinct layouts", latentDistance = "latent L2", pixelDistance = "pixel L2"

        public func value(_ r: Run) -> Double? {
            switch self {
            case .guideReward: r.guideReward
            case .accuracy: r.correct ? 1 : 0
            case .verifierScore: r.verifierScore
            case .clipScore: r.clipScore
            case .layouts: Double(r.layouts)
            case .latentDistance: r.latentDistance
            case .pixelDistance: r.pixelDistance
            }
        }
    }

    public enum Axis: String, Sendable { case nfe = "equal NFE", compute = "equal compute" }

    public enum Verdict: String, Sendable, Equatable {
        case holds = "holds", doesNotHold = "does not hold", cannotTell = "cannot tell at these budgets"
        /// From outcomes that must all be wins: any loss → does not hold; all wins (and at least one) → holds.
        init(_ outcomes: [Outcome?]) {
            if outcomes.contains(where: { $0 == .loss }) { self = .doesNotHold }
            else if !outcomes.isEmpty && outcomes.allSatisfy({ $0 == .win }) { self = .holds }
            else { self = .cannotTell }
        }
    }

    /// A cell's mean with its bootstrap interval over its (prompt, seed) pairs.
    public struct Estimate: Sendable, Equatable {
        public var mean: Double, interval: Interval?, count: Int
    }

    /// reference − contender (or later − earlier for a change), paired.
    public struct Comparison: Sendable, Equatable {
        public var contender: String, rollouts: Int, pairs: Int
        public var difference: Double, interval: Interval, outcome: Outcome
        /// Equal compute: the reference's mean compute (seconds) at which the contender was read.
        public var computeSeconds: Double?
    }

    /// A method's guiding reward rising while the judged metric falls between two consecutive budgets.
    public struct Hacking: Sendable, Equatable {
        public var guide: String, method: String, from: Int, to: Int
        public var guideChange: Comparison, judgedChange: Comparison
        /// Both intervals exclude zero in the hacking direction.
        public var shown: Bool { guideChange.interval.lower > 0 && judgedChange.interval.upper < 0 }
    }

    public var settings: ClaimsBenchmark.Settings
    public var result: ClaimsBenchmark.Result
    public var context: Context
    public var bootstrap: Bootstrap
    /// The method every other one is compared with.
    public var reference = SearchMethod.evosearch.rawValue

    public init(settings: ClaimsBenchmark.Settings, result: ClaimsBenchmark.Result, context: Context, bootstrap: Bootstrap = Bootstrap()) {
        self.settings = settings; self.result = result; self.context = context; self.bootstrap = bootstrap
    }

    var methods: [String] { settings.methods.map(\.rawValue) }
    var others: [String] { methods.filter { $0 != reference } }
    /// The guide names of the verifier and of CLIP in this result's runs.
    var verifier: String { result.verifierGuide }
    var clip: String { result.clipGuide }

    // MARK: Statistics

    func runs(_ guide: String, _ method: String, _ rollouts: Int) -> [Run] {
        result.runs.filter { $0.guide == guide && $0.method == method && $0.rollouts == rollouts }
    }

    /// Metric values by (prompt, seed) unit (runs without a value left out).
    func values(_ guide: String, _ method: String, _ rollouts: Int, _ metric: Metric) -> [String: (value: Double, cost: Double)] {
        var out: [String: (value: Double, cost: Double)] = [:]
        for r in runs(guide, method, rollouts) { if let v = metric.value(r) { out[r.unit] = (v, r.computeSeconds) } }
        return out
    }

    public func estimate(_ guide: String, _ method: String, _ rollouts: Int, _ metric: Metric) -> Estimate? {
        let v = runs(guide, method, rollouts).compactMap { metric.value($0) }
        guard !v.isEmpty else { return nil }
        return Estimate(mean: v.reduce(0, +) / Double(v.count), interval: bootstrap.meanInterval(v), count: v.count)
    }

    func meanCompute(_ guide: String, _ method: String, _ rollouts: Int) -> Double? {
        let c = runs(guide, method, rollouts).map(\.computeSeconds)
        return c.isEmpty ? nil : c.reduce(0, +) / Double(c.count)
    }

    /// Budgets at which `method` has runs under `guide`.
    func budgets(_ guide: String, _ method: String) -> [Int] { settings.rollouts.filter { !runs(guide, method, $0).isEmpty } }

    /// The reference − `contender` at the reference's budget `rollouts`, on one axis.
    public func compare(_ guide: String, _ metric: Metric, contender: String, rollouts r: Int, axis: Axis) -> Comparison? {
        let ref = values(guide, reference, r, metric)
        switch axis {
        case .nfe:
            let other = values(guide, contender, r, metric)
            let units = ref.keys.filter { other[$0] != nil }.sorted()
            guard let p = ToyBenchmarkReport.pairedDifference(units.map { ref[$0]!.value }, units.map { other[$0]!.value }, bootstrap: bootstrap) else { return nil }
            return Comparison(contender: contender, rollouts: r, pairs: units.count, difference: p.difference, interval: p.interval,
                              outcome: Outcome(p.interval), computeSeconds: nil)
        case .compute:
            let curve = settings.rollouts.map { values(guide, contender, $0, metric) }.filter { !$0.isEmpty }
            let units = ref.keys.filter { u in curve.allSatisfy { $0[u] != nil } }.sorted()
            guard !units.isEmpty, let p = ToyBenchmarkReport.differenceAtEqualCost(
                reference: (value: units.map { ref[$0]!.value }, cost: units.map { ref[$0]!.cost }),
                curve: curve.map { cell in (value: units.map { cell[$0]!.value }, cost: units.map { cell[$0]!.cost }) },
                bootstrap: bootstrap) else { return nil }
            return Comparison(contender: contender, rollouts: r, pairs: units.count, difference: p.difference, interval: p.interval,
                              outcome: Outcome(p.interval), computeSeconds: p.cost)
        }
    }

    /// `method`'s paired change of `metric` from budget `from` to budget `to` (later − earlier).
    public func change(_ guide: String, _ method: String, _ metric: Metric, from: Int, to: Int) -> Comparison? {
        let a = values(guide, method, to, metric), b = values(guide, method, from, metric)
        let units = a.keys.filter { b[$0] != nil }.sorted()
        guard let p = ToyBenchmarkReport.pairedDifference(units.map { a[$0]!.value }, units.map { b[$0]!.value }, bootstrap: bootstrap) else { return nil }
        return Comparison(contender: method, rollouts: to, pairs: units.count, difference: p.difference, interval: p.interval,
                          outcome: Outcome(p.interval), computeSeconds: nil)
    }

    /// The metric not used for guiding: CLIP for verifier-guided runs, the verifier's score for CLIP-guided ones.
    public func judged(by guide: String) -> Metric { guide == clip ? .verifierScore : .clipScore }

    /// Every consecutive pair of budgets where the guiding reward's mean rises while the judged metric's mean falls.
    public func hacking(_ guide: String) -> [Hacking] {
        var out: [Hacking] = []
        for m in methods {
            let b = budgets(guide, m)
            for (lo, hi) in zip(b, b.dropFirst()) {
                guard let g = change(guide, m, .guideReward, from: lo, to: hi), let j = change(guide, m, judged(by: guide), from: lo, to: hi),
                      g.difference > 0, j.difference < 0 else { continue }
                out.append(Hacking(guide: guide, method: m, from: lo, to: hi, guideChange: g, judgedChange: j))
            }
        }
        return out
    }

    /// The largest budget at which the reference ran under `guide`.
    func topBudget(_ guide: String) -> Int? { budgets(guide, reference).last }

    // MARK: Equal wall time

    func equalRows(_ k: Int, _ model: String, _ method: String) -> [ClaimsBenchmark.EqualTimeRun] {
        result.equalTime.filter { $0.largeSamples == k && $0.model == model && $0.method == method }
    }

    static func largeMethod(_ k: Int) -> String { k == 1 ? "1 sample" : "best-of-\(k)" }
    var equalKs: [Int] { Array(Set(result.equalTime.map(\.largeSamples))).sorted() }
    static let smallMethods = ["best-of-n", "evosearch"]

    public func equalTimeEstimate(_ k: Int, model: String, method: String, accuracy: Bool) -> Estimate? {
        let v = equalRows(k, model, method).map { accuracy ? ($0.correct ? 1 : 0) : $0.score }
        guard !v.isEmpty else { return nil }
        return Estimate(mean: v.reduce(0, +) / Double(v.count), interval: bootstrap.meanInterval(v), count: v.count)
    }

    /// The small model's `method` − the large model's Best-of-k, paired over (prompt, seed).
    public func equalTimeComparison(_ k: Int, smallMethod: String, accuracy: Bool) -> Comparison? {
        func byUnit(_ rows: [ClaimsBenchmark.EqualTimeRun]) -> [String: Double] {
            Dictionary(rows.map { ($0.unit, accuracy ? ($0.correct ? 1.0 : 0) : $0.score) }, uniquingKeysWith: { a, _ in a })
        }
        let s = byUnit(equalRows(k, "small", smallMethod)), l = byUnit(equalRows(k, "large", Self.largeMethod(k)))
        let units = s.keys.filter { l[$0] != nil }.sorted()
        guard let p = ToyBenchmarkReport.pairedDifference(units.map { s[$0]! }, units.map { l[$0]! }, bootstrap: bootstrap) else { return nil }
        return Comparison(contender: Self.largeMethod(k), rollouts: k, pairs: units.count, difference: p.difference, interval: p.interval,
                          outcome: Outcome(p.interval), computeSeconds: nil)
    }

    // MARK: Verdicts

    public func verdict(_ claim: ClaimsBenchmark.Claim) -> Verdict {
        switch claim {
        case .scaling:
            guard let top = topBudget(verifier) else { return .cannotTell }
            return Verdict(others.flatMap { c in [Axis.nfe, .compute].map { compare(verifier, .guideReward, contender: c, rollouts: top, axis: $0)?.outcome } })
        case .diversity:
            guard let top = topBudget(verifier) else { return .cannotTell }
            return Verdict(others.map { compare(verifier, .pixelDistance, contender: $0, rollouts: top, axis: .nfe)?.outcome })
        case .generalisation:
            var verdicts: [Verdict] = []
            for g in [verifier, clip] {
                let b = budgets(g, reference)
                guard let lo = b.first, let hi = b.last, lo != hi, let rise = change(g, reference, judged(by: g), from: lo, to: hi) else {
                    verdicts.append(.cannotTell); continue
                }
                let losses = others.contains { compare(g, judged(by: g), contender: $0, rollouts: hi, axis: .nfe)?.outcome == .loss }
                verdicts.append(rise.outcome == .loss || losses ? .doesNotHold : rise.outcome == .win ? .holds : .cannotTell)
            }
            return verdicts.contains(.doesNotHold) ? .doesNotHold : verdicts.allSatisfy { $0 == .holds } ? .holds : .cannotTell
        case .equalTime:
            let ks = equalKs
            guard !ks.isEmpty else { return .cannotTell }
            return Verdict(ks.map { equalTimeComparison($0, smallMethod: "evosearch", accuracy: false)?.outcome })
        }
    }

    // MARK: Text

    static func f(_ x: Double) -> String { String(format: abs(x) >= 100 ? "%.1f" : "%.3f", x) }
    static func signed(_ x: Double) -> String { ToyBenchmarkReport.signed(x) }
    static func est(_ e: Estimate?) -> String {
        guard let e else { return "—" }
        return f(e.mean) + (e.interval.map { " [\(f($0.lower)), \(f($0.upper))]" } ?? "")
    }
    static func cmp(_ c: Comparison?) -> String {
        guard let c else { return "— | " }
        return "\(signed(c.difference)) \(ToyBenchmarkReport.interval(c.interval))" + (c.computeSeconds.map { String(format: " at %.2f s", $0) } ?? "")
            + " | \(c.outcome.rawValue)"
    }

    var stamp: String { "command: `\(context.command)` · commit \(context.commit)" }
    var header: String {
        let s = settings
        return "\(context.model), \(context.prompts), \(s.seeds) seed\(s.seeds == 1 ? "" : "s") per prompt (from \(s.firstSeed)), \(s.steps) steps, guidance \(s.guidance), η \(s.eta) (\(s.scheduler ?? "the model's stochastic sampler")), budgets \(s.rollouts.map(String.init).joined(separator: ", ")) rollouts (NFE = rollouts × \(s.steps)); 95% percentile bootstrap intervals over (prompt, seed) pairs (\(bootstrap.resamples) resamples, seed \(bootstrap.seed))\(result.interrupted ? "; **interrupted: only the runs that finished are counted**" : "")."
    }

    func skippedText() -> String {
        let s = result.skipped.filter { settings.methods.map(\.rawValue).contains($0.method) }
        guard !s.isEmpty else { return "" }
        return "\nSkipped (the method's own validation refuses the budget): " + s.map { "\($0.method) at \($0.rollouts) rollouts (\($0.reason))" }.joined(separator: "; ") + ".\n"
    }

    func cellTable(_ guide: String, _ metrics: [Metric], setSize: Bool = false) -> String {
        var t = "| method | rollouts | NFE | pairs | " + (setSize ? "set | " : "") + metrics.map { "\($0.rawValue) [95% CI]" }.joined(separator: " | ") + " | compute s (model + reward) |\n"
        t += "|---|---|---|---|" + (setSize ? "---|" : "") + metrics.map { _ in "---|" }.joined() + "---|\n"
        for m in methods {
            for r in settings.rollouts {
                let rs = runs(guide, m, r)
                guard !rs.isEmpty else { continue }
                let nfe = Double(rs.map(\.nfe).reduce(0, +)) / Double(rs.count)
                let size = Double(rs.map(\.diversitySize).reduce(0, +)) / Double(rs.count)
                t += "| \(m) | \(r) | \(String(format: "%.0f", nfe)) | \(rs.count) | " + (setSize ? String(format: "%.1f | ", size) : "") + metrics.map { Self.est(estimate(guide, m, r, $0)) }.joined(separator: " | ")
                t += " | " + String(format: "%.3f", meanCompute(guide, m, r) ?? 0) + " |\n"
            }
        }
        return t
    }

    func comparisonTable(_ guide: String, _ metrics: [Metric], axes: [Axis]) -> String {
        var cols: [String] = []
        for m in metrics { for a in axes { cols.append("\(m.rawValue), \(a.rawValue) [95% CI]"); cols.append("") } }
        var t = "| method | rollouts | " + cols.joined(separator: " | ") + " |\n|---|---|" + cols.map { _ in "---|" }.joined() + "\n"
        for c in others {
            for r in budgets(guide, reference) {
                let cells = metrics.flatMap { m in axes.map { compare(guide, m, contender: c, rollouts: r, axis: $0) } }
                guard cells.contains(where: { $0 != nil }) else { continue }
                t += "| \(c) | \(r) | " + cells.map(Self.cmp).joined(separator: " | ") + " |\n"
            }
        }
        return t
    }

    func verdictLine(_ claim: ClaimsBenchmark.Claim) -> String { "**Verdict: \(verdict(claim).rawValue).**" }

    public var scalingMarkdown: String {
        let g = verifier
        var t = "## Claim 1 — scaling: best reward and verifier accuracy against NFE, guided by the verifier\n\n\(header)\n\n"
        t += "\(verdictLine(.scaling)) Rule: at the largest budget EvoSearch ran, EvoSearch − each other method on the guiding reward (the verifier's constraint fraction of the best sample) at equal NFE and at equal total compute; holds when every read is a win (interval above 0), does not hold when any is a loss, otherwise cannot tell.\n\n"
        t += "Per cell: mean over (prompt, seed) pairs; accuracy = fraction of best samples whose every constraint holds.\n\n" + cellTable(g, [.guideReward, .accuracy])
        t += skippedText()
        t += "\nEvoSearch − method, paired. Equal compute: the method's curve interpolated in log compute at EvoSearch's mean compute (— outside its measured range).\n\n"
        t += comparisonTable(g, [.guideReward, .accuracy], axes: [.nfe, .compute])
        return t
    }

    public var generalisationMarkdown: String {
        var t = "## Claim 2 — generalisation: guided by one reward, judged by another\n\n\(header)\n\n"
        t += "\(verdictLine(.generalisation)) Rule: in both directions (verifier-guided judged by CLIP, CLIP-guided judged by the verifier's fraction), EvoSearch's judged metric must rise from its smallest to its largest budget (paired change, interval above 0) and lose to no method at equal NFE at the largest budget; holds when both directions do, does not hold when a change's interval lies below 0 or a loss is read, otherwise cannot tell.\n\n"
        for g in [verifier, clip] where result.runs.contains(where: { $0.guide == g }) {
            let j = judged(by: g)
            t += "### guided by \(g), judged by \(j.rawValue)\n\n" + cellTable(g, [.guideReward, j, .accuracy])
            t += "\nEvoSearch − method on \(j.rawValue), paired:\n\n" + comparisonTable(g, [j], axes: [.nfe, .compute])
            let b = budgets(g, reference)
            if let lo = b.first, let hi = b.last, lo != hi, let rise = change(g, reference, j, from: lo, to: hi) {
                t += "\nEvoSearch's \(j.rawValue) from \(lo) to \(hi) rollouts: \(Self.signed(rise.difference)) \(ToyBenchmarkReport.interval(rise.interval)) (\(rise.pairs) pairs).\n"
            }
            let h = hacking(g)
            t += "\nReward hacking (consecutive budgets where the mean guiding reward rises while the mean \(j.rawValue) falls; \"shown\" when both intervals exclude 0): "
            if h.isEmpty { t += "none.\n\n" } else {
                t += "\n\n| method | rollouts | Δ guide reward [95% CI] | Δ \(j.rawValue) [95% CI] | shown |\n|---|---|---|---|---|\n"
                for x in h {
                    t += "| \(x.method) | \(x.from) → \(x.to) | \(Self.signed(x.guideChange.difference)) \(ToyBenchmarkReport.interval(x.guideChange.interval)) | \(Self.signed(x.judgedChange.difference)) \(ToyBenchmarkReport.interval(x.judgedChange.interval)) | \(x.shown ? "yes" : "no") |\n"
                }
                t += "\n"
            }
        }
        if !result.runs.contains(where: { $0.guide == clip }) { t += "No CLIP-guided runs (no CLIP model given).\n" }
        return t
    }

    public var diversityMarkdown: String {
        let g = verifier
        var t = "## Claim 3 — diversity of the final population, guided by the verifier\n\n\(header)\n\n"
        t += "\(verdictLine(.diversity)) Rule: at the largest budget EvoSearch ran, EvoSearch − each other method on the mean pairwise pixel distance of the final population at equal NFE; holds when every read is a win, does not hold when any is a loss, otherwise cannot tell. (Distinct layouts are shown but not used: their count grows with the population's size, which differs between methods.)\n\n"
        t += "The final population: EvoSearch's last generation, zero-order search's last iteration and search over paths' final paths (all of each); for Best-of-N, particle filtering and beam search the best min(8, size) of their final samples, particles or beams. A layout is the sorted multiset of (shape, colour, 3 × 3 grid cell of the centre) of the objects the verifier's detector finds (for a video, in its first and last frames); distances are Euclidean between final latents and between decoded samples ([0, 1] RGB), averaged over pairs (a set of one has none). \n\n"
        t += "`set` is the population's mean size.\n\n" + cellTable(g, [.layouts, .latentDistance, .pixelDistance], setSize: true)
        t += "\nEvoSearch − method, paired, at equal NFE:\n\n" + comparisonTable(g, [.layouts, .latentDistance, .pixelDistance], axes: [.nfe])
        return t
    }

    public var equalTimeMarkdown: String {
        var t = "## Claim 4 — equal wall time: \(context.model) with search against \(context.largeModel ?? "the large model")'s Best-of-k\n\n\(header)\n\n"
        t += "\(verdictLine(.equalTime)) Rule: for every k, the small model's EvoSearch − the large model's verifier-guided Best-of-k on the verifier's score (paired over (prompt, seed)); holds when every k is a win, does not hold when any is a loss, otherwise cannot tell. The small model's budget is the whole rollouts that fit in the large model's measured time (ShapesBenchmark.runEqualTime).\n\n"
        guard !result.equalTime.isEmpty else { return t + "Not run (no large model, or interrupted before it).\n" }
        t += "| k | model · method | pairs | verifier score [95% CI] | accuracy [95% CI] | mean NFE | mean s |\n|---|---|---|---|---|---|---|\n"
        for k in equalKs {
            for (model, method) in [("large", Self.largeMethod(k))] + Self.smallMethods.map({ ("small", $0) }) {
                let rows = equalRows(k, model, method)
                guard !rows.isEmpty else { continue }
                let n = Double(rows.count)
                t += "| \(k) | \(model) · \(method) | \(rows.count) | \(Self.est(equalTimeEstimate(k, model: model, method: method, accuracy: false))) | \(Self.est(equalTimeEstimate(k, model: model, method: method, accuracy: true))) | "
                t += String(format: "%.0f | %.2f |\n", Double(rows.map(\.nfe).reduce(0, +)) / n, rows.map(\.seconds).reduce(0, +) / n)
            }
        }
        t += "\nSmall model's method − large model's Best-of-k, paired:\n\n| k | small method | score [95% CI] | | accuracy [95% CI] | |\n|---|---|---|---|---|---|\n"
        for k in equalKs {
            for m in Self.smallMethods {
                t += "| \(k) | \(m) | \(Self.cmp(equalTimeComparison(k, smallMethod: m, accuracy: false))) | \(Self.cmp(equalTimeComparison(k, smallMethod: m, accuracy: true))) |\n"
            }
        }
        return t
    }

    public func markdown(_ claim: ClaimsBenchmark.Claim) -> String {
        switch claim {
        case .scaling: scalingMarkdown
        case .generalisation: generalisationMarkdown
        case .diversity: diversityMarkdown
        case .equalTime: equalTimeMarkdown
        }
    }

    /// Every claim's section with its figure (`figurePrefix` + "<claim>.svg") and the command and commit under it.
    public func resultsMarkdown(figurePrefix: String = "") -> String {
        let world = verifier == ShapesVideoVerifierReward.registryName ? "moving-shapes world" : "shapes world"
        var t = "# EvoSearch's claims on the \(world)\n\n"
        t += "| claim | verdict |\n|---|---|\n" + settings.claims.sorted().map { "| \($0.rawValue) | \(verdict($0).rawValue) |\n" }.joined() + "\n"
        for c in settings.claims.sorted() {
            t += markdown(c) + "\n![\(c.rawValue)](\(figurePrefix)\(c.rawValue).svg)\n\n\(stamp)\n\n"
        }
        // A resumed run's searches ran in earlier invocations too: their own times are summed beside this one's.
        let searched = result.runs.map(\.wallSeconds).reduce(0, +) + result.equalTime.map(\.seconds).reduce(0, +)
        return t + String(format: "(%.0f s of search time summed over the searches, whichever run made them; %.0f s for this command)\n", searched, result.seconds)
    }

    // MARK: CSV

    public static let csvHeader = "guide,method,rollouts,prompt,task,seed,nfe,reward_calls,guide_reward,verifier_score,all_satisfied,clip_score,model_seconds,reward_seconds,wall_seconds,diversity_set,distinct_layouts,latent_l2,pixel_l2\n"

    /// One run as a CSV line (prompts are quoted; the grammar has no quotes).
    public static func csvRow(_ r: Run) -> String {
        func o(_ x: Double?) -> String { x.map { "\($0)" } ?? "" }
        return "\(r.guide),\(r.method),\(r.rollouts),\"\(r.prompt)\",\(r.task),\(r.seed),\(r.nfe),\(r.rewardCalls),\(r.guideReward),\(r.verifierScore),\(r.correct),\(o(r.clipScore)),\(r.modelSeconds),\(r.rewardSeconds),\(r.wallSeconds),\(r.diversitySize),\(r.layouts),\(o(r.latentDistance)),\(o(r.pixelDistance))\n"
    }

    public static let equalTimeCSVHeader = "seed,large_samples,prompt,task,model,method,nfe,verifier_score,all_satisfied,seconds\n"

    public static func csvRow(_ e: ClaimsBenchmark.EqualTimeRun) -> String {
        "\(e.seed),\(e.largeSamples),\"\(e.prompt)\",\(e.task),\(e.model),\(e.method),\(e.nfe),\(e.score),\(e.correct),\(e.seconds)\n"
    }

    /// Which grid runs a claim's CSV holds: the verifier-guided ones (guide name `verifier`), or all for
    /// generalisation.
    public static func holds(_ claim: ClaimsBenchmark.Claim, _ r: Run, verifier: String) -> Bool {
        switch claim {
        case .scaling, .diversity: r.guide == verifier
        case .generalisation: true
        case .equalTime: false
        }
    }

    public func csv(_ claim: ClaimsBenchmark.Claim) -> String {
        if claim == .equalTime { return Self.equalTimeCSVHeader + result.equalTime.map(Self.csvRow).joined() }
        return Self.csvHeader + result.runs.filter { Self.holds(claim, $0, verifier: verifier) }.map(Self.csvRow).joined()
    }

    // MARK: SVG

    static let computeLabel = "compute per search, s (model + reward; log scale)"

    func series(_ guide: String, _ metric: Metric, axis: Axis) -> [MethodComparisonSVG.Series] {
        methods.map { m in
            MethodComparisonSVG.Series(method: m, points: budgets(guide, m).compactMap { r in
                guard let e = estimate(guide, m, r, metric) else { return nil }
                let x = axis == .nfe ? Double(r * settings.steps) : (meanCompute(guide, m, r) ?? 0)
                return MethodComparisonSVG.Point(x: x, value: e.mean, lower: e.interval?.lower, upper: e.interval?.upper)
            })
        }
    }

    func panel(_ guide: String, _ metric: Metric, axis: Axis, title: String, unit: Bool) -> MethodComparisonSVG.Panel {
        MethodComparisonSVG.Panel(title: title, xLabel: axis == .nfe ? "NFE (log scale)" : Self.computeLabel, yLabel: metric.rawValue,
                                  series: series(guide, metric, axis: axis), yRange: unit ? 0...1 : nil)
    }

    func plot(_ title: String, _ panels: [MethodComparisonSVG.Panel]) -> String {
        var svg = MethodComparisonSVG(title: title, yLabel: "")
        svg.footer = [stamp.replacingOccurrences(of: "`", with: "")]
        return svg.render(panels, columns: 2)
    }

    public func svg(_ claim: ClaimsBenchmark.Claim) -> String {
        let v = verifier
        switch claim {
        case .scaling:
            return plot("\(context.model): guided by the verifier — means with 95% bands over (prompt, seed)", [
                panel(v, .guideReward, axis: .nfe, title: "best guiding reward against NFE", unit: true),
                panel(v, .guideReward, axis: .compute, title: "best guiding reward against total compute", unit: true),
                panel(v, .accuracy, axis: .nfe, title: "verifier accuracy against NFE", unit: true),
                panel(v, .accuracy, axis: .compute, title: "verifier accuracy against total compute", unit: true)])
        case .generalisation:
            return plot("\(context.model): judged by the reward that did not guide — means with 95% bands", [
                panel(v, .clipScore, axis: .nfe, title: "guided by the verifier, judged by CLIP (NFE)", unit: false),
                panel(v, .clipScore, axis: .compute, title: "guided by the verifier, judged by CLIP (compute)", unit: false),
                panel(clip, .verifierScore, axis: .nfe, title: "guided by CLIP, judged by the verifier (NFE)", unit: true),
                panel(clip, .verifierScore, axis: .compute, title: "guided by CLIP, judged by the verifier (compute)", unit: true)])
        case .diversity:
            return plot("\(context.model): diversity of the final population, guided by the verifier", [
                panel(v, .layouts, axis: .nfe, title: "distinct layouts against NFE", unit: false),
                panel(v, .layouts, axis: .compute, title: "distinct layouts against total compute", unit: false),
                panel(v, .latentDistance, axis: .nfe, title: "mean pairwise latent L2 against NFE", unit: false),
                panel(v, .pixelDistance, axis: .nfe, title: "mean pairwise pixel L2 against NFE", unit: false)])
        case .equalTime:
            func series(accuracy: Bool, seconds: Bool) -> [MethodComparisonSVG.Series] {
                ([("large", nil as String?)] + Self.smallMethods.map { ("small", $0) }).map { model, method in
                    let name = method.map { "small · \($0)" } ?? "large · best-of-k"
                    return MethodComparisonSVG.Series(method: name, points: equalKs.compactMap { k in
                        let m = method ?? Self.largeMethod(k)
                        let rows = equalRows(k, model, m)
                        guard let e = equalTimeEstimate(k, model: model, method: m, accuracy: accuracy) else { return nil }
                        let x = seconds ? rows.map(\.seconds).reduce(0, +) / Double(rows.count) : Double(rows.map(\.nfe).reduce(0, +)) / Double(rows.count)
                        return MethodComparisonSVG.Point(x: x, value: e.mean, lower: e.interval?.lower, upper: e.interval?.upper)
                    })
                }
            }
            func p(_ accuracy: Bool, _ seconds: Bool) -> MethodComparisonSVG.Panel {
                MethodComparisonSVG.Panel(title: "\(accuracy ? "verifier accuracy" : "verifier score") against \(seconds ? "wall time" : "NFE") (one point per k)",
                                          xLabel: seconds ? "wall seconds per search (log scale)" : "NFE (log scale)",
                                          yLabel: accuracy ? "accuracy" : "verifier score", series: series(accuracy: accuracy, seconds: seconds), yRange: 0...1)
            }
            return plot("equal wall time: \(context.model) + search against \(context.largeModel ?? "the large model")", [p(false, false), p(false, true), p(true, false), p(true, true)])
        }
    }

    // MARK: Files

    /// Every file the report writes, by name: per claim `<claim>.csv`, `<claim>.md`, `<claim>.svg`; then `results.md`.
    public var files: [(name: String, contents: String)] {
        settings.claims.sorted().flatMap { c in
            [("\(c.rawValue).csv", csv(c)), ("\(c.rawValue).md", markdown(c)), ("\(c.rawValue).svg", svg(c))]
        } + [("results.md", resultsMarkdown())]
    }

    /// Writes `files` into `directory` (created if needed).
    public func write(to directory: URL) throws {
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        for (name, contents) in files {
            try Data(contents.utf8).write(to: directory.appendingPathComponent(name), options: .atomic)
        }
    }
}
