import Foundation
import Imaging
import Search

/// One line of a report's settings table.
public struct ReportParameter: Sendable, Equatable {
    public var name: String
    public var value: String
    public init(_ name: String, _ value: String) { self.name = name; self.value = value }
}

/// One step of the winner's lineage: an ancestor's id and, when it was scored as a clean sample, that sample.
/// Ancestors that were intermediate states only (e.g. a beam or a particle before its final rollout) have no sample.
public struct LineageEntry: Sendable, Equatable {
    public var id: Int
    public var sample: ScoredSample?
}

/// The HTML report of one image or video search: a single self-contained file (inline CSS, inline SVG, images as
/// base64 PNG `data:` URIs — videos as animated PNGs, which browsers play in a plain `img`; no scripts, no external
/// fonts, no network references) with the prompt and settings, the best sample, the reward-versus-NFE curve, each
/// generation's population as a grid with rewards (animated tiles for videos), and the winner's lineage back to
/// its initial noise.
///
/// Images come from a `SampleGallery` (the samples' decoded thumbnails, the best at full size). Size: every grid
/// tile is embedded as a PNG thumbnail (at most the gallery's `thumbnailMaximum` pixels a side), so a few hundred
/// 64×64 samples make a report of a few megabytes; generations larger than `maxTilesPerGeneration` show their best
/// tiles only (the contact-sheet PNGs and result.json still hold every sample).
public struct SearchReport: Sendable {
    public var result: SearchResult
    /// The decoded images of the samples shown: thumbnails of the history, the best at full size.
    public var gallery: SampleGallery
    public var prompt: String
    /// Settings shown above the method's own (model, reward, seed, steps, …), in this order.
    public var parameters: [ReportParameter]
    public var maxTilesPerGeneration: Int
    /// Files written next to the report (listed in it, not linked).
    public var files: [String]

    public init(result: SearchResult, gallery: SampleGallery, prompt: String, parameters: [ReportParameter] = [],
                maxTilesPerGeneration: Int = 256, files: [String] = []) {
        self.result = result; self.gallery = gallery; self.prompt = prompt; self.parameters = parameters
        self.maxTilesPerGeneration = maxTilesPerGeneration; self.files = files
    }

    // MARK: Structure

    /// The chain of `sample`'s ancestors in `history`, root first and `sample` last. The walk follows `parent`
    /// ids; it ends at a sample without a parent (an initial noise), or at an ancestor that was never scored
    /// as a clean sample (included with `sample == nil`), or if ids repeat.
    public static func lineage(of sample: ScoredSample, in history: [ScoredSample]) -> [LineageEntry] {
        let byID = Dictionary(history.map { ($0.id, $0) }, uniquingKeysWith: { first, _ in first })
        var chain = [LineageEntry(id: sample.id, sample: sample)]
        var seen: Set<Int> = [sample.id]
        var parent = sample.parent
        while let p = parent, !seen.contains(p) {
            seen.insert(p)
            let s = byID[p]
            chain.append(LineageEntry(id: p, sample: s))
            parent = s?.parent
        }
        return chain.reversed()
    }

    /// `history` grouped by generation (ascending), each group best first (ties: lower id first).
    public static func generations(of history: [ScoredSample]) -> [(generation: Int, samples: [ScoredSample])] {
        Dictionary(grouping: history, by: \.generation).sorted { $0.key < $1.key }.map { g, samples in
            (g, samples.sorted { $0.reward != $1.reward ? $0.reward > $1.reward : $0.id < $1.id })
        }
    }

    // MARK: HTML

    /// The report as one HTML document (XHTML-compatible syntax, so it also parses as XML).
    public func html() throws(ReportError) -> String {
        var images = ImageCache(gallery: gallery)
        let imageWidth = gallery.width, imageHeight = gallery.height
        let r = result
        let e = Markup.escape
        var h = """
        <!DOCTYPE html>
        <html lang="en">
        <head>
        <meta charset="utf-8" />
        <meta name="viewport" content="width=device-width, initial-scale=1" />
        <title>\(e("EvoSearch report: \(r.method), \(prompt)"))</title>
        <style>\(Self.css)</style>
        </head>
        <body>
        <header>
        <h1>EvoSearch report</h1>
        <p class="prompt">Prompt: <q>\(e(prompt))</q></p>

        """
        if r.interrupted {
            h += "<p class=\"interrupted\" id=\"interrupted\">Interrupted: the search was stopped at \(r.nfe) of \(r.budget) NFE; everything below is what was found until then.</p>\n"
        }
        h += "</header>\n"

        // Summary: best image and accounting.
        h += "<section id=\"summary\">\n<h2>Result</h2>\n<div class=\"summary\">\n"
        if r.history.isEmpty {
            h += "<p>No sample was finished.</p>\n"
        } else {
            let best = try images.full(r.best)
            h += "<figure class=\"best\" id=\"best\"><img src=\"\(best)\" alt=\"best \(gallery.isVideo ? "video" : "image"), reward \(e(Markup.reward(r.best.reward)))\" width=\"\(max(256, imageWidth))\" />"
            h += "<figcaption><span class=\"reward\">best reward \(e(Markup.reward(r.best.reward)))</span><span class=\"meta\">#\(r.best.id) · generation \(r.best.generation) · \(e(r.best.origin)) · scored at \(r.best.nfe) NFE</span></figcaption></figure>\n"
        }
        h += "<table class=\"accounting\"><tbody>\n"
        let rows: [(String, String)] = [
            ("method", r.method), ("best reward", Markup.reward(r.best.reward)),
            ("NFE used / budget", "\(r.nfe) / \(r.budget)"), ("denoiser forward passes", "\(r.forwardPasses)"),
            ("reward calls", "\(r.rewardCalls)"), ("samples scored", "\(r.history.count)"),
            ("wall time", String(format: "%.1f s", r.wallSeconds)),
            ("NFE per second", r.wallSeconds > 0 ? String(format: "%.1f", Double(r.nfe) / r.wallSeconds) : "n/a"),
            gallery.isVideo ? ("video size", "\(gallery.frameCount) frames of \(imageWidth)×\(imageHeight)")
                : ("image size", "\(imageWidth)×\(imageHeight)"),
        ]
        for (k, v) in rows { h += "<tr><th>\(e(k))</th><td>\(e(v))</td></tr>\n" }
        h += "</tbody></table>\n</div>\n</section>\n"

        // Settings.
        h += "<section id=\"settings\">\n<h2>Settings</h2>\n<table class=\"settings\"><tbody>\n"
        for p in parameters { h += "<tr><th>\(e(p.name))</th><td>\(e(p.value))</td></tr>\n" }
        for (k, v) in r.settings.sorted(by: { $0.key < $1.key }) {
            h += "<tr class=\"method-setting\"><th>\(e(k.replacingOccurrences(of: "_", with: " ")))</th><td>\(e(v))</td></tr>\n"
        }
        h += "</tbody></table>\n"
        if !files.isEmpty {
            h += "<p class=\"files\">Files in this directory: \(files.map { "<code>\(e($0))</code>" }.joined(separator: ", "))</p>\n"
        }
        h += "</section>\n"

        // Curve.
        h += "<section id=\"curve\">\n<h2>Reward versus NFE</h2>\n"
        h += CurveSVG(title: "\(r.method): reward of every scored sample and best so far").render(r)
        h += "\n</section>\n"

        // Lineage.
        h += "<section id=\"lineage\">\n<h2>Lineage of the winner</h2>\n"
        if r.history.isEmpty {
            h += "<p>No winner.</p>\n"
        } else {
            let chain = Self.lineage(of: r.best, in: r.history)
            h += "<p>From its initial noise (left) to the winner (right); each step names how the individual was made from its parent.</p>\n<ol class=\"chain\">\n"
            for entry in chain {
                if let s = entry.sample {
                    let src = try images.thumbnail(s)
                    h += "<li class=\"ancestor\" id=\"lineage-\(s.id)\"><img src=\"\(src)\" alt=\"#\(s.id)\" />"
                    h += "<span class=\"reward\">\(e(Markup.reward(s.reward)))</span><span class=\"meta\">#\(s.id) · \(e(s.origin))\(s.parent.map { " from #\($0)" } ?? "") · generation \(s.generation)</span></li>\n"
                } else {
                    h += "<li class=\"ancestor unscored\" id=\"lineage-\(entry.id)\"><span class=\"placeholder\">not scored</span>"
                    h += "<span class=\"meta\">#\(entry.id) · an intermediate state, never rolled out to a clean sample on its own</span></li>\n"
                }
            }
            h += "</ol>\n"
        }
        h += "</section>\n"

        // Generations.
        let lineageIDs = Set(r.history.isEmpty ? [] : Self.lineage(of: r.best, in: r.history).map(\.id))
        h += "<section id=\"generations\">\n<h2>Population of each generation</h2>\n"
        let groups = Self.generations(of: r.history)
        if groups.isEmpty { h += "<p>No sample was scored.</p>\n" }
        for (g, samples) in groups {
            let finite = samples.map(\.reward).filter(\.isFinite)
            let mean = finite.isEmpty ? Float.nan : finite.reduce(0, +) / Float(finite.count)
            h += "<div class=\"generation\" id=\"generation-\(g)\">\n<h3>Generation \(g)</h3>\n"
            h += "<p class=\"generation-stats\">\(samples.count) samples · best \(e(Markup.reward(samples[0].reward))) · mean \(e(Markup.reward(mean)))"
            if samples.count > maxTilesPerGeneration { h += " · showing the \(maxTilesPerGeneration) best" }
            h += "</p>\n<div class=\"grid\">\n"
            for s in samples.prefix(maxTilesPerGeneration) {
                let src = try images.thumbnail(s)
                var cls = "tile"
                if s.id == r.best.id && !r.history.isEmpty { cls += " winner" } else if lineageIDs.contains(s.id) { cls += " in-lineage" }
                let parent = s.parent.map { " ← #\($0)" } ?? ""
                h += "<figure class=\"\(cls)\" id=\"sample-\(s.id)\"><img src=\"\(src)\" alt=\"#\(s.id)\" />"
                h += "<figcaption><span class=\"reward\">\(e(Markup.reward(s.reward)))</span><span class=\"meta\">#\(s.id) \(e(s.origin))\(e(parent))</span></figcaption></figure>\n"
            }
            h += "</div>\n</div>\n"
        }
        h += "</section>\n"

        if !r.warnings.isEmpty {
            h += "<section id=\"warnings\">\n<h2>Warnings</h2>\n<ul>\n"
            for w in r.warnings { h += "<li>\(e(w))</li>\n" }
            h += "</ul>\n</section>\n"
        }
        h += "<footer>Written by evosearch. Rewards are shown with 4 significant digits; result.json has them in full.</footer>\n</body>\n</html>\n"
        return h
    }

    static let css = """

    body { font-family: sans-serif; margin: 24px; color: #222; background: #fafafa; max-width: 1200px; }
    h1 { margin: 0 0 4px 0; font-size: 24px; }
    h2 { font-size: 18px; border-bottom: 1px solid #ddd; padding-bottom: 4px; margin-top: 28px; }
    h3 { font-size: 15px; margin: 16px 0 4px 0; }
    .prompt { font-size: 16px; margin: 0; }
    .interrupted { background: #fff3cd; border: 1px solid #e0b84c; padding: 8px 12px; }
    .summary { display: flex; flex-wrap: wrap; gap: 24px; align-items: flex-start; }
    figure { margin: 0; }
    figure.best img { max-width: 100%; image-rendering: pixelated; border: 1px solid #ccc; background: #fff; height: auto; }
    figure.best figcaption { margin-top: 6px; }
    table { border-collapse: collapse; font-size: 13px; }
    th { text-align: left; font-weight: normal; color: #555; padding: 2px 16px 2px 0; vertical-align: top; }
    td { padding: 2px 0; font-family: monospace; word-break: break-word; }
    tr.method-setting th { color: #1f5f8b; }
    .files { font-size: 12px; color: #555; }
    svg.curve { border: 1px solid #ddd; max-width: 100%; height: auto; }
    ol.chain { list-style: none; padding: 0; display: flex; flex-wrap: wrap; gap: 8px; align-items: stretch; }
    ol.chain li { display: flex; flex-direction: column; align-items: center; width: 112px; font-size: 12px; }
    ol.chain img, .tile img { width: 96px; height: 96px; object-fit: contain; image-rendering: pixelated; border: 1px solid #ccc; background: #fff; }
    .placeholder { display: flex; width: 96px; height: 96px; align-items: center; justify-content: center; border: 1px dashed #aaa; color: #888; }
    .grid { display: flex; flex-wrap: wrap; gap: 6px; }
    .tile { width: 104px; font-size: 11px; text-align: center; padding: 2px; border: 2px solid transparent; }
    .tile.winner { border-color: #c0392b; }
    .tile.in-lineage { border-color: #e8a33d; }
    .reward { display: block; font-family: monospace; font-size: 13px; font-weight: bold; }
    .meta { display: block; color: #666; }
    .generation-stats { margin: 0 0 6px 0; font-size: 12px; color: #555; }
    footer { margin-top: 32px; font-size: 11px; color: #888; }

    """
}

/// Encodes each sample's image once per report as a `data:` URI: full size (best) and thumbnails (grids, lineage).
struct ImageCache {
    let gallery: SampleGallery
    private var thumbnails: [Int: String] = [:]

    init(gallery: SampleGallery) { self.gallery = gallery }

    /// A video's animated thumbnail, an image's still.
    mutating func thumbnail(_ s: ScoredSample) throws(ReportError) -> String {
        if let uri = thumbnails[s.id] { return uri }
        let uri: String
        if let animation = gallery.animation(s) { uri = Base64.pngDataURI(animation) } else {
            uri = try Self.uri(try gallery.thumbnail(s), id: s.id)
        }
        thumbnails[s.id] = uri
        return uri
    }

    func full(_ s: ScoredSample) throws(ReportError) -> String {
        Base64.pngDataURI(try gallery.fullPNG(s))
    }

    static func uri(_ image: Image8, id: Int) throws(ReportError) -> String {
        do { return Base64.pngDataURI(try PNG.encode(image)) } catch {
            throw ReportError("cannot encode the image of sample #\(id) as PNG: \(error.description)")
        }
    }
}
