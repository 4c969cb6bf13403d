import Foundation
import Models
import Rewards
import TensorCore
import ToyWorlds

/// A self-contained SVG (no scripts, fonts or external references) of a 2-D toy world and a set of samples.
///
/// Two panels share the same axes: left, the prior density p(x); right, the reward-tilted target
/// p*(x) ∝ p(x)·exp(r(x)/α) at the scenario's α. Each density is drawn as filled cells on an 80×80 grid,
/// coloured by √(density / max density) (the square root keeps light modes visible), with a dashed contour of
/// the reward at half its range. The samples are dots on both panels, the `best` one as a red ring. Axes
/// carry tick labels; a legend explains the marks. The view box covers ±3.5 std around every mode, the
/// reward's centre, and the samples (clipped to 3× that extent so one wild sample cannot shrink the plot).
///
/// Precondition: `scenario.dimension == 2` and `samples` is `[N, 2]` (the caller checks and reports).
func renderToyPlotSVG(scenario: ToyScenario, samples: Tensor, best: [Float]?, title: String) -> String {
    precondition(scenario.dimension == 2, "renderToyPlotSVG: only 2-D scenarios can be plotted (dimension \(scenario.dimension))")
    precondition(samples.count == 0 || samples.rowSize == 2, "renderToyPlotSVG: samples must be [N, 2], got \(samples.shape)")
    let mixture = scenario.makeMixture()
    let reward = scenario.makeReward()
    let alpha = scenario.alpha
    let n = samples.count == 0 ? 0 : samples.rows
    let points: [(Double, Double)] = (0..<n).map { (Double(samples.scalars[2 * $0]), Double(samples.scalars[2 * $0 + 1])) }
        .filter { $0.0.isFinite && $0.1.isFinite }

    // View box.
    var lo = [Double.infinity, Double.infinity], hi = [-Double.infinity, -Double.infinity]
    for k in 0..<mixture.componentCount {
        let m = mixture.components[k].mean, s = mixture.std(ofComponent: k)
        for j in 0..<2 { lo[j] = min(lo[j], m[j] - 3.5 * s[j]); hi[j] = max(hi[j], m[j] + 3.5 * s[j]) }
    }
    switch scenario.reward {
    case .gaussianBump(let c, _, _), .negativeSquaredDistance(let c):
        for j in 0..<2 { lo[j] = min(lo[j], c[j] - 0.5); hi[j] = max(hi[j], c[j] + 0.5) }
    case .linear, .constant: break
    }
    let core = (lo, hi)
    for p in points {
        let v = [p.0, p.1]
        for j in 0..<2 {
            let span = core.1[j] - core.0[j]
            lo[j] = min(lo[j], max(v[j], core.0[j] - span)); hi[j] = max(hi[j], min(v[j], core.1[j] + span))
        }
    }
    // Square, padded view so both axes share a scale.
    let cx = (lo[0] + hi[0]) / 2, cy = (lo[1] + hi[1]) / 2
    let half = max(hi[0] - lo[0], hi[1] - lo[1]) / 2 * 1.05
    let x0 = cx - half, x1 = cx + half, y0 = cy - half, y1 = cy + half

    // Density grids (log values; normalised for colour below).
    let cells = 80
    let step = (x1 - x0) / Double(cells)
    var gridPoints = [Float]()
    gridPoints.reserveCapacity(cells * cells * 2)
    for r in 0..<cells { for c in 0..<cells {
        gridPoints.append(Float(x0 + (Double(c) + 0.5) * step))
        gridPoints.append(Float(y1 - (Double(r) + 0.5) * step))   // row 0 at the top
    } }
    let gridTensor = Tensor(shape: [cells * cells, 2], scalars: gridPoints)
    let logPrior = mixture.logDensity(gridTensor)
    let rewardValues = (0..<(cells * cells)).map { reward.value(at: [Double(gridPoints[2 * $0]), Double(gridPoints[2 * $0 + 1])]) }
    let logTarget = zip(logPrior, rewardValues).map { $0 + $1 / alpha }

    // Layout.
    let panel = 360.0, margin = 56.0, gap = 70.0, top = 64.0, legendHeight = 80.0
    let width = margin + panel + gap + panel + 24, height = top + panel + 44 + legendHeight
    let panelX = [margin, margin + panel + gap]
    func sx(_ x: Double, _ p: Int) -> Double { panelX[p] + (x - x0) / (x1 - x0) * panel }
    func sy(_ y: Double) -> Double { top + (y1 - y) / (y1 - y0) * panel }
    func f(_ v: Double) -> String { String(format: "%.1f", v) }

    var svg = """
    <svg xmlns="http://www.w3.org/2000/svg" width="\(Int(width))" height="\(Int(height))" viewBox="0 0 \(Int(width)) \(Int(height))" font-family="sans-serif" font-size="12">
    <rect width="100%" height="100%" fill="white"/>
    <text x="\(f(width / 2))" y="24" text-anchor="middle" font-size="15" font-weight="bold">\(xmlEscape(title))</text>

    """
    let subtitles = ["prior p(x)", "target p(x)·exp(r(x)/α), α = \(formatNumber(alpha))"]
    for (p, logs) in [logPrior, logTarget].enumerated() {
        svg += "<text x=\"\(f(panelX[p] + panel / 2))\" y=\"\(f(top - 10))\" text-anchor=\"middle\" font-size=\"13\">\(xmlEscape(subtitles[p]))</text>\n"
        svg += "<g shape-rendering=\"crispEdges\">\n"
        svg += "<rect x=\"\(f(panelX[p]))\" y=\"\(f(top))\" width=\"\(f(panel))\" height=\"\(f(panel))\" fill=\"\(colour(0))\"/>\n"
        let maxLog = logs.filter(\.isFinite).max() ?? 0
        let cellSize = panel / Double(cells)
        // Quantise to 48 levels and merge runs of equal colour along each row.
        for r in 0..<cells {
            var c = 0
            while c < cells {
                let level = quantisedLevel(logs[r * cells + c], maxLog: maxLog)
                var end = c + 1
                while end < cells && quantisedLevel(logs[r * cells + end], maxLog: maxLog) == level { end += 1 }
                if level > 0 {
                    svg += "<rect x=\"\(f(panelX[p] + Double(c) * cellSize))\" y=\"\(f(top + Double(r) * cellSize))\" width=\"\(f(Double(end - c) * cellSize + 0.4))\" height=\"\(f(cellSize + 0.4))\" fill=\"\(colour(Double(level) / 48))\"/>\n"
                }
                c = end
            }
        }
        svg += "</g>\n"
        svg += rewardContour(rewardValues, cells: cells, origin: panelX[p], top: top, cellSize: cellSize)
        svg += axes(panelX: panelX[p], top: top, panel: panel, range: (x0, x1), yRange: (y0, y1))
        // Samples, then the best one on top.
        svg += "<g fill=\"white\" fill-opacity=\"0.85\" stroke=\"black\" stroke-width=\"0.6\">\n"
        for q in points where q.0 >= x0 && q.0 <= x1 && q.1 >= y0 && q.1 <= y1 {
            svg += "<circle cx=\"\(f(sx(q.0, p)))\" cy=\"\(f(sy(q.1)))\" r=\"2.6\"/>\n"
        }
        svg += "</g>\n"
        if let b = best, b.count == 2, b.allSatisfy(\.isFinite) {
            let bx = min(max(Double(b[0]), x0), x1), by = min(max(Double(b[1]), y0), y1)
            svg += "<circle cx=\"\(f(sx(bx, p)))\" cy=\"\(f(sy(by)))\" r=\"6\" fill=\"none\" stroke=\"#e0201b\" stroke-width=\"2.5\"/>\n"
            svg += "<circle cx=\"\(f(sx(bx, p)))\" cy=\"\(f(sy(by)))\" r=\"2.2\" fill=\"#e0201b\"/>\n"
        }
    }

    // Legend.
    let ly = top + panel + 44
    svg += "<g transform=\"translate(\(f(margin)),\(f(ly)))\">\n"
    svg += "<circle cx=\"6\" cy=\"0\" r=\"2.6\" fill=\"white\" stroke=\"black\" stroke-width=\"0.6\"/>"
    svg += "<text x=\"16\" y=\"4\">sample (\(points.count))</text>\n"
    svg += "<circle cx=\"136\" cy=\"0\" r=\"6\" fill=\"none\" stroke=\"#e0201b\" stroke-width=\"2.5\"/><circle cx=\"136\" cy=\"0\" r=\"2.2\" fill=\"#e0201b\"/>"
    svg += "<text x=\"148\" y=\"4\">best sample</text>\n"
    if let lo = rewardValues.min(), let hi = rewardValues.max(), hi - lo > 1e-9 {
        svg += "<line x1=\"246\" y1=\"0\" x2=\"272\" y2=\"0\" stroke=\"#ff8c1a\" stroke-width=\"1.6\" stroke-dasharray=\"4 3\"/>"
        svg += "<text x=\"278\" y=\"4\">\(xmlEscape(reward.name)) reward = \(formatNumber((lo + hi) / 2, digits: 3)) (mid-range)</text>\n"
    } else {
        svg += "<text x=\"246\" y=\"4\">\(xmlEscape(reward.name)) reward (flat on this view)</text>\n"
    }
    for i in 0..<60 {
        svg += "<rect x=\"\(f(62 + Double(i) * 2))\" y=\"20\" width=\"2.4\" height=\"12\" fill=\"\(colour(Double(i) / 59))\"/>"
    }
    svg += "\n<text x=\"0\" y=\"30\">density: 0</text><text x=\"186\" y=\"30\">max (√ scale, each panel normalised to its own maximum)</text>\n"
    let weights = scenario.targetModeWeights()
    let coverage = scenario.modeCoverage(samples: samples)
    let weightText = weights.map { String(format: "%.2f", $0) }.joined(separator: " ")
    svg += "<text x=\"0\" y=\"54\">target mode weights: \(weightText) · samples cover \(coverage.coveredTargetModes.count)/\(coverage.targetModes.count) target modes · TV \(String(format: "%.3f", coverage.totalVariation))</text>\n"
    svg += "</g>\n</svg>\n"
    return svg
}

/// 0 for cells below 1/48 of the colour range, otherwise 1…48 on a √(p / max p) scale.
private func quantisedLevel(_ logValue: Double, maxLog: Double) -> Int {
    guard logValue.isFinite else { return 0 }
    let t = exp(0.5 * (logValue - maxLog))   // √ of the ratio to the maximum
    return min(max(Int((t * 48).rounded(.down)), 0), 48)
}

/// A perceptually ordered colour ramp (dark blue → teal → yellow), t ∈ [0, 1].
private func colour(_ t: Double) -> String {
    let stops: [(Double, Double, Double)] = [(0.98, 0.98, 1.0), (0.78, 0.86, 0.95), (0.35, 0.62, 0.80),
                                             (0.16, 0.45, 0.55), (0.30, 0.64, 0.35), (0.98, 0.86, 0.22)]
    let x = min(max(t, 0), 1) * Double(stops.count - 1)
    let i = min(Int(x), stops.count - 2), u = x - Double(i)
    func mix(_ a: Double, _ b: Double) -> Int { Int(((a + (b - a) * u) * 255).rounded()) }
    return String(format: "#%02x%02x%02x", mix(stops[i].0, stops[i + 1].0), mix(stops[i].1, stops[i + 1].1), mix(stops[i].2, stops[i + 1].2))
}

/// Dashed segments where the reward crosses the middle of its range on the grid (marching squares, no
/// saddle disambiguation — it is a guide for the eye). Empty for a flat reward.
private func rewardContour(_ values: [Double], cells: Int, origin: Double, top: Double, cellSize: Double) -> String {
    guard let lo = values.min(), let hi = values.max(), hi - lo > 1e-9 else { return "" }
    let level = (lo + hi) / 2
    func v(_ r: Int, _ c: Int) -> Double { values[r * cells + c] }
    func px(_ c: Double) -> Double { origin + (c + 0.5) * cellSize }
    func py(_ r: Double) -> Double { top + (r + 0.5) * cellSize }
    var d = ""
    for r in 0..<(cells - 1) { for c in 0..<(cells - 1) {
        // Corners in order: (r,c) (r,c+1) (r+1,c+1) (r+1,c); crossings on the 4 edges.
        let corners = [(r, c), (r, c + 1), (r + 1, c + 1), (r + 1, c)]
        var crossings: [(Double, Double)] = []
        for e in 0..<4 {
            let (ra, ca) = corners[e], (rb, cb) = corners[(e + 1) % 4]
            let a = v(ra, ca) - level, b = v(rb, cb) - level
            if (a < 0) != (b < 0) {
                let t = a / (a - b)
                crossings.append((Double(ca) + t * Double(cb - ca), Double(ra) + t * Double(rb - ra)))
            }
        }
        var i = 0
        while i + 1 < crossings.count {
            d += String(format: "M%.1f %.1fL%.1f %.1f", px(crossings[i].0), py(crossings[i].1), px(crossings[i + 1].0), py(crossings[i + 1].1))
            i += 2
        }
    } }
    if d.isEmpty { return "" }
    return "<path d=\"\(d)\" fill=\"none\" stroke=\"#ff8c1a\" stroke-width=\"1.6\" stroke-dasharray=\"4 3\"/>\n"
}

/// Frame, ticks and tick labels for one panel.
private func axes(panelX: Double, top: Double, panel: Double, range: (Double, Double), yRange: (Double, Double)) -> String {
    func f(_ v: Double) -> String { String(format: "%.1f", v) }
    var s = "<rect x=\"\(f(panelX))\" y=\"\(f(top))\" width=\"\(f(panel))\" height=\"\(f(panel))\" fill=\"none\" stroke=\"#333\"/>\n"
    s += "<g stroke=\"#333\">"
    var labels = ""
    for t in niceTicks(range.0, range.1) {
        let x = panelX + (t - range.0) / (range.1 - range.0) * panel
        s += "<line x1=\"\(f(x))\" y1=\"\(f(top + panel))\" x2=\"\(f(x))\" y2=\"\(f(top + panel + 5))\"/>"
        labels += "<text x=\"\(f(x))\" y=\"\(f(top + panel + 18))\" text-anchor=\"middle\">\(formatNumber(t))</text>"
    }
    for t in niceTicks(yRange.0, yRange.1) {
        let y = top + (yRange.1 - t) / (yRange.1 - yRange.0) * panel
        s += "<line x1=\"\(f(panelX - 5))\" y1=\"\(f(y))\" x2=\"\(f(panelX))\" y2=\"\(f(y))\"/>"
        labels += "<text x=\"\(f(panelX - 8))\" y=\"\(f(y + 4))\" text-anchor=\"end\">\(formatNumber(t))</text>"
    }
    s += "</g>\n" + labels + "\n"
    s += "<text x=\"\(f(panelX + panel / 2))\" y=\"\(f(top + panel + 34))\" text-anchor=\"middle\" font-style=\"italic\">x₁</text>"
    s += "<text x=\"\(f(panelX - 38))\" y=\"\(f(top + panel / 2))\" text-anchor=\"middle\" font-style=\"italic\">x₂</text>\n"
    return s
}

/// Round tick positions (steps of 1, 2 or 5 × 10ᵏ), about six across the range.
private func niceTicks(_ lo: Double, _ hi: Double) -> [Double] {
    let raw = (hi - lo) / 6
    let mag = pow(10, floor(log10(raw)))
    let step = [1.0, 2, 5, 10].map { $0 * mag }.first { $0 >= raw } ?? 10 * mag
    var t = (lo / step).rounded(.up) * step
    var out: [Double] = []
    while t <= hi + 1e-9 * step { out.append(abs(t) < 1e-9 * step ? 0 : t); t += step }
    return out
}

private func formatNumber(_ v: Double, digits: Int = 6) -> String {
    if v == v.rounded() && abs(v) < 1e6 { return String(Int(v)) }
    return String(format: "%.\(digits)g", v)
}

private func xmlEscape(_ s: String) -> String {
    s.replacingOccurrences(of: "&", with: "&amp;").replacingOccurrences(of: "<", with: "&lt;")
        .replacingOccurrences(of: ">", with: "&gt;").replacingOccurrences(of: "\"", with: "&quot;")
}
