import Foundation
import Reports
import Search
import Testing

/// The report in a real browser: Debian's Chromium, headless. These tests fail (not skip) when Chromium is
/// missing; scripts/setup.sh installs it.
@Suite struct BrowserTests {
    func writeReport(_ r: SearchResult, in dir: URL) throws -> URL {
        try SearchOutput(result: r, decode: { $0 }, prompt: "a red circle to the left of a blue square",
                         parameters: [ReportParameter("model", "synthetic")]).write(to: dir)
        return dir.appendingPathComponent("report.html")
    }

    @Test func reportRendersWithoutConsoleErrorsAndHasEverySection() throws {
        let dir = try temporaryDirectory("browser")
        defer { try? FileManager.default.removeItem(at: dir) }
        let page = try writeReport(try syntheticResult(), in: dir)
        let run = try Chromium.dumpDOM(page)
        #expect(run.status == 0, "chromium exited with \(run.status): \(run.log.suffix(2000))")
        #expect(Chromium.consoleProblems(run.log).isEmpty, "console: \(Chromium.consoleProblems(run.log))")
        for id in ["summary", "settings", "curve", "lineage", "generations", "generation-0", "generation-1", "generation-2",
                   "best", "lineage-1", "lineage-6", "lineage-10", "sample-11"] {
            #expect(run.dom.contains("id=\"\(id)\""), "the rendered DOM lacks #\(id)")
        }
        #expect(run.dom.contains("<svg") && run.dom.contains("class=\"best\""))
    }

    /// A copy of the report with a checker script appended (the report itself has none): after the load event
    /// it records how many images failed to decode, how many non-`data:` resources were fetched, and the curve's
    /// size, as attributes the dumped DOM shows.
    @Test func everyImageDecodesAndNothingIsFetched() throws {
        let dir = try temporaryDirectory("browser-check")
        defer { try? FileManager.default.removeItem(at: dir) }
        let page = try writeReport(try syntheticResult(interruptAfter: 2), in: dir)
        let html = try String(contentsOf: page, encoding: .utf8)
        let checker = """
        <script>
        window.addEventListener('load', function () {
          var imgs = document.images, broken = 0;
          for (var i = 0; i < imgs.length; i++) { if (!imgs[i].complete || imgs[i].naturalWidth === 0) broken++; }
          var fetched = performance.getEntriesByType('resource').filter(function (e) { return e.name.indexOf('data:') !== 0; }).length;
          var svg = document.querySelector('svg.curve'), box = svg ? svg.getBoundingClientRect() : null;
          document.body.setAttribute('data-images', String(imgs.length));
          document.body.setAttribute('data-broken', String(broken));
          document.body.setAttribute('data-fetched', String(fetched));
          document.body.setAttribute('data-svg', box ? String(Math.round(box.width)) + 'x' + String(Math.round(box.height)) : 'none');
        });
        </script>
        """
        let checked = dir.appendingPathComponent("checked.html")
        try html.replacingOccurrences(of: "</body>", with: checker + "</body>").write(to: checked, atomically: true, encoding: .utf8)
        let run = try Chromium.dumpDOM(checked, virtualTime: 2000)
        #expect(Chromium.consoleProblems(run.log).isEmpty, "console: \(Chromium.consoleProblems(run.log))")
        func attribute(_ name: String) -> String? {
            guard let r = run.dom.range(of: "\(name)=\"") else { return nil }
            return String(run.dom[r.upperBound...].prefix { $0 != "\"" })
        }
        // Two generations of 4, the best, and the winner's lineage (1 → 6).
        #expect(attribute("data-images") == "\(8 + 1 + 2)")
        #expect(attribute("data-broken") == "0")
        #expect(attribute("data-fetched") == "0")
        #expect(attribute("data-svg") == "642x362", "640×360 plus the 1-px border")
        #expect(run.dom.contains("id=\"interrupted\""))
    }
}
