import Foundation
import ModelIO
import Testing
import Wan

// WanPipeline's prompt clean-up against diffusers' own `prompt_clean` (without ftfy) on hand-picked and random
// strings (tools/fixtures/make_wan_prompt_fixtures.py).
@Suite struct WanPromptCleanerTests {
    @Test func matchesDiffusersPromptClean() throws {
        let url = try #require(Bundle.module.url(forResource: "Fixtures/wan/prompt-clean", withExtension: "json"))
        let cases = try #require(try JSONValue.parse(Data(contentsOf: url)).arrayValue)
        #expect(cases.count > 400)
        let clean = WanPromptCleaner()
        var mismatches: [String] = []
        for c in cases {
            let pair = try #require(c.arrayValue)
            let input = try #require(pair[0].stringValue), expected = try #require(pair[1].stringValue)
            let got = clean(input)
            if got != expected { mismatches.append("\(input.debugDescription) → \(got.debugDescription), diffusers \(expected.debugDescription)") }
        }
        #expect(mismatches.isEmpty, "\(mismatches.count) mismatches, first: \(mismatches.prefix(5).joined(separator: "; "))")
    }

    @Test func unescapesTheCommonCases() {
        let u = HTMLUnescape()
        #expect(u("a &amp; b &lt;c&gt; &#65;&#x42; &eacute;") == "a & b <c> AB é")
        #expect(u("&amp;amp;") == "&amp;")
        #expect(u("no references") == "no references")
        #expect(u("&notit;") == "¬it;")
        #expect(u("&#x110000;") == "\u{FFFD}")
        #expect(u("&#128;") == "€")
    }
}
