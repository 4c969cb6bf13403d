import Foundation

/// The caption grammar of the moving-shapes world: the image world's object phrases, each with what it does over
/// the clip. Task types follow video benchmarks' dimensions (motion, multiple objects, counting, colour binding,
/// spatial relations, appearance):
///
///     single_motion     "a red circle moving right"                       (one object, a direction)
///     two_motions       "a blue square moving down and a green triangle moving left"
///                                                                         (two different shapes, each its motion)
///     counting          "three yellow circles moving up"                  (2…4 of one coloured shape, one motion)
///     color_binding     "a red circle moving left and a blue circle staying still"
///                                                                         (one shape in two colours, different
///                                                                          motions: colour binds to motion)
///     spatial_relation  "a red circle to the left of a blue square, both moving down"
///                                                                         (the relation held over the clip)
///     appearance        "a red circle appearing", "a blue square disappearing"
///                                                                         (one object, present from / until a
///                                                                          frame partway)
///
/// Motions are "moving left", "moving right", "moving up", "moving down" and "staying still"; "falling" is read as
/// "moving down" and "rising" as "moving up" (printed canonically). "appearing" / "disappearing" are for one object
/// alone. As in `ShapesPrompt`, colours may be left out ("a circle moving left"), case, a final period, commas and
/// "an" for "a" are accepted, and `text` prints the canonical form, which `ShapesVideoPrompt(parsing:)` reads back
/// to the same value. Anything else throws `ShapesPromptError` (grammar "shapes video grammar").
public enum ShapesVideoPrompt: Sendable, Equatable, Hashable {
    case single(ObjectPhrase, VideoAction)
    case pair(ObjectPhrase, ShapeMotion, ObjectPhrase, ShapeMotion)
    case count(Int, ObjectPhrase, ShapeMotion)
    case relation(ObjectPhrase, SpatialRelation, ObjectPhrase, ShapeMotion)

    public var text: String {
        switch self {
        case let .single(a, action): return "a \(a.words) \(action.words)"
        case let .pair(a, ma, b, mb): return "a \(a.words) \(ma.rawValue) and a \(b.words) \(mb.rawValue)"
        case let .count(n, a, m):
            let word = countWords[n] ?? String(n)
            return "\(word) \(a.color.map { $0.rawValue + " " } ?? "")\(a.shape.plural) \(m.rawValue)"
        case let .relation(a, r, b, m): return "a \(a.words) \(r.rawValue) a \(b.words), both \(m.rawValue)"
        }
    }

    /// The task type this prompt's form belongs to.
    public var task: ShapesVideoTask {
        switch self {
        case .single(_, .motion): return .singleMotion
        case .single: return .appearance
        case let .pair(a, _, b, _): return a.shape == b.shape ? .colorBinding : .twoMotions
        case .count: return .counting
        case .relation: return .spatialRelation
        }
    }

    /// Every object the prompt asks for with what it does, with multiplicity (counting repeats its phrase).
    public var requestedObjects: [(phrase: ObjectPhrase, action: VideoAction)] {
        switch self {
        case let .single(a, action): return [(a, action)]
        case let .pair(a, ma, b, mb): return [(a, .motion(ma)), (b, .motion(mb))]
        case let .count(n, a, m): return Array(repeating: (a, .motion(m)), count: n)
        case let .relation(a, _, b, m): return [(a, .motion(m)), (b, .motion(m))]
        }
    }
}

/// Task type of a video prompt (derived from its form; see `ShapesVideoPrompt`).
public enum ShapesVideoTask: String, CaseIterable, Sendable, Codable {
    case singleMotion = "single_motion"
    case twoMotions = "two_motions"
    case counting
    case colorBinding = "color_binding"
    case spatialRelation = "spatial_relation"
    case appearance
}

extension ShapesVideoPrompt {
    /// The forms quoted by a `ShapesPromptError` of this grammar.
    public static let forms = "\"a red circle moving right\", \"a blue square moving down and a green triangle moving left\", \"three yellow circles moving up\", \"a red circle moving left and a blue circle staying still\", \"a red circle to the left of a blue square, both moving down\", \"a red circle appearing\" / \"… disappearing\" (motions: moving left / right / up / down, falling, rising, staying still)"

    /// Parses a prompt of the video grammar; text outside it throws `ShapesPromptError` naming what was understood
    /// and which words are unknown.
    public init(parsing text: String) throws {
        var cleaned = text.lowercased().trimmingCharacters(in: .whitespacesAndNewlines)
        if cleaned.hasSuffix(".") { cleaned.removeLast() }
        let words = cleaned.split(whereSeparator: { $0 == " " || $0 == "\t" || $0 == "\n" || $0 == "," }).map(String.init)
        var parser = VideoPromptWords(text: text, words: words)
        self = try parser.parsePrompt()
    }
}

/// Recursive-descent reader over a video prompt's words.
private struct VideoPromptWords {
    let text: String
    let words: [String]
    var position = 0
    var understood: [String] = []

    init(text: String, words: [String]) { self.text = text; self.words = words }

    private static let known: Set<String> = {
        var s: Set<String> = ["a", "an", "and", "to", "the", "left", "right", "of", "above", "below", "both",
                              "moving", "up", "down", "falling", "rising", "staying", "still", "appearing", "disappearing"]
        for c in ShapeColor.allCases { s.insert(c.rawValue) }
        for k in ShapeKind.allCases { s.insert(k.rawValue); s.insert(k.plural) }
        for w in countWords.values { s.insert(w) }
        return s
    }()

    func fail(_ problem: String) -> ShapesPromptError {
        ShapesPromptError(text: text, understood: understood, unknownWords: words.filter { !Self.known.contains($0) },
                          problem: problem, grammar: "shapes video grammar", forms: ShapesVideoPrompt.forms)
    }

    var atEnd: Bool { position >= words.count }
    func peek(_ k: Int = 0) -> String? { position + k < words.count ? words[position + k] : nil }
    var found: String { peek().map { "\"\($0)\"" } ?? "the end" }

    mutating func expect(_ word: String) throws {
        guard peek() == word else { throw fail("expected \"\(word)\" at word \(position + 1), found \(found)") }
        position += 1
    }

    /// ("a" | "an") colour? shape
    mutating func phrase() throws -> ObjectPhrase {
        guard let article = peek(), article == "a" || article == "an" else {
            throw fail("expected \"a\" before an object at word \(position + 1), found \(found)")
        }
        position += 1
        var color: ShapeColor?
        if let w = peek(), let c = ShapeColor(rawValue: w) { color = c; position += 1 }
        guard let w = peek(), let shape = ShapeKind(rawValue: w) else {
            throw fail("expected a shape at word \(position + 1), found \(found)")
        }
        position += 1
        let p = ObjectPhrase(color, shape)
        understood.append("object \"\(p.words)\"")
        return p
    }

    /// "moving" (left | right | up | down) | "falling" | "rising" | "staying" "still" | "appearing" | "disappearing"
    mutating func action() throws -> VideoAction {
        let start = position
        let action: VideoAction
        switch peek() {
        case "moving":
            position += 1
            switch peek() {
            case "left": action = .motion(.left)
            case "right": action = .motion(.right)
            case "up": action = .motion(.up)
            case "down": action = .motion(.down)
            default: throw fail("expected left, right, up or down after \"moving\" at word \(position + 1), found \(found)")
            }
            position += 1
        case "falling": position += 1; action = .motion(.down)
        case "rising": position += 1; action = .motion(.up)
        case "staying":
            position += 1
            try expect("still")
            action = .motion(.still)
        case "appearing": position += 1; action = .appearing
        case "disappearing": position += 1; action = .disappearing
        default:
            throw fail("expected what the object does (moving left / right / up / down, falling, rising, staying still, appearing, disappearing) at word \(start + 1), found \(found)")
        }
        understood.append("action \"\(action.words)\"")
        return action
    }

    /// An action that must be a motion (counting, pairs and relations).
    mutating func motion(in form: String) throws -> ShapeMotion {
        let a = try action()
        guard case .motion(let m) = a else {
            throw fail("\"\(a.words)\" is for one object alone (\"a red circle \(a.words)\"); \(form) take a motion")
        }
        return m
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

    mutating func parsePrompt() throws -> ShapesVideoPrompt {
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
            let m = try motion(in: "counting prompts")
            try finish()
            return .count(n, p, m)
        }
        let a = try phrase()
        if let r = try relation() {
            understood.append("relation \"\(r.rawValue)\"")
            let b = try phrase()
            guard peek() == "both" else {
                throw fail("expected \"both\" and their motion after \"\(b.words)\" (\"…, both moving down\"), found \(found)")
            }
            position += 1
            let m = try motion(in: "relations")
            try finish()
            if a == b { throw fail("an object cannot be \(r.rawValue) an identical one (\"\(a.words)\")") }
            return .relation(a, r, b, m)
        }
        let act = try action()
        if atEnd { return .single(a, act) }
        guard peek() == "and" else {
            throw fail("expected \"and\" or the end after \"\(a.words) \(act.words)\", found \(found)")
        }
        position += 1
        guard case .motion(let ma) = act else {
            throw fail("\"\(act.words)\" is for one object alone (\"a \(a.words) \(act.words)\"); pairs take a motion")
        }
        let b = try phrase()
        let mb = try motion(in: "pairs")
        try finish()
        if a == b && ma == mb {
            throw fail("the two objects are the same (\"\(a.words) \(ma.rawValue)\"); say \"two \(a.color.map { $0.rawValue + " " } ?? "")\(a.shape.plural) \(ma.rawValue)\"")
        }
        return .pair(a, ma, b, mb)
    }

    mutating func finish() throws {
        if !atEnd { throw fail("unexpected words after the prompt: \"\(words[position...].joined(separator: " "))\"") }
    }
}
