import Foundation

/// A standalone SVG comparing search methods: one panel per condition (e.g. the reward that guided the search),
/// one coloured line per method through its (NFE, value) points, NFE on a log₂ axis, the value on a linear axis
/// (`yRange`, e.g. 0…1 for an accuracy). Used by `evosearch bench shapes` for verifier accuracy against NFE.
public struct MethodComparisonSVG: Sendable {
    public struct Series: Sendable {
        public var method: String
        public var points: [(nfe: Int, value: Double)]
        public init(method: String, points: [(nfe: Int, value: Double)]) { self.method = method; self.points = points }
    }

    public var title: String
    public var yLabel: String
    public var yRange: ClosedRange<Double>
    public var panelWidth = 420.0
    public var panelHeight = 300.0

    public init(title: String, yLabel: String, yRange: ClosedRange<Double> = 0...1) {
        self.title = title; self.yLabel = yLabel; self.yRange = yRange
    }

    static let palette = ["#c0392b", "#2471a3", "#229954", "#d68910", "#7d3c98", "#17a589", "#566573", "#a04000"]

    /// `panels`: (panel title, its series). Methods keep one colour across panels.
    public func render(panels: [(title: String, series: [Series])]) -> String {
        let left = 56.0, right = 12.0, top = 48.0, bottom = 44.0, legendH = 22.0
        let methods = panels.flatMap { $0.series.map(\.method) }.reduce(into: [String]()) { if !$0.contains($1) { $0.append($1) } }
        let colour = Dictionary(uniqueKeysWithValues: methods.enumerated().map { ($1, Self.palette[$0 % Self.palette.count]) })
        let allNFE = panels.flatMap { $0.series.flatMap { $0.points.map(\.nfe) } }.filter { $0 > 0 }
        let lx0 = log2(Double(allNFE.min() ?? 1)), lx1 = max(log2(Double(allNFE.max() ?? 2)), lx0 + 1)
        let w = Double(panels.count) * (left + panelWidth + right), h = top + panelHeight + bottom + legendH * Double((methods.count + 3) / 4)
        let c = Markup.coordinate
        var svg = "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"\(Int(w))\" height=\"\(Int(h))\" viewBox=\"0 0 \(Int(w)) \(Int(h))\" font-family=\"sans-serif\">\n"
        svg += "<rect width=\"100%\" height=\"100%\" fill=\"#fff\"/>\n"
        svg += "<text x=\"\(c(left))\" y=\"20\" font-size=\"15\" fill=\"#222\">\(Markup.escape(title))</text>\n"
        for (p, panel) in panels.enumerated() {
            let x0 = Double(p) * (left + panelWidth + right) + left
            func x(_ n: Int) -> Double { x0 + (log2(Double(max(n, 1))) - lx0) / (lx1 - lx0) * panelWidth }
            func y(_ v: Double) -> Double { top + (yRange.upperBound - v) / (yRange.upperBound - yRange.lowerBound) * panelHeight }
            svg += "<text x=\"\(c(x0))\" y=\"\(c(top - 10))\" font-size=\"12\" fill=\"#222\">\(Markup.escape(panel.title))</text>\n"
            for t in CurveSVG.ticks(yRange.lowerBound, yRange.upperBound) {
                svg += "<line x1=\"\(c(x0))\" y1=\"\(c(y(t)))\" x2=\"\(c(x0 + panelWidth))\" y2=\"\(c(y(t)))\" stroke=\"#e4e4e4\"/>"
                svg += "<text x=\"\(c(x0 - 6))\" y=\"\(c(y(t) + 4))\" font-size=\"10\" text-anchor=\"end\" fill=\"#444\">\(CurveSVG.label(t))</text>\n"
            }
            var e = lx0.rounded(.up)
            while e <= lx1 + 1e-9 {
                let n = Int(pow(2, e))
                svg += "<line x1=\"\(c(x(n)))\" y1=\"\(c(top + panelHeight))\" x2=\"\(c(x(n)))\" y2=\"\(c(top + panelHeight + 4))\" stroke=\"#444\"/>"
                svg += "<text x=\"\(c(x(n)))\" y=\"\(c(top + panelHeight + 16))\" font-size=\"10\" text-anchor=\"middle\" fill=\"#444\">\(n)</text>\n"
                e += 1
            }
            svg += "<rect x=\"\(c(x0))\" y=\"\(c(top))\" width=\"\(c(panelWidth))\" height=\"\(c(panelHeight))\" fill=\"none\" stroke=\"#444\"/>\n"
            svg += "<text x=\"\(c(x0 + panelWidth / 2))\" y=\"\(c(top + panelHeight + 34))\" font-size=\"11\" text-anchor=\"middle\" fill=\"#222\">NFE (log scale)</text>\n"
            svg += "<text x=\"\(c(x0 - 40))\" y=\"\(c(top + panelHeight / 2))\" font-size=\"11\" text-anchor=\"middle\" fill=\"#222\" transform=\"rotate(-90 \(c(x0 - 40)) \(c(top + panelHeight / 2)))\">\(Markup.escape(yLabel))</text>\n"
            for s in panel.series {
                let pts = s.points.filter { $0.value.isFinite }.sorted { $0.nfe < $1.nfe }
                guard !pts.isEmpty, let col = colour[s.method] else { continue }
                let d = pts.enumerated().map { i, q in "\(i == 0 ? "M" : "L")\(c(x(q.nfe))),\(c(y(q.value)))" }.joined(separator: " ")
                svg += "<path d=\"\(d)\" fill=\"none\" stroke=\"\(col)\" stroke-width=\"2\"/>"
                for q in pts { svg += "<circle cx=\"\(c(x(q.nfe)))\" cy=\"\(c(y(q.value)))\" r=\"3\" fill=\"\(col)\"/>" }
                svg += "\n"
            }
        }
        for (i, m) in methods.enumerated() {
            let lx = left + Double(i % 4) * 190, ly = top + panelHeight + bottom + 10 + Double(i / 4) * legendH
            svg += "<line x1=\"\(c(lx))\" y1=\"\(c(ly))\" x2=\"\(c(lx + 18))\" y2=\"\(c(ly))\" stroke=\"\(colour[m] ?? "#000")\" stroke-width=\"3\"/>"
            svg += "<text x=\"\(c(lx + 24))\" y=\"\(c(ly + 4))\" font-size=\"11\" fill=\"#222\">\(Markup.escape(m))</text>\n"
        }
        return svg + "</svg>\n"
    }
}
