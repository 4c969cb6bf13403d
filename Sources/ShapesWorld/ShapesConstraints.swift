/// An object with a shape, a colour and a centre: what prompt constraints are judged on. Both the scene's
/// ground truth (`ShapeObject`) and the detector's output (`DetectedObject`) are placed shapes, so one
/// evaluator judges both and their agreement is measurable.
public protocol PlacedShape {
    var shape: ShapeKind { get }
    var color: ShapeColor { get }
    /// Centre of the object's bounding box, continuous pixel coordinates (y grows downwards).
    var centerX: Double { get }
    var centerY: Double { get }
}

extension ShapeObject: PlacedShape {}
extension DetectedObject: PlacedShape {}

/// One checked constraint: a readable statement and whether it holds, e.g. "red circle present: yes".
public struct ShapesConstraintResult: Sendable, Equatable, Codable, CustomStringConvertible {
    /// The constraint, without its verdict ("exactly 3 green circles").
    public var statement: String
    public var satisfied: Bool
    /// Extra detail for reports, e.g. "found 2"; empty when there is nothing to add.
    public var detail: String

    public init(_ statement: String, _ satisfied: Bool, detail: String = "") {
        self.statement = statement; self.satisfied = satisfied; self.detail = detail
    }

    public var description: String { "\(statement): \(satisfied ? "yes" : "no")\(detail.isEmpty ? "" : " (\(detail))")" }
}

/// The constraints a prompt of the shapes grammar makes, judged on a list of placed objects.
///
///     single(a)          [a present]
///     pair(a, b)         [a present, b present as an object distinct from the a]
///     count(n, a)        [at least one a present, exactly n objects match a]
///     relation(a, r, b)  [a present, b present, some a and some other b with r between their centres]
///
/// "Matches" is `ObjectPhrase.matches`: the shape must be the named one and the colour too when named. Objects
/// the prompt does not ask for are ignored, except that they count against the exactness of a count (only
/// objects matching the counted phrase are counted). For a pair, the score of the two presence constraints is
/// the size of the largest assignment of distinct objects to the two phrases (so "a circle and a red circle"
/// needs two circles, one red); the second phrase is reported missing when only the object serving the first
/// matches it. Relations use `SpatialRelation.holds` with the margin `SpatialRelation.margin(imageSize:)` of the
/// image width, on bounding-box centres (GenEval's rule).
public struct ShapesConstraints: Sendable, Equatable {
    public let prompt: ShapesPrompt

    public init(_ prompt: ShapesPrompt) { self.prompt = prompt }

    /// The constraints with their verdicts, in the order above. `imageWidth` sets the relation margin.
    public func evaluate<O: PlacedShape>(_ objects: [O], imageWidth: Int) -> [ShapesConstraintResult] {
        func matching(_ p: ObjectPhrase) -> [Int] { objects.indices.filter { p.matches(objects[$0].shape, objects[$0].color) } }
        switch prompt {
        case .single(let a):
            return [ShapesConstraintResult("\(a.words) present", !matching(a).isEmpty)]

        case .pair(let a, let b):
            let ia = matching(a), ib = matching(b)
            let either = Set(ia).union(ib).count
            let aPresent = !ia.isEmpty
            // Hall's condition for two phrases: both have a match and together they have two distinct objects.
            let bothDistinct = !ia.isEmpty && !ib.isEmpty && either >= 2
            let overlap = b.matchesSome(of: a)
            let bStatement = overlap ? "\(b.words) present besides the \(a.words)" : "\(b.words) present"
            return [
                ShapesConstraintResult("\(a.words) present", aPresent),
                ShapesConstraintResult(bStatement, bothDistinct || (!aPresent && !ib.isEmpty)),
            ]

        case .count(let n, let a):
            let found = matching(a).count
            let plural = "\(a.color.map { $0.rawValue + " " } ?? "")\(a.shape.plural)"
            return [
                ShapesConstraintResult("\(a.words) present", found > 0),
                ShapesConstraintResult("exactly \(n) \(plural)", found == n, detail: "found \(found)"),
            ]

        case .relation(let a, let r, let b):
            let ia = matching(a), ib = matching(b)
            let margin = SpatialRelation.margin(imageSize: imageWidth)
            let holds = ia.contains { i in
                ib.contains { j in
                    i != j && r.holds((objects[i].centerX, objects[i].centerY), (objects[j].centerX, objects[j].centerY), margin: margin)
                }
            }
            return [
                ShapesConstraintResult("\(a.words) present", !ia.isEmpty),
                ShapesConstraintResult("\(b.words) present", !ib.isEmpty),
                ShapesConstraintResult("\(a.words) \(r.rawValue) \(b.words)", holds),
            ]
        }
    }
}

extension ObjectPhrase {
    /// Whether some object could match both this phrase and `other` (same shape, compatible colours).
    func matchesSome(of other: ObjectPhrase) -> Bool {
        shape == other.shape && (color == nil || other.color == nil || color == other.color)
    }
}
