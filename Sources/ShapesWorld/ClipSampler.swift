import RandomStreams

/// Draws random video prompts of each task type and random clips that satisfy a prompt, from an explicit random
/// stream (the same stream gives the same prompt and clip).
///
/// Prompts: colours are always named; single_motion takes a direction, the other motion forms any motion including
/// "staying still"; two_motions has two different shapes in different colours, color_binding one shape in two
/// colours with different motions; appearance is one object appearing or disappearing.
///
/// Clip rules (lengths for a 64-px canvas, scaled with it): sizes as `SceneSampler` (14–24 px for one or two
/// objects, 11–17 px for three or four). A moving object travels `travelFraction` of the width in a straight line
/// at constant speed; the objects of a counting or relation prompt share one velocity (they move as a group, so a
/// relation holds in every frame); a pair's objects each draw their own. Every object stays 2 px inside the canvas
/// in every frame and objects' boxes stay 3 px apart in every frame. An appearing object is absent in frames
/// 0..<k and present from k, a disappearing one present in 0..<k and absent from k, with k drawn in
/// [⌈(F−1)/4⌉, ⌊3(F−1)/4⌋]; they stay still. A relation's objects are placed as `SceneSampler` places them (apart
/// along the relation's axis by more than half their summed sizes, cross-axis offset no larger).
public struct ClipSampler: Sendable {
    public var imageSize: Int
    public var frameCount: Int

    /// Range of the net travel of a moving object, as a fraction of the width (16–29 px at 64 px); well above the
    /// verifier's `ShapeMotion.minimumTravelFraction`.
    public static let travelFraction: ClosedRange<Double> = 0.25...0.45

    /// Throws for a frame count that is not 1 + 4·k (k ≥ 1) or a canvas under `ObjectDetector.minimumSide`.
    public init(imageSize: Int = 64, frameCount: Int = ShapesClip.defaultFrameCount) throws(ShapesVideoError) {
        try ShapesClip.checkFrameCount(frameCount)
        guard imageSize >= ObjectDetector.minimumSide else {
            throw .canvasTooSmall(imageSize)
        }
        self.imageSize = imageSize; self.frameCount = frameCount
    }

    /// A random prompt of the given task type.
    public func randomPrompt(_ task: ShapesVideoTask, _ rng: inout PhiloxStream) -> ShapesVideoPrompt {
        let colors = ShapeColor.allCases, shapes = ShapeKind.allCases, motions = ShapeMotion.allCases
        func color() -> ShapeColor { colors[rng.nextInt(below: colors.count)] }
        func shape() -> ShapeKind { shapes[rng.nextInt(below: shapes.count)] }
        func motion() -> ShapeMotion { motions[rng.nextInt(below: motions.count)] }
        func twoDistinct<T>(_ all: [T]) -> (T, T) {
            let i = rng.sampleWithoutReplacement(2, from: all.count)
            return (all[i[0]], all[i[1]])
        }
        switch task {
        case .singleMotion:
            let directions = ShapeMotion.directions
            return .single(ObjectPhrase(color(), shape()), .motion(directions[rng.nextInt(below: directions.count)]))
        case .twoMotions:
            let (s1, s2) = twoDistinct(shapes)
            let (c1, c2) = twoDistinct(colors)
            return .pair(ObjectPhrase(c1, s1), motion(), ObjectPhrase(c2, s2), motion())
        case .counting:
            let n = 2 + rng.nextInt(below: 3)
            return .count(n, ObjectPhrase(color(), shape()), motion())
        case .colorBinding:
            let s = shape()
            let (c1, c2) = twoDistinct(colors)
            let (m1, m2) = twoDistinct(motions)
            return .pair(ObjectPhrase(c1, s), m1, ObjectPhrase(c2, s), m2)
        case .spatialRelation:
            let relations = SpatialRelation.allCases
            let r = relations[rng.nextInt(below: relations.count)]
            let a = ObjectPhrase(color(), shape())
            var b = ObjectPhrase(color(), shape())
            while b == a { b = ObjectPhrase(color(), shape()) }
            return .relation(a, r, b, motion())
        case .appearance:
            return .single(ObjectPhrase(color(), shape()), rng.nextInt(below: 2) == 0 ? .appearing : .disappearing)
        }
    }

    /// A random clip that satisfies `prompt` exactly (and holds no other objects).
    public func randomClip(for prompt: ShapesVideoPrompt, _ rng: inout PhiloxStream) -> ShapesClip {
        let colors = ShapeColor.allCases
        let wanted = prompt.requestedObjects
        let scale = Double(imageSize) / 64
        let (lo, hi) = wanted.count <= 2 ? (14.0 * scale, 24.0 * scale) : (11.0 * scale, 17.0 * scale)
        let n = Double(imageSize), last = Double(frameCount - 1)
        let grouped: Bool
        switch prompt { case .count, .relation: grouped = true; default: grouped = false }
        func velocity(_ m: ShapeMotion) -> (Double, Double) {
            let t = Self.travelFraction
            let travel = (t.lowerBound + (t.upperBound - t.lowerBound) * rng.nextUniform()) * n
            return (m.unitStep.dx * travel / last, m.unitStep.dy * travel / last)
        }
        while true {
            var objects: [MovingShape] = []
            var groupVelocity: (Double, Double)?
            var ok = true
            for (phrase, action) in wanted {
                let c = phrase.color ?? colors[rng.nextInt(below: colors.count)]
                var v = (0.0, 0.0)
                var visible = 0..<frameCount
                switch action {
                case .motion(let m):
                    if grouped, let g = groupVelocity { v = g } else { v = velocity(m); groupVelocity = v }
                case .appearing, .disappearing:
                    let lowK = (frameCount - 1 + 3) / 4, highK = 3 * (frameCount - 1) / 4
                    let k = lowK + rng.nextInt(below: highK - lowK + 1)
                    visible = action == .appearing ? k..<frameCount : 0..<k
                }
                var placed = false
                for _ in 0..<200 {
                    let size = lo + (hi - lo) * rng.nextUniform()
                    let half = size / 2 + 2
                    let dx = v.0 * last, dy = v.1 * last
                    // Start ranges that keep both ends (hence every frame) inside the canvas.
                    let x0 = half - min(dx, 0), x1 = n - half - max(dx, 0)
                    let y0 = half - min(dy, 0), y1 = n - half - max(dy, 0)
                    guard x1 >= x0 && y1 >= y0 else { continue }
                    let o = MovingShape(shape: phrase.shape, color: c, size: size,
                                        startX: x0 + (x1 - x0) * rng.nextUniform(), startY: y0 + (y1 - y0) * rng.nextUniform(),
                                        velocityX: v.0, velocityY: v.1, visibleFrames: visible)
                    if objects.allSatisfy({ apartInEveryFrame($0, o) }) { objects.append(o); placed = true; break }
                }
                if !placed { ok = false; break }
            }
            guard ok else { continue }
            if case let .relation(_, r, _, _) = prompt,
               !SceneSampler.clearly(r, objects[0].object(atFrame: 0), objects[1].object(atFrame: 0)) { continue }
            return ShapesClip(imageSize: imageSize, frameCount: frameCount, objects: objects)
        }
    }

    /// The two objects' boxes are 3 px apart in every frame (scaled with the canvas).
    func apartInEveryFrame(_ a: MovingShape, _ b: MovingShape) -> Bool {
        let gap = 3 * Double(imageSize) / 64
        return (0..<frameCount).allSatisfy { f in SceneSampler.apart(a.object(atFrame: f), b.object(atFrame: f), gap: gap) }
    }

    /// One training example: a prompt of a uniformly drawn task type and a clip satisfying it.
    public func randomExample(_ rng: inout PhiloxStream) -> (prompt: ShapesVideoPrompt, clip: ShapesClip) {
        let tasks = ShapesVideoTask.allCases
        let prompt = randomPrompt(tasks[rng.nextInt(below: tasks.count)], &rng)
        return (prompt, randomClip(for: prompt, &rng))
    }
}
