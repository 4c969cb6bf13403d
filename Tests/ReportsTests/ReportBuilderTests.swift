import Foundation
import Imaging
import Reports
@testable import Search
import Testing

@Suite struct LineageAndGroupingTests {
    @Test func lineageWalksParentsBackToTheInitialNoise() throws {
        let r = try syntheticResult()
        #expect(r.best.id == 10)
        let chain = SearchReport.lineage(of: r.best, in: r.history)
        #expect(chain.map(\.id) == [1, 6, 10])
        #expect(chain.map { $0.sample?.origin } == ["initial", "mutation", "mutation"])
        #expect(chain.first?.sample?.parent == nil)
    }

    @Test func lineageStopsAtAnAncestorThatWasNeverScored() throws {
        let r = try syntheticResult()
        let orphan = try #require(r.history.first { $0.id == 11 })
        let chain = SearchReport.lineage(of: orphan, in: r.history)
        #expect(chain.map(\.id) == [99, 11])
        #expect(chain[0].sample == nil)
    }

    @Test func lineageSurvivesACycle() {
        let a = ScoredSample(id: 1, generation: 0, parent: 2, origin: "x", reward: 0, nfe: 0, state: [])
        let b = ScoredSample(id: 2, generation: 0, parent: 1, origin: "y", reward: 0, nfe: 0, state: [])
        #expect(SearchReport.lineage(of: a, in: [a, b]).map(\.id) == [2, 1])
    }

    @Test func generationsAreGroupedAndSortedBestFirst() throws {
        let r = try syntheticResult()
        let groups = SearchReport.generations(of: r.history)
        #expect(groups.map(\.generation) == [0, 1, 2])
        #expect(groups.map(\.samples.count) == [4, 4, 4])
        #expect(groups[2].samples.map(\.id) == [10, 8, 9, 11])
    }
}

@Suite struct HTMLReportTests {
    func report(_ r: SearchResult, prompt: String = "a red circle to the left of a blue square") throws -> SearchReport {
        SearchReport(result: r, gallery: try SampleGallery(result: r, fullSizeIDs: [r.best.id]), prompt: prompt,
                     parameters: [ReportParameter("model", "fixture"), ReportParameter("seed", "7")], files: ["best.png"])
    }

    @Test func reportHasEverySectionGenerationAndSample() throws {
        let r = try syntheticResult()
        let html = try report(r).html()
        for id in ["summary", "settings", "curve", "lineage", "generations", "generation-0", "generation-1", "generation-2", "best"] {
            #expect(html.contains("id=\"\(id)\""), "missing section \(id)")
        }
        for s in r.history { #expect(html.contains("id=\"sample-\(s.id)\""), "missing tile of sample \(s.id)") }
        for id in [1, 6, 10] { #expect(html.contains("id=\"lineage-\(id)\"")) }
        #expect(html.contains("id=\"lineage-99\"") == false, "the winner's chain does not pass through 99")
        #expect(html.contains("class=\"tile winner\" id=\"sample-10\""))
        #expect(html.contains("class=\"tile in-lineage\" id=\"sample-6\""))
        #expect(html.contains("<svg"))
        #expect(!html.contains("id=\"interrupted\""))
        #expect(html.contains("0.95"), "the best reward is shown")
    }

    @Test func reportIsSelfContainedAndWellFormed() throws {
        let html = try report(try syntheticResult()).html()
        #expect(!html.contains("http://") && !html.contains("https://"), "no network references")
        #expect(!html.lowercased().contains("<script"), "no scripts")
        #expect(!html.contains("@import") && !html.contains("url("), "no external CSS resources")
        #expect(xmlError(html) == nil, "not well-formed: \(xmlError(html) ?? "")")
        let sources = imageSources(html)
        #expect(sources.count == 1 + 3 + 12, "best + lineage + every tile")
        for src in sources {
            #expect(src.hasPrefix("data:image/png;base64,"))
            let bytes = try #require(Data(base64Encoded: String(src.dropFirst("data:image/png;base64,".count))))
            let image = try PNG.decode([UInt8](bytes))
            #expect(image.width == 8 && image.height == 8)
        }
    }

    @Test func promptsAndSettingsAreEscaped() throws {
        let html = try report(try syntheticResult(), prompt: "<script>alert('x')</script> & \"quotes\"").html()
        #expect(!html.contains("<script>"))
        #expect(html.contains("&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt; &amp; &quot;quotes&quot;"))
        #expect(html.contains("a &lt;scripted&gt; &amp; &quot;quoted&quot; run"))
        #expect(xmlError(html) == nil)
    }

    @Test func interruptedRunIsMarked() throws {
        let r = try syntheticResult(interruptAfter: 2)
        #expect(r.interrupted)
        let html = try report(r).html()
        #expect(html.contains("id=\"interrupted\""))
        #expect(html.contains("id=\"generation-1\"") && !html.contains("id=\"generation-2\""))
        #expect(xmlError(html) == nil)
    }

    @Test func samplesThatAreNotImagesAreAnErrorNamingTheShape() throws {
        var r = try syntheticResult()
        r.sampleShape = [2]
        #expect(throws: ReportError("samples of shape [2] are neither RGB images [3, H, W] nor videos [F, 3, H, W]; this report shows those only")) {
            _ = try SampleGallery(result: r, fullSizeIDs: [r.best.id])
        }
    }

    @Test func largeGenerationsShowTheirBestTilesOnly() throws {
        var rep = try report(try syntheticResult())
        rep.maxTilesPerGeneration = 2
        let html = try rep.html()
        #expect(html.contains("showing the 2 best"))
        #expect(html.contains("id=\"sample-10\"") && html.contains("id=\"sample-8\"") && !html.contains("id=\"sample-11\""))
    }
}

@Suite struct CurveSVGTests {
    @Test func ticksAreRoundNumbersCoveringTheRange() {
        #expect(CurveSVG.ticks(0, 1000) == [0, 200, 400, 600, 800, 1000])
        #expect(CurveSVG.ticks(0.13, 0.97).first == 0.2)
        #expect(CurveSVG.ticks(-1, 1) == [-1, -0.5, 0, 0.5, 1])
    }

    @Test func plotHasADotPerFiniteSampleAndAStepLine() throws {
        let samples: [(nfe: Int, reward: Float)] = [(10, 0.1), (20, -.infinity), (30, 0.4), (40, 0.3)]
        let curve = [CurvePoint(nfe: 10, bestReward: 0.1), CurvePoint(nfe: 30, bestReward: 0.4), CurvePoint(nfe: 40, bestReward: 0.4)]
        let svg = CurveSVG(title: "t <&>").render(samples: samples, curve: curve, maxNFE: 50)
        #expect(xmlError(svg) == nil)
        let circles: Int = svg.components(separatedBy: "<circle").count - 1
        #expect(circles == 5, "3 finite samples, the best point, the legend")
        #expect(svg.contains("class=\"best\""))
        #expect(svg.contains(">NFE (denoiser evaluations)<") && svg.contains(">reward<"))
        #expect(!svg.contains("http"))
        #expect(CurveSVG().render(samples: samples, curve: curve, maxNFE: 50, standalone: true).contains("xmlns=\"http://www.w3.org/2000/svg\""))
    }

    @Test func plotWithoutFiniteRewardsSaysSo() {
        let svg = CurveSVG().render(samples: [(5, -.infinity)], curve: [CurvePoint(nfe: 5, bestReward: -.infinity)], maxNFE: 10)
        #expect(svg.contains("no finite rewards"))
        #expect(xmlError(svg) == nil)
    }
}

@Suite struct ContactSheetTests {
    @Test func gridSizeAndLabels() {
        let tile = Image8(width: 10, height: 6, channels: 3, pixels: [UInt8](repeating: 200, count: 180))
        let tiles = (0..<5).map { ContactSheet.Tile(image: tile, label: "0.5\($0)") }
        let sheet = ContactSheet(columns: 3, padding: 2, labelScale: 1).render(tiles)
        // Cell: max(10, label width 4·4−1 = 15) × (6 + 5 + 2); 3 columns, 2 rows.
        #expect(sheet.width == 3 * 15 + 4 * 2)
        #expect(sheet.height == 2 * 13 + 3 * 2)
        #expect(sheet.pixels.contains(0), "labels are drawn in black")
        #expect(sheet.pixels.contains(200) && sheet.pixels.contains(255))
    }

    @Test func fontDrawsDigitsAndMarksUnknownCharacters() {
        var img = Image8(width: 12, height: 5, channels: 3, pixels: [UInt8](repeating: 255, count: 180))
        BitmapFont.draw("1", into: &img, x: 0, y: 0, scale: 1)
        // "1": 010 / 110 / 010 / 010 / 111 → 8 dark pixels.
        #expect(img.pixels.enumerated().filter { $0.offset % 3 == 0 && $0.element == 0 }.count == 8)
        var block = Image8(width: 3, height: 5, channels: 3, pixels: [UInt8](repeating: 255, count: 45))
        BitmapFont.draw("?", into: &block, x: 0, y: 0, scale: 1)
        #expect(block.pixels.allSatisfy { $0 == 0 })
        #expect(BitmapFont.width(of: "0.1234", scale: 2) == 46)
    }

    @Test func thumbnailsShrinkLargeAndEnlargeTinyImages() {
        let small = Image8(width: 16, height: 8, channels: 3, pixels: [UInt8](repeating: 9, count: 16 * 8 * 3))
        let up = SampleImage.thumbnail(small, minimum: 64, maximum: 128)
        #expect(up.width == 64 && up.height == 32)
        let big = Image8(width: 512, height: 256, channels: 3, pixels: [UInt8](repeating: 9, count: 512 * 256 * 3))
        let down = SampleImage.thumbnail(big, minimum: 64, maximum: 128)
        #expect(down.width == 128 && down.height == 64)
    }
}
