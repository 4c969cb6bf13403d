import Foundation

/// A standalone SVG comparing search methods: one panel per condition (e.g. the reward that guided the search, or
/// the compute axis), one coloured line per method through its (x, value) points with an optional shaded interval
/// band, x on a log₂ axis (NFE, or seconds of compute), the value on a linear axis. Used by `evosearch bench shapes`
/// (verifier accuracy against NFE) and `evosearch bench claims` (means with bootstrap bands against NFE and
/// total compute).
public struct MethodComparisonSVG: Sendable {
    /// One plotted point: the value at x, and optionally its interval [lower, upper] (drawn as a band).
    public struct Point: Sendable, Equatable {
        public var x: Double, value: Double, lower: Double?, upper: Double?
        public init(x: Double, value: Double, lower: Double? = nil, upper: Double? = nil) {
            self.x = x; self.value = value; self.lower = lower; self.upper = upper
        }
    }

    public struct Series: Sendable {
        public var method: String
        public var points: [Point]
        public init(method: String, points: [Point]) { self.method = method; self.points = points }
        public init(method: String, points: [(nfe: Int, value: Double)]) {
            self.init(method: method, points: points.map { Point(x: Double($0.nfe), value: $0.value) })
        }
    }

    /// One panel: its own x label; x and y ranges fitted to its points (bands included) unless given.
    public struct Panel: Sendable {
        public var title: String, xLabel: String, yLabel: String
        public var series: [Series]
        public var xRange: ClosedRange<Double>?, yRange: ClosedRange<Double>?
        public init(title: String, xLabel: String, yLabel: String, series: [Series],
                    xRange: ClosedRange<Double>? = nil, yRange: ClosedRange<Double>? = nil) {
            self.title = title; self.xLabel = xLabel; self.yLabel = yLabel; self.series = series
            self.xRange = xRange; self.yRange = yRange
        }
    }

    public var title: String
    public var yLabel: String
    public var yRange: ClosedRange<Double>
    public var panelWidth = 420.0
    public var panelHeight = 300.0
    /// Lines printed under the plot (e.g. the command and commit that made it).
    public var footer: [String] = []

    public init(title: String, yLabel: String, yRange: ClosedRange<Double> = 0...1) {
        self.title = title; self.yLabel = yLabel; self.yRange = yRange
    }

    static let palette = ["#c0392b", "#2471a3", "#229954", "#d68910", "#7d3c98", "#17a589", "#566573", "#a04000"]

    /// `panels`: (panel title, its series) against NFE, one shared NFE range and `yRange`. Methods keep one colour
    /// across panels.
    public func render(panels: [(title: String, series: [Series])]) -> String {
        let xs = panels.flatMap { $0.series.flatMap { $0.points.map(\.x) } }.filter { $0 > 0 }
        let lo = xs.min() ?? 1, hi = max(xs.max() ?? 2, 2 * lo)
        return render(panels.map { Panel(title: $0.title, xLabel: "NFE (log scale)", yLabel: yLabel, series: $0.series,
                                         xRange: lo...hi, yRange: yRange) }, columns: panels.count)
    }

    /// Panels in a grid of `columns`; methods keep one colour across panels. Points with x ≤ 0 or a non-finite
    /// value are left out.
    public func render(_ panels: [Panel], columns: Int) -> String {
        let left = 56.0, right = 16.0, top = 48.0, bottom = 44.0, legendH = 22.0, gap = 20.0
        let cols = max(1, min(columns, panels.count)), rows = (panels.count + cols - 1) / cols
        let methods = panels.flatMap { $0.series.map(\.method) }.reduce(into: [String]()) { if !$0.contains($1) { $0.append($1) } }
        let colour = Dictionary(uniqueKeysWithValues: methods.enumerated().map { ($1, Self.palette[$0 % Self.palette.count]) })
        let cellW = left + panelWidth + right, cellH = top + panelHeight + bottom + gap
        let legendTop = 28 + Double(rows) * cellH
        let w = Double(cols) * cellW
        let h = legendTop + legendH * Double((methods.count + 3) / 4) + 14 * Double(footer.count) + 10
        let c = Markup.coordinate
        var svg = "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"\(Int(w))\" height=\"\(Int(h))\" viewBox=\"0 0 \(Int(w)) \(Int(h))\" font-family=\"sans-serif\">\n"
        svg += "<rect width=\"100%\" height=\"100%\" fill=\"#fff\"/>\n"
        svg += "<text x=\"\(c(left))\" y=\"20\" font-size=\"15\" fill=\"#222\">\(Markup.escape(title))</text>\n"
        for (p, panel) in panels.enumerated() {
            let x0 = Double(p % cols) * cellW + left, ty = Double(p / cols) * cellH + top
            let pts = panel.series.flatMap { $0.points.filter { $0.x > 0 && $0.value.isFinite } }
            let xr = panel.xRange ?? {
                let lo = pts.map(\.x).min() ?? 1
                return lo...max(pts.map(\.x).max() ?? 2 * lo, lo * 1.0001)
            }()
            let yr = panel.yRange ?? {
                let v = pts.flatMap { [$0.value, $0.lower ?? $0.value, $0.upper ?? $0.value] }.filter(\.isFinite)
                let lo = v.min() ?? 0, hi = v.max() ?? 1, pad = max((hi - lo) * 0.08, 1e-3 * max(abs(hi), 1))
                return (lo - pad)...(hi + pad)
            }()
            // A fitted range gets a margin of 4% of its log width on each side, so end points are not on the frame.
            let span = max(log2(xr.upperBound) - log2(xr.lowerBound), 1e-6), margin = panel.xRange == nil ? 0.04 * span : 0
            let lx0 = log2(xr.lowerBound) - margin, lx1 = log2(xr.lowerBound) + span + margin
            func x(_ v: Double) -> Double { x0 + (log2(v) - lx0) / (lx1 - lx0) * panelWidth }
            func y(_ v: Double) -> Double {
                ty + (yr.upperBound - min(max(v, yr.lowerBound), yr.upperBound)) / (yr.upperBound - yr.lowerBound) * panelHeight
            }
            svg += "<text x=\"\(c(x0))\" y=\"\(c(ty - 10))\" font-size=\"12\" fill=\"#222\">\(Markup.escape(panel.title))</text>\n"
            for t in CurveSVG.ticks(yr.lowerBound, yr.upperBound) {
                svg += "<line x1=\"\(c(x0))\" y1=\"\(c(y(t)))\" x2=\"\(c(x0 + panelWidth))\" y2=\"\(c(y(t)))\" stroke=\"#e4e4e4\"/>"
                svg += "<text x=\"\(c(x0 - 6))\" y=\"\(c(y(t) + 4))\" font-size=\"10\" text-anchor=\"end\" fill=\"#444\">\(CurveSVG.label(t))</text>\n"
            }
            // Ticks at powers of two; every other one when there are many.
            let e0 = lx0.rounded(.up), e1 = lx1.rounded(.down), stride = e1 - e0 > 10 ? 2.0 : 1.0
            var e = e0
            while e <= lx1 + 1e-9 {
                let v = pow(2, e)
                svg += "<line x1=\"\(c(x(v)))\" y1=\"\(c(ty + panelHeight))\" x2=\"\(c(x(v)))\" y2=\"\(c(ty + panelHeight + 4))\" stroke=\"#444\"/>"
                svg += "<text x=\"\(c(x(v)))\" y=\"\(c(ty + panelHeight + 16))\" font-size=\"10\" text-anchor=\"middle\" fill=\"#444\">\(CurveSVG.label(v))</text>\n"
                e += stride
            }
            svg += "<rect x=\"\(c(x0))\" y=\"\(c(ty))\" width=\"\(c(panelWidth))\" height=\"\(c(panelHeight))\" fill=\"none\" stroke=\"#444\"/>\n"
            svg += "<text x=\"\(c(x0 + panelWidth / 2))\" y=\"\(c(ty + panelHeight + 34))\" font-size=\"11\" text-anchor=\"middle\" fill=\"#222\">\(Markup.escape(panel.xLabel))</text>\n"
            svg += "<text x=\"\(c(x0 - 40))\" y=\"\(c(ty + panelHeight / 2))\" font-size=\"11\" text-anchor=\"middle\" fill=\"#222\" transform=\"rotate(-90 \(c(x0 - 40)) \(c(ty + panelHeight / 2)))\">\(Markup.escape(panel.yLabel))</text>\n"
            for s in panel.series {
                let pts = s.points.filter { $0.x > 0 && $0.value.isFinite }.sorted { $0.x < $1.x }
                guard !pts.isEmpty, let col = colour[s.method] else { continue }
                let banded = pts.filter { ($0.lower?.isFinite ?? false) && ($0.upper?.isFinite ?? false) }
                if !banded.isEmpty {
                    let upper = banded.map { "\(c(x($0.x))),\(c(y($0.upper!)))" }
                    let lower = banded.reversed().map { "\(c(x($0.x))),\(c(y($0.lower!)))" }
                    svg += "<polygon points=\"\((upper + lower).joined(separator: " "))\" fill=\"\(col)\" fill-opacity=\"0.15\" stroke=\"none\"/>"
                }
                let d = pts.enumerated().map { i, q in "\(i == 0 ? "M" : "L")\(c(x(q.x))),\(c(y(q.value)))" }.joined(separator: " ")
                svg += "<path d=\"\(d)\" fill=\"none\" stroke=\"\(col)\" stroke-width=\"2\"/>"
                for q in pts { svg += "<circle cx=\"\(c(x(q.x)))\" cy=\"\(c(y(q.value)))\" r=\"3\" fill=\"\(col)\"/>" }
                svg += "\n"
            }
        }
        for (i, m) in methods.enumerated() {
            let lx = left + Double(i % 4) * 190, ly = legendTop + Double(i / 4) * legendH
            svg += "<line x1=\"\(c(lx))\" y1=\"\(c(ly))\" x2=\"\(c(lx + 18))\" y2=\"\(c(ly))\" stroke=\"\(colour[m] ?? "#000")\" stroke-width=\"3\"/>"
            svg += "<text x=\"\(c(lx + 24))\" y=\"\(c(ly + 4))\" font-size=\"11\" fill=\"#222\">\(Markup.escape(m))</text>\n"
        }
        let footTop = legendTop + legendH * Double((methods.count + 3) / 4)
        for (i, line) in footer.enumerated() {
            svg += "<text x=\"\(c(left))\" y=\"\(c(footTop + 14 * Double(i)))\" font-size=\"10\" fill=\"#555\">\(Markup.escape(line))</text>\n"
        }
        return svg + "</svg>\n"
    }
}
