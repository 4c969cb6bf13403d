/// The caption grammar of the shapes world, in the spirit of GenEval's six task types.
///
///     single_object   "a red circle"
///     two_objects     "a circle and a triangle"                 (two different shapes, colours free)
///     counting        "three green circles"                     (2…4 of one coloured shape)
///     colors          "a red circle and a blue circle"          (one shape in two colours)
///     position        "a red circle to the left of a blue square"   (left of / right of / above / below)
///     color_attr      "a blue square and a yellow triangle"     (two shapes, each bound to its colour)
///
/// `ShapesPrompt` is the parsed form; `text` prints it and `ShapesPrompt(parsing:)` reads it back.

/// GenEval-style task type of a prompt (derived from its form).
public enum ShapesTask: String, CaseIterable, Sendable, Codable {
    case singleObject = "single_object"
    case twoObjects = "two_objects"
    case counting
    case colors
    case position
    case colorAttribution = "color_attr"
}

/// "a red circle" or "a circle": a shape, optionally with its colour.
public struct ObjectPhrase: Sendable, Codable, Equatable, Hashable {
    public var color: ShapeColor?
    public var shape: ShapeKind
    public init(_ color: ShapeColor?, _ shape: ShapeKind) { self.color = color; self.shape = shape }

    /// "red circle" / "circle" (no article).
    public var words: String { color.map { "\($0.rawValue) \(shape.rawValue)" } ?? shape.rawValue }

    /// Whether an object of this colour and shape fits the phrase (an unnamed colour fits any).
    public func matches(_ shape: ShapeKind, _ color: ShapeColor) -> Bool {
        self.shape == shape && (self.color == nil || self.color == color)
    }
}

/// A prompt of the grammar, parsed.
public enum ShapesPrompt: Sendable, Equatable, Hashable {
    case single(ObjectPhrase)
    case pair(ObjectPhrase, ObjectPhrase)
    case count(Int, ObjectPhrase)
    case relation(ObjectPhrase, SpatialRelation, ObjectPhrase)

    public var text: String {
        switch self {
        case .single(let a): return "a \(a.words)"
        case .pair(let a, let b): return "a \(a.words) and a \(b.words)"
        case .count(let n, let a):
            let word = countWords[n] ?? String(n)
            return "\(word) \(a.color.map { $0.rawValue + " " } ?? "")\(a.shape.plural)"
        case .relation(let a, let r, let b): return "a \(a.words) \(r.rawValue) a \(b.words)"
        }
    }

    /// The GenEval-style task type this prompt's form belongs to.
    public var task: ShapesTask {
        switch self {
        case .single: return .singleObject
        case .count: return .counting
        case .relation: return .position
        case .pair(let a, let b):
            if a.color == nil && b.color == nil { return .twoObjects }
            return a.shape == b.shape ? .colors : .colorAttribution
        }
    }

    /// Every object the prompt asks for, with multiplicity (counting prompts repeat their phrase).
    public var requestedObjects: [ObjectPhrase] {
        switch self {
        case .single(let a): return [a]
        case .pair(let a, let b), .relation(let a, _, let b): return [a, b]
        case .count(let n, let a): return Array(repeating: a, count: n)
        }
    }
}

/// Why a text is not a prompt of the shapes grammar: what was understood, what was not, and the words known.
public struct ShapesPromptError: Error, CustomStringConvertible, Equatable, Sendable {
    public var text: String
    public var understood: [String]
    public var unknownWords: [String]
    public var problem: String
    /// Which grammar refused the text ("shapes grammar", "shapes video grammar").
    public var grammar: String = "shapes grammar"
    /// The grammar's forms, quoted in the message.
    public var forms: String = ShapesPromptError.imageForms

    /// The image grammar's forms.
    public static let imageForms = "\"a red circle\", \"a circle and a square\", \"three green circles\", \"a red circle and a blue square\", \"a red circle to the left of a blue square\" (also right of / above / below)"

    /// Long prompts and word lists are shortened (the first 80 characters, the first 8 words) so an error stays
    /// one readable line.
    public var description: String {
        let shown = text.count > 80 ? "\(text.prefix(80))… (\(text.count) characters)" : text
        var parts = ["prompt \"\(shown)\" is not in the \(grammar): \(problem)"]
        func list(_ words: [String]) -> String {
            words.count > 8 ? words.prefix(8).joined(separator: ", ") + ", … (\(words.count) in all)" : words.joined(separator: ", ")
        }
        if !understood.isEmpty { parts.append("understood: \(list(understood))") }
        if !unknownWords.isEmpty {
            parts.append("unknown words: \(list(unknownWords.map { $0.count > 40 ? "\($0.prefix(40))…" : $0 })) (colours: \(ShapeColor.allCases.map(\.rawValue).joined(separator: ", ")); shapes: \(ShapeKind.allCases.map(\.rawValue).joined(separator: ", ")))")
        }
        parts.append("forms: \(forms)")
        return parts.joined(separator: "; ")
    }
}

extension ShapesPrompt {
    /// Parses a prompt of the grammar (case and surrounding whitespace/final period are ignored; "an" is accepted
    /// for "a"). Anything else throws `ShapesPromptError` naming what was understood and which words are unknown.
    public init(parsing text: String) throws {
        var cleaned = text.lowercased().trimmingCharacters(in: .whitespacesAndNewlines)
        if cleaned.hasSuffix(".") { cleaned.removeLast() }
        let words = cleaned.split(whereSeparator: { $0 == " " || $0 == "\t" || $0 == "\n" || $0 == "," }).map(String.init)
        var parser = PromptWords(text: text, words: words)
        self = try parser.parsePrompt()
    }
}

/// Recursive-descent reader over a prompt's words.
private struct PromptWords {
    let text: String
    let words: [String]
    var position = 0
    var understood: [String] = []

    init(text: String, words: [String]) { self.text = text; self.words = words }

    private static let known: Set<String> = {
        var s: Set<String> = ["a", "an", "and", "to", "the", "left", "right", "of", "above", "below"]
        for c in ShapeColor.allCases { s.insert(c.rawValue) }
        for k in ShapeKind.allCases { s.insert(k.rawValue); s.insert(k.plural) }
        for w in countWords.values { s.insert(w) }
        return s
    }()

    func fail(_ problem: String) -> ShapesPromptError {
        ShapesPromptError(text: text, understood: understood, unknownWords: words.filter { !Self.known.contains($0) }, problem: problem)
    }

    var atEnd: Bool { position >= words.count }
    func peek(_ k: Int = 0) -> String? { position + k < words.count ? words[position + k] : nil }

    mutating func expect(_ word: String) throws {
        guard peek() == word else { throw fail("expected \"\(word)\" at word \(position + 1), found \(peek().map { "\"\($0)\"" } ?? "the end")") }
        position += 1
    }

    /// ("a" | "an") colour? shape
    mutating func phrase() throws -> ObjectPhrase {
        guard let article = peek(), article == "a" || article == "an" else {
            throw fail("expected \"a\" before an object at word \(position + 1), found \(peek().map { "\"\($0)\"" } ?? "the end")")
        }
        position += 1
        var color: ShapeColor?
        if let w = peek(), let c = ShapeColor(rawValue: w) { color = c; position += 1 }
        guard let w = peek(), let shape = ShapeKind(rawValue: w) else {
            throw fail("expected a shape at word \(position + 1), found \(peek().map { "\"\($0)\"" } ?? "the end")")
        }
        position += 1
        let p = ObjectPhrase(color, shape)
        understood.append("object \"\(p.words)\"")
        return p
    }

    mutating func relation() throws -> SpatialRelation? {
        switch peek() {
        case "above": position += 1; return .above
        case "below": position += 1; return .below
        case "to":
            position += 1
            if peek() == "the" { position += 1 }
            let r: SpatialRelation
            switch peek() {
            case "left": r = .leftOf
            case "right": r = .rightOf
            default: throw fail("expected \"left\" or \"right\" after \"to the\" at word \(position + 1)")
            }
            position += 1
            try expect("of")
            return r
        default: return nil
        }
    }

    mutating func parsePrompt() throws -> ShapesPrompt {
        guard let first = peek() else { throw fail("the prompt is empty") }
        if let n = countWords.first(where: { $0.value == first })?.key {
            position += 1
            var color: ShapeColor?
            if let w = peek(), let c = ShapeColor(rawValue: w) { color = c; position += 1 }
            guard let w = peek(), let shape = ShapeKind.allCases.first(where: { $0.plural == w }) else {
                throw fail("expected a plural shape (circles, squares, triangles) after \"\(first)\" at word \(position + 1)")
            }
            position += 1
            let p = ObjectPhrase(color, shape)
            understood.append("\(first) × \"\(p.words)\"")
            try finish()
            return .count(n, p)
        }
        let a = try phrase()
        if atEnd { return .single(a) }
        if peek() == "and" {
            position += 1
            let b = try phrase()
            try finish()
            if a == b { throw fail("the two objects are the same (\"\(a.words)\"); say \"two \(a.color.map { $0.rawValue + " " } ?? "")\(a.shape.plural)\"") }
            return .pair(a, b)
        }
        if let r = try relation() {
            understood.append("relation \"\(r.rawValue)\"")
            let b = try phrase()
            try finish()
            if a == b { throw fail("an object cannot be \(r.rawValue) an identical one (\"\(a.words)\")") }
            return .relation(a, r, b)
        }
        throw fail("expected \"and\", a relation or the end after \"\(a.words)\", found \"\(peek() ?? "")\"")
    }

    mutating func finish() throws {
        if !atEnd { throw fail("unexpected words after the prompt: \"\(words[position...].joined(separator: " "))\"") }
    }
}

import Foundation
