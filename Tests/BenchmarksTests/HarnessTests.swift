import Foundation
import ModelIO
import Testing
@testable import Benchmarks

@Suite struct StatisticsTests {
    @Test func medianOfOddEvenAndEmpty() {
        #expect(Statistics.median([3, 1, 2]) == 2)
        #expect(Statistics.median([4, 1, 3, 2]) == 2.5)
        #expect(Statistics.median([]).isNaN)
    }

    @Test func meanAndSampleStandardDeviation() {
        let (m, sd) = Statistics.meanAndStandardDeviation([2, 4, 4, 4, 5, 5, 7, 9])
        #expect(m == 5)
        #expect(abs(sd - (32.0 / 7).squareRoot()) < 1e-12)   // n − 1 in the denominator
        #expect(Statistics.meanAndStandardDeviation([3]) == (3, 0))
        #expect(Statistics.meanAndStandardDeviation([]).mean.isNaN)
    }
}

@Suite struct ProcessStatusTests {
    @Test func readsTheKilobyteFigures() {
        let text = "Name:\tevosearch\nVmHWM:\t  123456 kB\nVmRSS:\t   65432 kB\nRssAnon:\t 1000 kB\nRssFile:\t  2000 kB\nThreads:\t3\n"
        let s = ProcessStatus(text: text)
        #expect(s.peakResidentKB == 123456)
        #expect(s.residentKB == 65432)
        #expect(s.residentAnonymousKB == 1000)
        #expect(s.residentFileKB == 2000)
        #expect(s.kilobytes["Threads"] == nil)   // not a kB figure
        #expect(s.kilobytes["Name"] == nil)
    }

    @Test func thisProcessHasAPeakAtLeastItsResidentSet() {
        let s = ProcessStatus.current()
        #expect(s.residentKB > 0)
        #expect(s.peakResidentKB >= s.residentKB)
    }
}

/// A shell stand-in for the PyTorch servers: a meta line, then one reply per command line.
@Suite struct JSONLineChildTests {
    static let server = """
        echo 'starting up'
        echo '{"type": "meta", "torch": "2.13"}'
        while read -r line; do
          case "$line" in
            *'"cmd":"quit"'*) exit 0 ;;
            *'"cmd":"time"'*) echo '{"type": "times", "seconds": [0.5, 0.25]}' ;;
            *'"cmd":"crash"'*) echo 'Traceback: ValueError: no model' >&2; exit 3 ;;
            *) echo '{"type": "error", "message": "unknown command"}' ;;
          esac
        done
        """

    @Test func skipsNonJSONLinesAndReadsReplies() throws {
        let child = try JSONLineChild(executable: "/bin/sh", arguments: ["-c", Self.server])
        defer { child.stop() }
        let meta = try child.read(expecting: "meta")
        #expect(meta["torch"]?.stringValue == "2.13")
        let reply = try child.request(["cmd": "time", "runs": 2])
        #expect(reply["seconds"]?.arrayValue?.compactMap(\.doubleValue) == [0.5, 0.25])
    }

    @Test func anErrorReplyThrowsItsMessage() throws {
        let child = try JSONLineChild(executable: "/bin/sh", arguments: ["-c", Self.server])
        defer { child.stop() }
        _ = try child.read(expecting: "meta")
        #expect { try child.request(["cmd": "load"]) } throws: { "\($0)".contains("unknown command") }
    }

    @Test func aChildThatDiesReportsItsStatusAndLastStderrLine() throws {
        let child = try JSONLineChild(executable: "/bin/sh", arguments: ["-c", Self.server])
        defer { child.stop() }
        _ = try child.read(expecting: "meta")
        #expect { try child.request(["cmd": "crash"]) } throws: { error in
            let text = "\(error)"
            return text.contains("status 3") && text.contains("ValueError: no model")
        }
    }

    @Test func unexpectedMessageTypeThrows() throws {
        let child = try JSONLineChild(executable: "/bin/sh", arguments: ["-c", Self.server])
        defer { child.stop() }
        #expect { try child.read(expecting: "ready") } throws: { "\($0)".contains("expected a ready message, got meta") }
    }

    @Test func runOnceReturnsTheLastLineOrNil() {
        let ok = JSONLineChild.runOnce(executable: "/bin/sh", arguments: ["-c", "echo '{\"a\": 1}'; echo '{\"b\": 2}'"])
        #expect(ok?["b"]?.intValue == 2)
        #expect(JSONLineChild.runOnce(executable: "/bin/sh", arguments: ["-c", "echo '{\"a\": 1}'; exit 1"]) == nil)
        #expect(JSONLineChild.runOnce(executable: "/bin/sh", arguments: ["-c", "echo not json"]) == nil)
        #expect(JSONLineChild.runOnce(executable: "/nonexistent/python", arguments: []) == nil)
    }

    @Test func aMissingExecutableIsAnError() {
        #expect { try JSONLineChild(executable: "/nonexistent/python", arguments: []) } throws: { "\($0)".contains("cannot start") }
    }
}

@Suite struct LoadMemoryFiguresTests {
    @Test func roundTripsThroughTheChildsJSON() throws {
        let f = LoadMemoryFigures(seconds: 1.5, peakKB: 2_000_000, anonymousKB: 300_000, fileKB: 1_600_000)
        let data = try JSONSerialization.data(withJSONObject: f.json)
        #expect(LoadMemoryFigures(json: try JSONValue.parse(data)) == f)
        #expect(LoadMemoryFigures(json: try JSONValue.parse(Array(#"{"seconds": 1}"#.utf8))) == nil)
        #expect(f.summary(model: "m", weightBytes: 1 << 30).contains("**1.91 GiB** VmHWM"))
    }
}
