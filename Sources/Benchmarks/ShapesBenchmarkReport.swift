import Foundation
import Reports
import Sampling
import Search

/// What `bench shapes` writes: the markdown table, runs.csv, equal-time.csv and the accuracy-vs-NFE panels.
public struct ShapesBenchmarkReport {
    public var settings: ShapesBenchmark.Settings
    public var model: String
    public var promptCount: Int
    public var guides: [String]
    public var runs: [ShapesBenchmark.Run]
    public var equalTime: [ShapesBenchmark.EqualTimeRow]
    public var seconds: Double
    /// The world the prompts are of: its task types are the per-task columns.
    public var kind: SampleKind

    public init(settings: ShapesBenchmark.Settings, model: String, promptCount: Int, guides: [String],
                runs: [ShapesBenchmark.Run], equalTime: [ShapesBenchmark.EqualTimeRow], seconds: Double, kind: SampleKind = .image) {
        self.settings = settings; self.model = model; self.promptCount = promptCount; self.guides = guides
        self.runs = runs; self.equalTime = equalTime; self.seconds = seconds; self.kind = kind
    }

    /// "100% (1.00)": the fraction of runs whose every constraint holds, and the mean constraint fraction.
    static func accuracy(_ rows: [ShapesBenchmark.Run]) -> String {
        rows.isEmpty ? "n/a" : String(format: "%.0f%% (%.2f)", 100 * Double(rows.filter(\.correct).count) / Double(rows.count),
                                      rows.map(\.score).reduce(0, +) / Double(rows.count))
    }

    public var markdown: String {
        let s = settings, budgets = s.rollouts, last = budgets.last ?? 0
        let tasks = JudgedPrompt.tasks(kind), sample = kind == .image ? "image" : "video"
        var t = "## bench shapes\(kind == .video ? " --video" : ""): \(model), \(promptCount) held-out prompts, \(s.steps) steps, guidance \(s.guidance), η \(s.eta) (\(s.scheduler ?? "the model's stochastic sampler")), seed \(s.seed)\n\n"
        t += "Verifier accuracy of each search's best \(sample) (mean constraint fraction in brackets); columns are budgets in rollouts (NFE = rollouts × \(s.steps)).\n\n"
        for g in guides {
            t += "### guided by \(g)\n\n| method | " + budgets.map { "\($0) (\($0 * s.steps) NFE)" }.joined(separator: " | ") + " | reward calls at \(last) |\n"
            t += "|---|" + budgets.map { _ in "---|" }.joined() + "---|\n"
            for m in s.methods {
                let rows = runs.filter { $0.guide == g && $0.method == m }
                let atLast = rows.filter { $0.rollouts == last }
                let calls = atLast.isEmpty ? "n/a" : String(format: "%.0f", Double(atLast.map(\.rewardCalls).reduce(0, +)) / Double(atLast.count))
                t += "| \(m.rawValue) | " + budgets.map { b in Self.accuracy(rows.filter { $0.rollouts == b }) }.joined(separator: " | ") + " | \(calls) |\n"
            }
            t += "\nPer task type at \(last) rollouts:\n\n| method | " + tasks.joined(separator: " | ") + " |\n"
            t += "|---|" + tasks.map { _ in "---|" }.joined() + "\n"
            for m in s.methods {
                let rows = runs.filter { $0.guide == g && $0.method == m && $0.rollouts == last }
                t += "| \(m.rawValue) | " + tasks.map { task in Self.accuracy(rows.filter { $0.task == task }) }.joined(separator: " | ") + " |\n"
            }
            t += "\n"
        }
        if !equalTime.isEmpty {
            t += "### equal wall time: the large model with k verifier-guided samples vs \(model) with verifier-guided search\n\n"
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
        // A resumed run's searches ran in earlier invocations too: their own times are summed beside this one's.
        let searched = runs.map(\.seconds).reduce(0, +) + equalTime.map(\.seconds).reduce(0, +)
        t += String(format: "(%.0f s of search time summed over the searches, whichever run made them; %.0f s for this command)\n", searched, seconds)
        return t
    }

    /// Prompts are quoted (they hold no quotes: the grammar has none).
    public var runsCSV: String {
        var csv = "guide,method,rollouts,nfe,prompt,task,verifier_score,all_satisfied,guide_reward,reward_calls,seconds\n"
        for r in runs {
            csv += "\(r.guide),\(r.method.rawValue),\(r.rollouts),\(r.nfe),\"\(r.prompt)\",\(r.task),\(r.score),\(r.correct),\(r.guideReward),\(r.rewardCalls),\(String(format: "%.3f", r.seconds))\n"
        }
        return csv
    }

    public var equalTimeCSV: String {
        var csv = "large_samples,prompt,task,model,method,nfe,verifier_score,all_satisfied,seconds\n"
        for e in equalTime {
            csv += "\(e.largeSamples),\"\(e.prompt)\",\(e.task),\(e.model),\(e.method),\(e.nfe),\(e.score),\(e.correct),\(String(format: "%.3f", e.seconds))\n"
        }
        return csv
    }

    /// One panel per guide: verifier accuracy against NFE, one line per method.
    public var accuracySVG: String {
        let panels = guides.map { g -> (title: String, series: [MethodComparisonSVG.Series]) in
            (title: "guided by \(g)", series: settings.methods.map { m in
                MethodComparisonSVG.Series(method: m.rawValue, points: settings.rollouts.compactMap { b in
                    let rows = runs.filter { $0.guide == g && $0.method == m && $0.rollouts == b }
                    return rows.isEmpty ? nil : (nfe: b * settings.steps, value: Double(rows.filter(\.correct).count) / Double(rows.count))
                })
            })
        }
        return MethodComparisonSVG(title: "\(model): verifier accuracy on \(promptCount) held-out prompts against NFE",
                                   yLabel: "verifier accuracy").render(panels: panels)
    }
}
