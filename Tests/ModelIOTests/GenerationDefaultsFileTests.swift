import ModelIO
import Testing

/// generation_defaults.json: the known keys read, a misspelt or invalid one named.
@Suite struct GenerationDefaultsFileTests {
    @Test func readsKnownKeysAndRefusesOthers() throws {
        let ok = try GenerationDefaultsFile(config: ConfigFile(parsing: #"{"height": 64, "width": 48, "frames": 17, "max_sequence_length": 32}"#, displayName: "g.json"))
        #expect(ok == GenerationDefaultsFile(height: 64, width: 48, frames: 17, maxSequenceLength: 32))
        #expect { try GenerationDefaultsFile(config: ConfigFile(parsing: #"{"hieght": 64}"#, displayName: "g.json")) }
            throws: { "\($0)".contains("hieght") && "\($0)".contains("g.json") }
        #expect { try GenerationDefaultsFile(config: ConfigFile(parsing: #"{"width": 0}"#, displayName: "g.json")) }
            throws: { "\($0)".contains("width") && "\($0)".contains("positive") }
    }
}
