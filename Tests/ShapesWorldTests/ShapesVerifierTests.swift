import Foundation
import Imaging
import RandomStreams
import ShapesWorld
import TensorCore
import Testing

/// Degradations of rendered images that stand in for a model's imperfect output. Randomness comes from
/// explicit Philox keys, so every run sees the same images.
enum Degrade {
    /// The image as a `[3, H, W]` tensor in [0, 1].
    static func tensor(_ image: Image8) -> Tensor { image.tensor() }

    /// Separable Gaussian blur of a `[3, H, W]` tensor (kernel radius ⌈3σ⌉, edges replicated).
    static func blur(_ t: Tensor, sigma: Double) -> Tensor {
        let h = t.shape[1], w = t.shape[2], plane = h * w
        let r = Int((3 * sigma).rounded(.up))
        var kernel = (-r...r).map { Float(Foundation.exp(-Double($0 * $0) / (2 * sigma * sigma))) }
        let total = kernel.reduce(0, +)
        kernel = kernel.map { $0 / total }
        var tmp = [Float](repeating: 0, count: t.count), out = tmp
        for c in 0..<3 {
            for y in 0..<h {
                for x in 0..<w {
                    var s: Float = 0
                    for k in -r...r { s += kernel[k + r] * t.scalars[c * plane + y * w + min(max(x + k, 0), w - 1)] }
                    tmp[c * plane + y * w + x] = s
                }
            }
            for y in 0..<h {
                for x in 0..<w {
                    var s: Float = 0
                    for k in -r...r { s += kernel[k + r] * tmp[c * plane + min(max(y + k, 0), h - 1) * w + x] }
                    out[c * plane + y * w + x] = s
                }
            }
        }
        return Tensor(shape: t.shape, scalars: out)
    }

    /// A colour cast: one offset per channel, uniform in ±`amount` (full scale = 1), added everywhere and clamped.
    static func drift(_ t: Tensor, amount: Double, key: NoiseKey) -> Tensor {
        var rng = PhiloxStream(key)
        let offsets = (0..<3).map { _ in Float(amount * (2 * rng.nextUniform() - 1)) }
        let plane = t.count / 3
        return Tensor(shape: t.shape, scalars: t.scalars.enumerated().map { min(max($1 + offsets[$0 / plane], 0), 1) })
    }

    /// Independent Gaussian noise of std `sigma` (full scale = 1) on every value, clamped to [0, 1].
    static func noise(_ t: Tensor, sigma: Double, key: NoiseKey) -> Tensor {
        var rng = PhiloxStream(key)
        let g = rng.gaussians(t.count)
        return Tensor(shape: t.shape, scalars: zip(t.scalars, g).map { min(max($0 + Float(sigma) * $1, 0), 1) })
    }
}

@Suite struct ShapesVerifierTests {
    /// One degradation condition of the agreement test.
    enum Condition: String, CaseIterable {
        case clean, blurred = "blur σ=1", noisy = "noise σ=0.06", blurredNoisy = "blur σ=1 + noise σ=0.06"
        case modelLike = "blur σ=1 + noise σ=0.06 + colour cast ±0.08"
    }

    /// For 1000 random examples per condition: the scene's own prompt, a near miss of it (see `nearMiss`) and a
    /// different random prompt, judged on the ground-truth objects and on the objects detected in the (degraded)
    /// render; `allSatisfied` must agree.
    @Test func detectorAgreesWithGroundTruthOnRandomScenes() throws {
        let sampler = SceneSampler(), renderer = ShapesRenderer()
        let examples = 1000
        var lines: [String] = []
        var agreement: [Condition: (own: Double, near: Double, other: Double)] = [:]
        var exactObjects: [Condition: Double] = [:]
        for condition in Condition.allCases {
            var ownAgree = 0, nearAgree = 0, otherAgree = 0, objectsExact = 0
            var mismatches: [String] = []
            for i in 0..<examples {
                var rng = PhiloxStream(NoiseKey(seed: 606, purpose: .worldSampling, individual: i))
                let (prompt, scene) = sampler.randomExample(&rng)
                let tasks = ShapesTask.allCases
                var other = sampler.randomPrompt(tasks[rng.nextInt(below: tasks.count)], &rng)
                while other == prompt { other = sampler.randomPrompt(tasks[rng.nextInt(below: tasks.count)], &rng) }
                let image = renderer.render(scene)
                let detected: [DetectedObject]
                switch condition {
                case .clean: detected = try ObjectDetector().detect(image)
                case .blurred: detected = try ObjectDetector().detect(tensor: Degrade.blur(image.tensor(), sigma: 1))
                case .noisy:
                    detected = try ObjectDetector().detect(tensor: Degrade.noise(image.tensor(), sigma: 0.06,
                                                                                  key: NoiseKey(seed: 606, purpose: .worldSampling, generation: 1, individual: i)))
                case .blurredNoisy:
                    detected = try ObjectDetector().detect(tensor: Degrade.noise(Degrade.blur(image.tensor(), sigma: 1), sigma: 0.06,
                                                                                  key: NoiseKey(seed: 606, purpose: .worldSampling, generation: 2, individual: i)))
                case .modelLike:
                    let cast = Degrade.drift(Degrade.blur(image.tensor(), sigma: 1), amount: 0.08,
                                             key: NoiseKey(seed: 606, purpose: .worldSampling, generation: 3, individual: i))
                    detected = try ObjectDetector().detect(tensor: Degrade.noise(cast, sigma: 0.06,
                                                                                  key: NoiseKey(seed: 606, purpose: .worldSampling, generation: 4, individual: i)))
                }
                func key(_ s: ShapeKind, _ c: ShapeColor) -> String { "\(c.rawValue) \(s.rawValue)" }
                if detected.map({ key($0.shape, $0.color) }).sorted() == scene.objects.map({ key($0.shape, $0.color) }).sorted() {
                    objectsExact += 1
                }
                for (k, p) in [prompt, nearMiss(prompt), other].enumerated() {
                    let verifier = ShapesVerifier(prompt: p)
                    let truth = verifier.verify(scene: scene)
                    let found = verifier.verify(objects: detected, imageWidth: scene.imageSize)
                    if truth.allSatisfied == found.allSatisfied {
                        switch k { case 0: ownAgree += 1; case 1: nearAgree += 1; default: otherAgree += 1 }
                    } else if mismatches.count < 5 {
                        mismatches.append("#\(i) \"\(p.text)\": truth [\(truth)] detected [\(found)] objects \(detected.map { "\(key($0.shape, $0.color)) @(\($0.centerX), \($0.centerY)) low \($0.lowMass) corner \($0.cornerMass)" })")
                    }
                }
            }
            let own = Double(ownAgree) / Double(examples), near = Double(nearAgree) / Double(examples)
            let oth = Double(otherAgree) / Double(examples)
            agreement[condition] = (own, near, oth)
            exactObjects[condition] = Double(objectsExact) / Double(examples)
            lines.append("  \(condition.rawValue): own prompt \(pct(own)), near miss \(pct(near)), other prompt \(pct(oth)); detected object list exactly right \(pct(exactObjects[condition]!))")
            for m in mismatches { lines.append("    disagreement \(m)") }
        }
        print("shapes-verifier agreement with ground truth (\(examples) scenes per condition, allSatisfied):\n" + lines.joined(separator: "\n"))
        // The issue asks for 99% on clean renders; 100% was measured under every condition, so 99% is the floor
        // for all of them (room for a rare borderline case, not for a regression).
        for c in Condition.allCases {
            let a = try #require(agreement[c])
            #expect(a.own >= 0.99, "\(c.rawValue): own-prompt agreement \(a.own)")
            #expect(a.near >= 0.99, "\(c.rawValue): near-miss agreement \(a.near)")
            #expect(a.other >= 0.99, "\(c.rawValue): other-prompt agreement \(a.other)")
        }
    }

    /// A prompt one change away from `p`, false for a scene drawn for `p` (unless the change happens to hold):
    /// another colour for a single object, the other count, the opposite relation, the colours of a colour
    /// attribution swapped between the shapes, another colour or shape for the second object of a pair.
    private func nearMiss(_ p: ShapesPrompt) -> ShapesPrompt {
        let colors = ShapeColor.allCases, shapes = ShapeKind.allCases
        func next(_ c: ShapeColor) -> ShapeColor { colors[(colors.firstIndex(of: c)! + 1) % colors.count] }
        switch p {
        case .single(let a): return .single(ObjectPhrase(next(a.color ?? .red), a.shape))
        case .count(let n, let a): return .count(n == 4 ? 3 : n + 1, a)
        case .relation(let a, let r, let b):
            let opposite: [SpatialRelation: SpatialRelation] = [.leftOf: .rightOf, .rightOf: .leftOf, .above: .below, .below: .above]
            return .relation(a, opposite[r]!, b)
        case .pair(let a, let b):
            switch p.task {
            case .twoObjects: return .pair(a, ObjectPhrase(nil, shapes.first { $0 != a.shape && $0 != b.shape }!))
            case .colors:
                return .pair(a, ObjectPhrase(colors.first { $0 != a.color && $0 != b.color }!, b.shape))
            default: return .pair(ObjectPhrase(b.color, a.shape), ObjectPhrase(a.color, b.shape))
            }
        }
    }

    private func pct(_ x: Double) -> String { String(format: "%.1f%%", 100 * x) }

    // MARK: Detection

    /// Every shape in every colour, at every whole size 11…24 px and at sub-pixel offsets, is found once, with the
    /// right shape and colour and its centre within a pixel — clean, blurred, noisy and both. Prints the range of
    /// the shape measurements per shape (the margins around the thresholds 0.3 and 0.55).
    @Test func eachShapeIsClassifiedAtEverySize() throws {
        let renderer = ShapesRenderer()
        let offsets: [(Double, Double)] = [(0, 0), (0.25, 0.5), (0.5, 0.75), (0.8, 0.3)]
        var low: [ShapeKind: ClosedRange<Double>] = [:], corner: [ShapeKind: ClosedRange<Double>] = [:]
        func widen(_ r: ClosedRange<Double>?, _ v: Double) -> ClosedRange<Double> { r.map { min($0.lowerBound, v)...max($0.upperBound, v) } ?? v...v }
        var n = 0
        for shape in ShapeKind.allCases {
            for color in ShapeColor.allCases {
                for size in 11...24 {
                    for (k, (ox, oy)) in offsets.enumerated() {
                        let o = ShapeObject(shape: shape, color: color, centerX: 30 + ox + Double(k), centerY: 33 + oy - Double(k), size: Double(size))
                        let image = renderer.render(ShapesScene(imageSize: 64, objects: [o]))
                        n += 1
                        let key = NoiseKey(seed: 17, purpose: .worldSampling, individual: n)
                        let variants: [(String, Tensor)] = [
                            ("clean", image.tensor()),
                            ("blur σ=1", Degrade.blur(image.tensor(), sigma: 1)),
                            ("blur σ=1.5", Degrade.blur(image.tensor(), sigma: 1.5)),
                            ("noise", Degrade.noise(image.tensor(), sigma: 0.06, key: key)),
                            ("blur+noise", Degrade.noise(Degrade.blur(image.tensor(), sigma: 1), sigma: 0.06, key: key)),
                        ]
                        for (name, t) in variants {
                            let found = try ObjectDetector().detect(tensor: t)
                            let label = "\(color) \(shape) size \(size) offset (\(ox), \(oy)) \(name)"
                            guard found.count == 1 else { Issue.record("\(label): found \(found.count) objects"); continue }
                            let d = found[0]
                            low[shape] = widen(low[shape], d.lowMass)
                            corner[shape] = widen(corner[shape], d.cornerMass)
                            #expect(d.shape == shape && d.color == color, "\(label): detected \(d.color) \(d.shape), low \(d.lowMass) corner \(d.cornerMass)")
                            #expect(abs(d.centerX - o.centerX) <= 1 && abs(d.centerY - o.centerY) <= 1,
                                    "\(label): centre (\(d.centerX), \(d.centerY)) for (\(o.centerX), \(o.centerY))")
                        }
                    }
                }
            }
        }
        let f = { (r: ClosedRange<Double>?) in r.map { String(format: "%.2f…%.2f", $0.lowerBound, $0.upperBound) } ?? "-" }
        print("shape measurements over sizes 11–24, 5 colours, 4 offsets, clean/blurred/noisy: "
              + ShapeKind.allCases.map { "\($0): lowMass \(f(low[$0])), cornerMass \(f(corner[$0]))" }.joined(separator: "; "))
    }

    @Test func featuresOfCleanShapes() throws {
        let scene = ShapesScene(imageSize: 64, objects: [
            ShapeObject(shape: .circle, color: .red, centerX: 16, centerY: 16, size: 20),
            ShapeObject(shape: .square, color: .blue, centerX: 48, centerY: 16, size: 16),
            ShapeObject(shape: .triangle, color: .yellow, centerX: 32, centerY: 46, size: 20),
        ])
        let found = try ObjectDetector().detect(ShapesRenderer().render(scene))
        #expect(found.count == 3)
        for d in found {
            // Ideal values: lowMass 1 for triangles, cornerMass 1 for squares, 0 otherwise.
            switch d.shape {
            case .circle:
                #expect(abs(d.fillRatio - Double.pi / 4) < 0.05, "circle fill \(d.fillRatio)")
                #expect(abs(d.lowMass) < 0.1 && abs(d.cornerMass) < 0.15, "circle low \(d.lowMass) corner \(d.cornerMass)")
                #expect(abs(d.mass - Double.pi * 100) < 3, "circle mass \(d.mass)")
            case .square:
                #expect(d.fillRatio > 0.95, "square fill \(d.fillRatio)")
                #expect(abs(d.lowMass) < 0.1 && abs(d.cornerMass - 1) < 0.1, "square low \(d.lowMass) corner \(d.cornerMass)")
                #expect(abs(d.mass - 256) < 3, "square mass \(d.mass)")
            case .triangle:
                #expect(abs(d.fillRatio - 0.5) < 0.08, "triangle fill \(d.fillRatio)")
                #expect(abs(d.lowMass - 1) < 0.1, "triangle low \(d.lowMass)")
                #expect(abs(d.centroidY - (46 + 20.0 / 6)) < 0.2, "a triangle's mass sits a sixth of its height low: \(d.centroidY)")
                #expect(abs(d.mass - 200) < 3, "triangle mass \(d.mass)")
            }
        }
    }

    /// Small specks, unknown colours and an empty canvas give no objects; the tensor and 8-bit paths agree.
    @Test func specksAndForeignColoursAreIgnored() throws {
        var image = ShapesRenderer().render(ShapesScene(imageSize: 64, objects: []))
        #expect(try ObjectDetector().detect(image).isEmpty)
        func paint(_ x0: Int, _ y0: Int, _ w: Int, _ h: Int, _ c: (UInt8, UInt8, UInt8)) {
            for y in y0..<(y0 + h) { for x in x0..<(x0 + w) { let o = (y * 64 + x) * 3; image.pixels[o] = c.0; image.pixels[o + 1] = c.1; image.pixels[o + 2] = c.2 } }
        }
        let red = ShapeColor.red.rgb
        paint(5, 5, 3, 3, (red.r, red.g, red.b))          // a 9-pixel red speck
        paint(40, 40, 12, 12, (250, 250, 250))             // a white square: no shapes-world colour
        paint(10, 40, 12, 12, (128, 128, 128))             // a gray square
        #expect(try ObjectDetector().detect(image).isEmpty)
        paint(20, 10, 12, 12, (red.r, red.g, red.b))
        let found = try ObjectDetector().detect(image)
        #expect(found.map(\.shape) == [.square] && found.map(\.color) == [.red])
        #expect(try ObjectDetector().detect(tensor: image.tensor()) == found)
    }

    /// A larger canvas scales areas and margins: a 128-px render of a scene is judged like the 64-px one.
    @Test func largerImagesScale() throws {
        for i in 0..<100 {
            var rng = PhiloxStream(NoiseKey(seed: 9, purpose: .worldSampling, individual: i))
            let (prompt, scene) = SceneSampler(imageSize: 128).randomExample(&rng)
            let verdict = try ShapesVerifier(prompt: prompt).verify(ShapesRenderer().render(scene))
            #expect(verdict.allSatisfied, "\(prompt.text): \(verdict)")
            #expect(verdict.detected.count == scene.objects.count)
        }
    }

    @Test func badImagesAreTypedErrors() {
        #expect(throws: ShapesImageError.notAnRGBImage(shape: [1, 64, 64])) { try ObjectDetector().detect(tensor: Tensor(zeros: [1, 64, 64])) }
        #expect(throws: ShapesImageError.tooSmall(width: 16, height: 16)) { try ObjectDetector().detect(tensor: Tensor(zeros: [3, 16, 16])) }
        #expect(ShapesImageError.tooSmall(width: 16, height: 16).description.contains("at least 32×32"))
    }

    // MARK: Constraints

    private func obj(_ s: ShapeKind, _ c: ShapeColor, _ x: Double, _ y: Double) -> ShapeObject {
        ShapeObject(shape: s, color: c, centerX: x, centerY: y, size: 12)
    }

    private func verdict(_ text: String, _ objects: [ShapeObject]) throws -> ShapesVerdict {
        let v = try ShapesVerifier(parsing: text)
        let truth = v.verify(objects: objects, imageWidth: 64)
        // The same objects rendered and detected give the same verdict.
        let detected = try v.verify(ShapesRenderer().render(ShapesScene(imageSize: 64, objects: objects)))
        #expect(detected.constraints == truth.constraints, "\(text): detected \(detected) vs truth \(truth)")
        return truth
    }

    @Test func countingIsExact() throws {
        let scene = [obj(.circle, .red, 10, 10), obj(.circle, .red, 30, 10), obj(.circle, .red, 50, 10), obj(.square, .blue, 10, 40)]
        let three = try verdict("three red circles", scene)
        #expect(three.allSatisfied && three.fraction == 1)
        #expect(three.description == "red circle present: yes; exactly 3 red circles: yes (found 3)")
        let two = try verdict("two red circles", scene)
        #expect(!two.allSatisfied && two.fraction == 0.5)
        #expect(two.constraints[1].description == "exactly 2 red circles: no (found 3)")
        #expect(try verdict("four red circles", scene).fraction == 0.5)
        #expect(try verdict("two blue circles", scene).fraction == 0)
        // Unnamed colour: every circle counts, whatever else is there.
        let withGreen = scene + [obj(.circle, .green, 50, 40)]
        #expect(try verdict("four circles", withGreen).allSatisfied)
        #expect(try verdict("three circles", withGreen).fraction == 0.5)
        #expect(try verdict("three red circles", withGreen).allSatisfied, "objects not asked for are ignored")
    }

    @Test func singleAndPairNeedDistinctObjects() throws {
        let scene = [obj(.circle, .red, 15, 15), obj(.square, .blue, 45, 45)]
        #expect(try verdict("a red circle", scene).description == "red circle present: yes")
        #expect(try verdict("a green circle", scene).description == "green circle present: no")
        #expect(try verdict("a red circle and a blue square", scene).allSatisfied)
        #expect(try verdict("a circle and a square", scene).allSatisfied)
        let half = try verdict("a red circle and a yellow triangle", scene)
        #expect(half.fraction == 0.5 && half.constraints.map(\.satisfied) == [true, false])
        #expect(try verdict("a yellow triangle and a red circle", scene).constraints.map(\.satisfied) == [false, true])
        // One red circle cannot be both "a circle" and "a red circle".
        let overlap = try verdict("a circle and a red circle", scene)
        #expect(overlap.fraction == 0.5)
        #expect(overlap.constraints[1].description == "red circle present besides the circle: no")
        #expect(try verdict("a circle and a red circle", scene + [obj(.circle, .green, 45, 15)]).allSatisfied)
        #expect(try verdict("a red circle and a circle", scene + [obj(.circle, .green, 45, 15)]).allSatisfied)
        #expect(try verdict("a red circle and a blue circle", scene + [obj(.circle, .green, 45, 15)]).fraction == 0.5)
    }

    @Test func relationsUseCentresAndTheMargin() throws {
        let scene = [obj(.circle, .red, 15, 30), obj(.square, .blue, 45, 34)]
        let left = try verdict("a red circle to the left of a blue square", scene)
        #expect(left.allSatisfied)
        #expect(left.description == "red circle present: yes; blue square present: yes; red circle to the left of blue square: yes")
        let right = try verdict("a red circle to the right of a blue square", scene)
        #expect(right.constraints.map(\.satisfied) == [true, true, false] && abs(right.fraction - 2.0 / 3) < 1e-12)
        #expect(try verdict("a blue square to the right of a red circle", scene).allSatisfied)
        // Vertical offset 4 px ≥ margin 3.2 px: above holds; 2 px would not.
        #expect(try verdict("a red circle above a blue square", scene).allSatisfied)
        #expect(try verdict("a blue square below a red circle", scene).allSatisfied)
        let close = [obj(.circle, .red, 15, 30), obj(.square, .blue, 45, 32)]
        #expect(try ShapesVerifier(parsing: "a red circle above a blue square").verify(objects: close, imageWidth: 64).fraction < 1)
        #expect(try verdict("a red circle above a green square", scene).constraints.map(\.satisfied) == [true, false, false])
        // The two ends of a relation are distinct objects.
        let lone = try verdict("a circle to the left of a red circle", [obj(.circle, .red, 15, 30)])
        #expect(lone.constraints.map(\.satisfied) == [true, true, false])
        #expect(try verdict("a circle to the left of a red circle", [obj(.circle, .red, 45, 30), obj(.circle, .green, 15, 30)]).allSatisfied)
        // Some pair suffices: a second red circle on the wrong side does not matter.
        #expect(try verdict("a red circle to the left of a blue square", scene + [obj(.circle, .red, 55, 10)]).allSatisfied)
    }

    @Test func promptsOutsideTheGrammarAreClearErrors() {
        do {
            _ = try ShapesVerifier(parsing: "a orange hexagon next to a red circle")
            Issue.record("built a verifier for a prompt outside the grammar")
        } catch let e as ShapesPromptError {
            #expect(e.unknownWords == ["orange", "hexagon", "next"])
            #expect(e.description.contains("unknown words: orange, hexagon, next"))
        } catch { Issue.record("unexpected error \(error)") }
        do {
            _ = try ShapesVerifier(parsing: "a red circle near a blue square")
            Issue.record("built a verifier for an unknown relation")
        } catch let e as ShapesPromptError {
            #expect(e.understood == ["object \"red circle\""] && e.unknownWords == ["near"])
        } catch { Issue.record("unexpected error \(error)") }
    }
}
