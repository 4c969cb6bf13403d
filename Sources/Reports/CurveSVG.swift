import Foundation
import Search

/// The reward-versus-NFE plot of a search as an SVG element: every scored sample as a dot at the NFE
/// when it was scored, and the running best as a step line, with labelled axes and "nice" ticks.
///
/// Non-finite rewards (NaN-scored samples, ranked `-inf`) are left out of the plot. The x axis runs from 0 to
/// `maxNFE` (normally the budget); the y axis spans the finite rewards with a small margin. The output uses only
/// SVG 1.1 elements, no scripts and no external fonts (generic `sans-serif`). Inline in HTML (the default) it has
/// no `xmlns` attribute, so a report holds no `http` text at all; `standalone: true` adds it for a .svg file.
public struct CurveSVG: Sendable {
    public var width: Int
    public var height: Int
    public var title: String

    public init(width: Int = 640, height: Int = 360, title: String = "best reward versus NFE") {
        self.width = width; self.height = height; self.title = title
    }

    /// Axis tick values inside `lo…hi`: multiples of a step of 1, 2 or 5 × 10^k chosen so that there are about
    /// `count` steps (at least the smallest such step ≥ (hi − lo)/count). `[lo]` when the range is empty.
    public static func ticks(_ lo: Double, _ hi: Double, count: Int = 5) -> [Double] {
        guard hi > lo, lo.isFinite, hi.isFinite else { return [lo] }
        let raw = (hi - lo) / Double(count)
        let magnitude = pow(10, floor(log10(raw)))
        let step = [1.0, 2, 5, 10].map { $0 * magnitude }.first { $0 >= raw } ?? 10 * magnitude
        var out: [Double] = []
        var v = (lo / step).rounded(.up) * step
        while v <= hi + step * 1e-9 { out.append(abs(v) < step * 1e-9 ? 0 : v); v += step }
        return out
    }

    static func label(_ v: Double) -> String { String(format: "%.6g", v) }

    /// The SVG for `samples` (NFE, reward) and the running-best `curve`.
    public func render(samples: [(nfe: Int, reward: Float)], curve: [CurvePoint], maxNFE: Int, standalone: Bool = false) -> String {
        let left = 64.0, right = 16.0, top = 32.0, bottom = 48.0
        let plotW = Double(width) - left - right, plotH = Double(height) - top - bottom
        let finite = samples.map(\.reward).filter(\.isFinite) + curve.map(\.bestReward).filter(\.isFinite)
        var lo = Double(finite.min() ?? 0), hi = Double(finite.max() ?? 1)
        if hi - lo < 1e-9 { let pad = max(abs(hi) * 0.1, 0.5); lo -= pad; hi += pad }
        let margin = (hi - lo) * 0.05
        lo -= margin; hi += margin
        let xMax = Double(max(1, maxNFE, samples.map(\.nfe).max() ?? 0, curve.map(\.nfe).max() ?? 0))
        func x(_ n: Int) -> Double { left + Double(n) / xMax * plotW }
        func y(_ r: Double) -> Double { top + (hi - r) / (hi - lo) * plotH }
        let c = Markup.coordinate

        var svg = "<svg" + (standalone ? " xmlns=\"http://www.w3.org/2000/svg\"" : "") + " class=\"curve\" width=\"\(width)\" height=\"\(height)\" viewBox=\"0 0 \(width) \(height)\" role=\"img\" aria-label=\"\(Markup.escape(title))\">\n"
        svg += "<title>\(Markup.escape(title))</title>\n"
        svg += "<rect x=\"0\" y=\"0\" width=\"\(width)\" height=\"\(height)\" fill=\"#ffffff\"/>\n"
        svg += "<text x=\"\(c(left))\" y=\"20\" font-family=\"sans-serif\" font-size=\"14\" fill=\"#222\">\(Markup.escape(title))</text>\n"
        // Grid and ticks.
        svg += "<g class=\"axes\" font-family=\"sans-serif\" font-size=\"11\" fill=\"#444\">\n"
        for t in Self.ticks(lo, hi) {
            let yy = c(y(t))
            svg += "<line x1=\"\(c(left))\" y1=\"\(yy)\" x2=\"\(c(left + plotW))\" y2=\"\(yy)\" stroke=\"#e4e4e4\"/>"
            svg += "<text x=\"\(c(left - 6))\" y=\"\(yy)\" text-anchor=\"end\" dominant-baseline=\"middle\">\(Self.label(t))</text>\n"
        }
        for t in Self.ticks(0, xMax) {
            let xx = c(left + t / xMax * plotW)
            svg += "<line x1=\"\(xx)\" y1=\"\(c(top + plotH))\" x2=\"\(xx)\" y2=\"\(c(top + plotH + 5))\" stroke=\"#444\"/>"
            svg += "<text x=\"\(xx)\" y=\"\(c(top + plotH + 18))\" text-anchor=\"middle\">\(Self.label(t))</text>\n"
        }
        svg += "<line x1=\"\(c(left))\" y1=\"\(c(top))\" x2=\"\(c(left))\" y2=\"\(c(top + plotH))\" stroke=\"#444\"/>"
        svg += "<line x1=\"\(c(left))\" y1=\"\(c(top + plotH))\" x2=\"\(c(left + plotW))\" y2=\"\(c(top + plotH))\" stroke=\"#444\"/>\n"
        svg += "<text class=\"x-label\" x=\"\(c(left + plotW / 2))\" y=\"\(height - 8)\" text-anchor=\"middle\" font-size=\"12\">NFE (denoiser evaluations)</text>\n"
        svg += "<text class=\"y-label\" x=\"14\" y=\"\(c(top + plotH / 2))\" text-anchor=\"middle\" font-size=\"12\" transform=\"rotate(-90 14 \(c(top + plotH / 2)))\">reward</text>\n"
        svg += "</g>\n"
        // Every scored sample.
        svg += "<g class=\"samples\" fill=\"#6a8caf\" fill-opacity=\"0.55\">\n"
        for s in samples where s.reward.isFinite {
            svg += "<circle cx=\"\(c(x(s.nfe)))\" cy=\"\(c(y(Double(s.reward))))\" r=\"2.5\"/>"
        }
        svg += "\n</g>\n"
        // Running best as a step line.
        let points = curve.filter(\.bestReward.isFinite)
        if let first = points.first {
            var d = "M\(c(x(first.nfe))),\(c(y(Double(first.bestReward))))"
            var last = first
            for p in points.dropFirst() {
                d += " H\(c(x(p.nfe))) V\(c(y(Double(p.bestReward))))"
                last = p
            }
            let end = max(last.nfe, samples.map(\.nfe).max() ?? last.nfe)
            if end > last.nfe { d += " H\(c(x(end)))" }
            svg += "<path class=\"best\" d=\"\(d)\" fill=\"none\" stroke=\"#c0392b\" stroke-width=\"2\"/>\n"
            svg += "<circle class=\"best-point\" cx=\"\(c(x(last.nfe)))\" cy=\"\(c(y(Double(last.bestReward))))\" r=\"4\" fill=\"#c0392b\"/>\n"
        } else {
            svg += "<text x=\"\(c(left + plotW / 2))\" y=\"\(c(top + plotH / 2))\" text-anchor=\"middle\" font-family=\"sans-serif\" font-size=\"13\" fill=\"#888\">no finite rewards</text>\n"
        }
        // Legend.
        let lx = left + plotW - 150, ly = top + plotH - 36
        svg += "<g class=\"legend\" font-family=\"sans-serif\" font-size=\"11\" fill=\"#222\">"
        svg += "<circle cx=\"\(c(lx))\" cy=\"\(c(ly))\" r=\"3\" fill=\"#6a8caf\"/><text x=\"\(c(lx + 8))\" y=\"\(c(ly + 4))\">scored sample</text>"
        svg += "<line x1=\"\(c(lx - 5))\" y1=\"\(c(ly + 16))\" x2=\"\(c(lx + 5))\" y2=\"\(c(ly + 16))\" stroke=\"#c0392b\" stroke-width=\"2\"/><text x=\"\(c(lx + 8))\" y=\"\(c(ly + 20))\">best so far</text>"
        svg += "</g>\n</svg>"
        return svg
    }

    /// The plot of a search result, x axis up to its budget.
    public func render(_ result: SearchResult, standalone: Bool = false) -> String {
        render(samples: result.history.map { (nfe: $0.nfe, reward: $0.reward) }, curve: result.curve, maxNFE: result.budget,
               standalone: standalone)
    }
}
