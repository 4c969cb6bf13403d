import Foundation
import FuzzSupport
import Testing
@testable import ModelIO

/// Edge cases of `JSONValue.parse`, the package's one JSON reader (the rules are in its doc comment).
@Suite struct JSONReaderTests {
    func parse(_ text: String) throws -> JSONValue { try JSONValue.parse(Array(text.utf8)) }

    /// The error parsing `bytes` throws, or nil when they parse.
    func parseError(_ bytes: [UInt8]) -> JSONParseError? {
        do { _ = try JSONValue.parse(bytes); return nil } catch let error as JSONParseError { return error } catch {
            Issue.record("not a JSONParseError: \(error)"); return nil
        }
    }

    func parseError(_ text: String) -> JSONParseError? { parseError(Array(text.utf8)) }

    @Test func escapes() throws {
        #expect(try parse(#""\" \\ \/ \b \f \n \r \t""#) == .string("\" \\ / \u{8} \u{C} \n \r \t"))
        #expect(try parse(#""\u0000\u001F\u00e9\u00E9\u20AC""#) == .string("\u{0}\u{1F}éé€"))
        #expect(try parse(#""plain é 😀""#) == .string("plain é 😀"))
        #expect(parseError(#""\x""#) == JSONParseError(offset: 3, message: "invalid escape '\\x'"))
        #expect(parseError(#""\u12G4""#) == JSONParseError(offset: 5, message: "invalid hex digit in \\u escape"))
        #expect(parseError(#""\u12""#)?.message == "truncated \\u escape")
        #expect(parseError("\"a\tb\"") == JSONParseError(offset: 2, message: "control character in string"))
        #expect(parseError(#""abc"#) == JSONParseError(offset: 0, message: "unterminated string"))
    }

    @Test func surrogatePairsCombineAndLoneSurrogatesAreErrors() throws {
        #expect(try parse(#""\ud83d\ude00""#) == .string("😀"))
        #expect(try parse(#""\uD834\uDD1E x""#) == .string("𝄞 x"))
        let lone = "(a Swift string cannot hold one)"
        #expect(parseError(#""\ud800""#) == JSONParseError(offset: 7, message: "lone surrogate \\uD800 \(lone)"))
        #expect(parseError(#""\ud800x""#) == JSONParseError(offset: 7, message: "lone surrogate \\uD800 \(lone)"))
        #expect(parseError(#""\udc00""#) == JSONParseError(offset: 7, message: "lone surrogate \\uDC00 \(lone)"))
        #expect(parseError(#""\ud800\u0041""#) == JSONParseError(offset: 13, message: "lone surrogate \\uD800 \(lone)"))
        #expect(parseError(#""\ud800\ud800""#)?.message == "lone surrogate \\uD800 \(lone)")
    }

    @Test func stringsMustBeUTF8() {
        let quote = UInt8(ascii: "\"")
        // 0xFF never occurs in UTF-8; C0 80 is an overlong NUL; ED A0 80 encodes a surrogate; E2 82 is truncated.
        for (bad, at) in [([0xFF], 2), ([0xC0, 0x80], 2), ([0xED, 0xA0, 0x80], 2), ([0xE2, 0x82], 2), ([0xF4, 0x90, 0x80, 0x80], 2)] as [([UInt8], Int)] {
            let text = [quote, UInt8(ascii: "a"), ] + bad + [quote]
            let error = parseError(text)
            #expect(error?.message == "invalid UTF-8 in a string (byte 0x\(String(bad[0], radix: 16)))", "\(bad)")
            #expect(error?.offset == at, "\(bad)")
            // The same after an escape (the slow path).
            let escaped = [quote] + Array(#"\n"#.utf8) + [UInt8(ascii: "a")] + bad + [quote]
            #expect(parseError(escaped)?.offset == 4, "\(bad)")
        }
        // Non-ASCII bytes outside strings are not JSON.
        #expect(parseError([0xC3, 0xA9]) == JSONParseError(offset: 0, message: "unexpected character byte 0xc3"))
    }

    @Test func byteOrderMarkIsAnError() {
        let error = parseError([0xEF, 0xBB, 0xBF] + Array("{}".utf8))
        #expect(error?.offset == 0)
        #expect(error?.message.hasPrefix("the text starts with a UTF-8 byte-order mark") == true)
    }

    @Test func nestingIsBoundedWithoutOverflowingTheStack() throws {
        let tooDeep = JSONParseError(offset: 512, message: "JSON nested too deeply")
        #expect(parseError(String(repeating: "[", count: 100_000)) == tooDeep)
        #expect(parseError(String(repeating: "[", count: 100_000) + String(repeating: "]", count: 100_000)) == tooDeep)
        #expect(parseError(String(repeating: #"{"a":"#, count: 100_000))?.message == "JSON nested too deeply")
        // 512 levels are fine, 513 are not.
        var v = try parse(String(repeating: "[", count: 512) + String(repeating: "]", count: 512))
        var depth = 0
        while case .array(let a) = v, let first = a.first { v = first; depth += 1 }
        #expect(depth == 511 && v == .array([]))
        #expect(parseError(String(repeating: "[", count: 513) + String(repeating: "]", count: 513)) == tooDeep)
    }

    @Test func numbersAreExact() throws {
        #expect(try parse("9223372036854775807") == .int(Int.max))
        #expect(try parse("-9223372036854775808") == .int(Int.min))
        #expect(try parse("9223372036854775808") == .double(9223372036854775808.0))  // beyond Int64: nearest double
        #expect(try parse("-0") == .int(0))
        guard case .double(let negativeZero) = try parse("-0.0") else { Issue.record("-0.0 is not a double"); return }
        #expect(negativeZero == 0 && negativeZero.sign == .minus)
        #expect(try parse("1e400") == .double(.infinity) && parse("-1e400") == .double(-.infinity))
        #expect(try parse("1e-400") == .double(0))
        #expect(try parse("[2.5e-3, 1E+2, 1e2, 10.0, 0.1]") == .array([.double(0.0025), .double(100), .double(100), .double(10), .double(0.1)]))
        #expect(try parse("[NaN, Infinity, -Infinity]").arrayValue?.map(\.description) == ["NaN", "Infinity", "-Infinity"])
        // Seeded: every Int64 and every finite Double (written shortest, and with 17 significant digits) reads back exactly.
        var rng = SplitMix64(seed: 20240607)
        for _ in 0..<2000 {
            let i = Int(bitPattern: UInt(rng.next()))
            #expect(try parse(String(i)) == .int(i))
            var d = Double(bitPattern: rng.next())
            if !d.isFinite { d = Double(Int64(bitPattern: rng.next())) / 7 }
            #expect(try parse("\(d)").doubleValue == d, "\(d)")
            #expect(try parse(String(format: "%.16e", d)).doubleValue == d, "\(d)")
        }
        for text in ["01", "-01", "1.", ".5", "+1", "1e", "1e+", "-", "--1", "0x10", "1.e5", "- 1", "Inf", "nan"] {
            #expect(parseError(text) != nil, "\(text)")
        }
    }

    @Test func duplicateKeysKeepTheFirstPositionAndTheLastValue() throws {
        let o = try #require(try parse(#"{"a": 1, "b": 2, "a": 3}"#).objectValue)
        #expect(o.keys == ["a", "b"] && o["a"] == .int(3) && o["b"] == .int(2))
        #expect(o.members.map(\.key) == ["a", "b"] && o.members.map(\.value) == [.int(3), .int(2)])
        // Editing keeps the order: a replaced value stays in place, a removed key closes the gap.
        var edited = JSONObject([("a", .int(1)), ("b", .int(2)), ("c", .int(3))])
        edited["b"] = .string("x")
        edited["a"] = nil
        edited["d"] = .null
        #expect(edited.keys == ["b", "c", "d"] && edited["b"] == .string("x") && edited["c"] == .int(3) && edited["a"] == nil)
        #expect(edited == JSONObject([("b", .string("x")), ("c", .int(3)), ("d", .null)]))
        #expect(edited != JSONObject([("c", .int(3)), ("b", .string("x")), ("d", .null)]))
    }

    @Test func trailingTextIsAnError() throws {
        #expect(try parse(" \t\r\n{\"a\": [1, {}]}\n ") == .object(JSONObject([("a", .array([.int(1), .object(JSONObject())]))])))
        let after = "unexpected text after the JSON value"
        #expect(parseError("1 2") == JSONParseError(offset: 2, message: after))
        #expect(parseError("{} x") == JSONParseError(offset: 3, message: after))
        #expect(parseError("[]]") == JSONParseError(offset: 2, message: after))
        #expect(parseError("nullx") == JSONParseError(offset: 4, message: after))
        #expect(parseError("") == JSONParseError(offset: 0, message: "unexpected end of JSON"))
        #expect(parseError("[1,]") == JSONParseError(offset: 3, message: "unexpected character ']'"))
        #expect(parseError(#"{"a" 1}"#) == JSONParseError(offset: 5, message: "expected ':' after key"))
        #expect(parseError("[1 2]") == JSONParseError(offset: 3, message: "expected ',' or ']' in list"))
        #expect(parseError("tru") == JSONParseError(offset: 0, message: "invalid literal"))
    }

    @Test func accessors() throws {
        let v = try parse(#"{"i": 1000, "f": 1000.0, "h": 1.5, "b": true, "s": "x", "n": null, "big": 1e300}"#)
        #expect(v["i"]?.intValue == 1000 && v["f"]?.intValue == 1000 && v["h"]?.intValue == nil)
        #expect(v["big"]?.intValue == nil && v["big"]?.doubleValue == 1e300)
        #expect(v["b"]?.intValue == nil && v["b"]?.doubleValue == nil && v["b"]?.boolValue == true)
        #expect(v["s"]?.stringValue == "x" && v["n"]?.isNull == true && v["missing"] == nil)
        #expect(v["i"]?["x"] == nil)
        #expect(v["i"]?.kindName == "an integer" && v["h"]?.kindName == "a number" && v.kindName == "an object")
    }
}
