import Foundation
import Imaging
import Search
import TensorCore

/// Everything an image or video search leaves in its output directory, written in one call:
///
/// - `best.png` — the winner, full size (a video as an animated PNG, which any browser plays);
/// - `best.mp4` — videos only, when `mp4` is given (ffmpeg on the machine);
/// - `top-1.png` … `top-K.png` — the K best samples, best first (`top-1.png` is the winner);
/// - `generation-<g>.png` — one contact sheet per generation: its population, best first, each tile labelled with
///   its reward (a video's tile is a strip of evenly spaced frames);
/// - `report.html` — `SearchReport`, one self-contained page;
/// - `result.json` — settings, accounting, the curve and every scored sample (id, generation, parent, origin,
///   reward, NFE; no pixels).
///
/// Files named like `top-<n>.png` or `generation-<n>.png` that this run did not write are removed, so a reused
/// directory never mixes two searches' sheets. The history holds final states; `decode` (the trajectory's)
/// turns them into images `[3, H, W]` or videos `[F, 3, H, W]` in [0, 1], once per sample, in batches (see
/// `SampleGallery`).
public struct SearchOutput {
    public var result: SearchResult
    /// States `[N] + result.stateShape` → decoded samples `[N] + result.sampleShape`.
    public var decode: (Tensor) throws -> Tensor
    /// Rows per decoder call.
    public var decodeBatch: Int
    public var prompt: String
    /// Settings for the report's table, in order (the method's derived settings are added from the result).
    public var parameters: [ReportParameter]
    /// How many `top-<k>.png` files to write (0 for none).
    public var keepTop: Int
    /// Extra keys merged into result.json (the command's settings: prompt, model, seed, …).
    public var json: [String: Any]
    /// Tiles per row of a contact sheet.
    public var sheetColumns: Int
    /// Writes `best.mp4` for videos (nil: no MP4).
    public var mp4: MP4Writer?

    public init(result: SearchResult, decode: @escaping (Tensor) throws -> Tensor, decodeBatch: Int = 8, prompt: String,
                parameters: [ReportParameter] = [], keepTop: Int = 4, json: [String: Any] = [:], sheetColumns: Int = 8,
                mp4: MP4Writer? = nil) {
        self.result = result; self.decode = decode; self.decodeBatch = max(1, decodeBatch); self.prompt = prompt
        self.parameters = parameters; self.keepTop = max(0, keepTop); self.json = json; self.sheetColumns = max(1, sheetColumns)
        self.mp4 = mp4
    }

    /// Whether the samples are videos `[F, 3, H, W]`.
    public var isVideo: Bool { result.sampleShape.count == 4 }

    /// The generations present in the history, ascending.
    public var generations: [Int] { Array(Set(result.history.map(\.generation))).sorted() }

    /// The files `write` creates, in the order it writes them.
    public var fileNames: [String] {
        guard !result.history.isEmpty else { return ["report.html", "result.json"] }
        let top = (0..<min(keepTop, result.history.count)).map { "top-\($0 + 1).png" }
        let movie = isVideo && mp4 != nil ? ["best.mp4"] : []
        return ["best.png"] + movie + top + generations.map { "generation-\($0).png" } + ["report.html", "result.json"]
    }

    /// Writes every file into `directory` (created if needed) and returns their names. result.json is written
    /// last, so its presence means the directory is complete.
    @discardableResult
    public func write(to directory: URL) throws(ReportError) -> [String] {
        let fm = FileManager.default
        do { try fm.createDirectory(at: directory, withIntermediateDirectories: true) } catch {
            throw ReportError("cannot create \(directory.path): \(error.localizedDescription)")
        }
        let names = fileNames
        removeStaleFiles(in: directory, keeping: Set(names))
        func path(_ name: String) -> String { directory.appendingPathComponent(name).path }
        func png(_ image: Image8, _ name: String) throws(ReportError) {
            do { try PNG.write(image, to: path(name)) } catch { throw ReportError("cannot write \(path(name)): \(error.description)") }
        }
        let top = result.top(keepTop)
        let gallery = try SampleGallery(result: result, fullSizeIDs: Set([result.best.id] + top.map(\.id)), batch: decodeBatch,
                                        decode: decode)
        if !result.history.isEmpty {
            for (name, s) in [("best.png", result.best)] + top.enumerated().map({ ("top-\($0.offset + 1).png", $0.element) }) {
                try writeFile(Data(try gallery.fullPNG(s)), to: path(name))
            }
            if isVideo, let mp4 {
                try mp4.write(try gallery.full(result.best), framesPerSecond: 1000 / SampleGallery.frameMilliseconds,
                              to: directory.appendingPathComponent("best.mp4"))
            }
            let sheet = ContactSheet(columns: isVideo ? max(1, sheetColumns / 4) : sheetColumns)
            for (g, samples) in SearchReport.generations(of: result.history) {
                var tiles: [ContactSheet.Tile] = []
                for s in samples {
                    let still = try gallery.thumbnail(s)
                    tiles.append(ContactSheet.Tile(image: isVideo ? still : SampleImage.thumbnail(still, minimum: 64, maximum: 128),
                                                   label: Markup.reward(s.reward)))
                }
                try png(sheet.render(tiles), "generation-\(g).png")
            }
        }
        let report = SearchReport(result: result, gallery: gallery, prompt: prompt, parameters: parameters, files: names)
        try writeFile(Data(try report.html().utf8), to: path("report.html"))
        var extra = json
        extra["image_size"] = ["height": gallery.height, "width": gallery.width]
        if gallery.isVideo { extra["frames"] = gallery.frameCount }
        extra["best_reward"] = result.best.reward.isFinite ? Double(result.best.reward) : NSNull()
        extra["files"] = names
        let data: Data
        do { data = try result.jsonData(includeHistory: true, includeSamples: false, extra: extra) } catch {
            throw ReportError("cannot encode result.json: \(error.localizedDescription) (extra values must be JSON types)")
        }
        try writeFile(data, to: path("result.json"))
        return names
    }

    private func writeFile(_ data: Data, to path: String) throws(ReportError) {
        do { try data.write(to: URL(fileURLWithPath: path), options: .atomic) } catch {
            throw ReportError("cannot write \(path): \(error.localizedDescription)")
        }
    }

    /// Removes `top-<n>.png` and `generation-<n>.png` files not in `keeping` (left from an earlier search).
    private func removeStaleFiles(in directory: URL, keeping: Set<String>) {
        guard let entries = try? FileManager.default.contentsOfDirectory(atPath: directory.path) else { return }
        for name in entries where !keeping.contains(name) && Self.isNumberedImage(name) {
            try? FileManager.default.removeItem(at: directory.appendingPathComponent(name))
        }
    }

    static func isNumberedImage(_ name: String) -> Bool {
        for prefix in ["top-", "generation-"] where name.hasPrefix(prefix) && name.hasSuffix(".png") {
            let middle = name.dropFirst(prefix.count).dropLast(4)
            if !middle.isEmpty && middle.allSatisfy(\.isASCII) && middle.allSatisfy(\.isNumber) { return true }
        }
        return false
    }
}
