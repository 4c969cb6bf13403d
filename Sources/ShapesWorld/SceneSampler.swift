import RandomStreams

/// Draws random prompts of each task type and random scenes that satisfy a prompt, from an explicit random
/// stream (the same stream gives the same prompt and scene).
///
/// Scene rules: objects never overlap (bounding boxes at least 3 px apart) and stay 2 px inside the canvas;
/// sizes are 14–24 px (scaled with the canvas; 64 px reference) for one or two objects and 11–17 px for three
/// or four; a colour the prompt leaves open is drawn uniformly; for a position prompt the two objects are
/// separated along the relation's axis by more than half their summed sizes and the cross-axis offset is no
/// larger than that separation, so the relation is unambiguous.
public struct SceneSampler: Sendable {
    public var imageSize: Int

    public init(imageSize: Int = 64) {
        precondition(imageSize >= 32, "SceneSampler: images must be at least 32 pixels")
        self.imageSize = imageSize
    }

    /// A random prompt of the given task type.
    public func randomPrompt(_ task: ShapesTask, _ rng: inout PhiloxStream) -> ShapesPrompt {
        let colors = ShapeColor.allCases, shapes = ShapeKind.allCases
        func color() -> ShapeColor { colors[rng.nextInt(below: colors.count)] }
        func shape() -> ShapeKind { shapes[rng.nextInt(below: shapes.count)] }
        func twoDistinct<T>(_ all: [T]) -> (T, T) {
            let i = rng.sampleWithoutReplacement(2, from: all.count)
            return (all[i[0]], all[i[1]])
        }
        switch task {
        case .singleObject:
            return .single(ObjectPhrase(color(), shape()))
        case .twoObjects:
            let (a, b) = twoDistinct(shapes)
            return .pair(ObjectPhrase(nil, a), ObjectPhrase(nil, b))
        case .counting:
            let n = 2 + rng.nextInt(below: 3)
            return .count(n, ObjectPhrase(color(), shape()))
        case .colors:
            let s = shape()
            let (c1, c2) = twoDistinct(colors)
            return .pair(ObjectPhrase(c1, s), ObjectPhrase(c2, s))
        case .position:
            let relations = SpatialRelation.allCases
            let r = relations[rng.nextInt(below: relations.count)]
            let a = ObjectPhrase(color(), shape())
            var b = ObjectPhrase(color(), shape())
            while b == a { b = ObjectPhrase(color(), shape()) }
            return .relation(a, r, b)
        case .colorAttribution:
            let (s1, s2) = twoDistinct(shapes)
            let (c1, c2) = twoDistinct(colors)
            return .pair(ObjectPhrase(c1, s1), ObjectPhrase(c2, s2))
        }
    }

    /// A random scene that satisfies `prompt` exactly (and holds no other objects).
    public func randomScene(for prompt: ShapesPrompt, _ rng: inout PhiloxStream) -> ShapesScene {
        let colors = ShapeColor.allCases
        let phrases = prompt.requestedObjects
        let scale = Double(imageSize) / 64
        let (lo, hi) = phrases.count <= 2 ? (14.0 * scale, 24.0 * scale) : (11.0 * scale, 17.0 * scale)
        let n = Double(imageSize)
        while true {
            var objects: [ShapeObject] = []
            var ok = true
            for p in phrases {
                let c = p.color ?? colors[rng.nextInt(below: colors.count)]
                var placed = false
                for _ in 0..<200 {
                    let size = lo + (hi - lo) * rng.nextUniform()
                    let half = size / 2 + 2
                    let cx = half + (n - 2 * half) * rng.nextUniform()
                    let cy = half + (n - 2 * half) * rng.nextUniform()
                    let o = ShapeObject(shape: p.shape, color: c, centerX: cx, centerY: cy, size: size)
                    if objects.allSatisfy({ Self.apart($0, o, gap: 3) }) {
                        objects.append(o); placed = true; break
                    }
                }
                if !placed { ok = false; break }
            }
            guard ok else { continue }
            if case .relation(_, let r, _) = prompt, !Self.clearly(r, objects[0], objects[1]) { continue }
            return ShapesScene(imageSize: imageSize, objects: objects)
        }
    }

    static func apart(_ a: ShapeObject, _ b: ShapeObject, gap: Double) -> Bool {
        let p = a.bounds, q = b.bounds
        return p.maxX + gap <= q.minX || q.maxX + gap <= p.minX || p.maxY + gap <= q.minY || q.maxY + gap <= p.minY
    }

    /// The relation holds with the objects apart along its axis and the cross-axis offset no larger than the
    /// axis offset.
    static func clearly(_ r: SpatialRelation, _ a: ShapeObject, _ b: ShapeObject) -> Bool {
        let dx = b.centerX - a.centerX, dy = b.centerY - a.centerY
        let need = (a.size + b.size) / 2
        switch r {
        case .leftOf: return dx > need && abs(dy) <= dx
        case .rightOf: return -dx > need && abs(dy) <= -dx
        case .above: return dy > need && abs(dx) <= dy
        case .below: return -dy > need && abs(dx) <= -dy
        }
    }

    /// One training example: a prompt of a uniformly drawn task type and a scene satisfying it.
    public func randomExample(_ rng: inout PhiloxStream) -> (prompt: ShapesPrompt, scene: ShapesScene) {
        let tasks = ShapesTask.allCases
        let prompt = randomPrompt(tasks[rng.nextInt(below: tasks.count)], &rng)
        return (prompt, randomScene(for: prompt, &rng))
    }
}
