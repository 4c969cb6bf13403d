import Imaging
import RandomStreams
import ShapesWorld
import TensorCore
import Testing

@Suite struct ShapesClipTests {
    @Test func frameCountsMustBeWanShaped() throws {
        for f in [5, 9, 13, 17, 81] { try ShapesClip.checkFrameCount(f) }
        for f in [0, 1, 2, 4, 16, 18] {
            #expect(throws: ShapesVideoError.frameCountNotWanShaped(f)) { try ShapesClip.checkFrameCount(f) }
        }
        #expect(ShapesVideoError.frameCountNotWanShaped(16).description.contains("use 13 or 17"))
        #expect(throws: ShapesVideoError.frameCountNotWanShaped(16)) { try ClipSampler(frameCount: 16) }
        #expect(throws: ShapesVideoError.canvasTooSmall(16)) { try ClipSampler(imageSize: 16) }
        #expect(ShapesVideoError.canvasTooSmall(16).description.contains("at least 32×32"))
    }

    /// Random clips satisfy their own prompt on the ground truth, keep objects inside and apart in every frame,
    /// move them by the sampler's travel, and depend only on the stream.
    @Test func clipsSatisfyTheirPromptsAndStayInside() throws {
        for frames in [5, 17] {
            let sampler = try ClipSampler(frameCount: frames)
            for i in 0..<300 {
                var rng = PhiloxStream(NoiseKey(seed: 11, purpose: .worldSampling, individual: i))
                let (prompt, clip) = sampler.randomExample(&rng)
                #expect(clip.frameCount == frames && clip.objects.count == prompt.requestedObjects.count)
                let truth = ShapesVideoVerifier(prompt: prompt).verify(clip: clip)
                #expect(truth.allSatisfied, "\(prompt.text): \(truth)")
                for f in 0..<frames {
                    let scene = clip.scene(atFrame: f)
                    for o in scene.objects {
                        let b = o.bounds
                        #expect(b.minX >= 0 && b.minY >= 0 && b.maxX <= 64 && b.maxY <= 64, "\(prompt.text) frame \(f) inside")
                    }
                }
                for o in clip.objects where o.velocityX != 0 || o.velocityY != 0 {
                    let travel = (o.velocityX * o.velocityX + o.velocityY * o.velocityY).squareRoot() * Double(frames - 1) / 64
                    #expect(travel >= ClipSampler.travelFraction.lowerBound - 1e-9 && travel <= ClipSampler.travelFraction.upperBound + 1e-9)
                }
            }
        }
        var a = PhiloxStream(NoiseKey(seed: 3, purpose: .worldSampling, individual: 5)), b = a
        let sampler = try ClipSampler()
        #expect(sampler.randomExample(&a).clip == sampler.randomExample(&b).clip)
    }

    @Test func renderedFramesAreTheScenesOfEachFrame() {
        let clip = ShapesClip(imageSize: 64, frameCount: 5, objects: [
            MovingShape(shape: .circle, color: .red, size: 16, startX: 12, startY: 30, velocityX: 5, visibleFrames: 0..<5),
            MovingShape(shape: .square, color: .blue, size: 14, startX: 50, startY: 50, visibleFrames: 2..<5),
        ])
        let frames = ShapesRenderer().render(clip)
        #expect(frames.count == 5)
        #expect(frames[0] == ShapesRenderer().render(ShapesScene(imageSize: 64, objects: [clip.objects[0].object(atFrame: 0)])))
        #expect(frames[4] == ShapesRenderer().render(ShapesScene(imageSize: 64, objects: [
            ShapeObject(shape: .circle, color: .red, centerX: 32, centerY: 30, size: 16),
            ShapeObject(shape: .square, color: .blue, centerX: 50, centerY: 50, size: 14)])))
        let t = ShapesRenderer().renderTensor(clip)
        #expect(t.shape == [5, 3, 64, 64])
        #expect(Image8(tensor: t.row(3)) == frames[3])
    }
}

@Suite struct ShapesVideoVerifierTests {
    private func moving(_ s: ShapeKind, _ c: ShapeColor, _ x: Double, _ y: Double, vx: Double = 0, vy: Double = 0,
                        visible: Range<Int> = 0..<17) -> MovingShape {
        MovingShape(shape: s, color: c, size: 14, startX: x, startY: y, velocityX: vx, velocityY: vy, visibleFrames: visible)
    }

    /// The verdict on the rendered and detected clip, which must equal the ground truth's, constraint by constraint.
    private func verdict(_ text: String, _ objects: [MovingShape], frames: Int = 17) throws -> ShapesVideoVerdict {
        let clip = ShapesClip(imageSize: 64, frameCount: frames, objects: objects)
        let v = try ShapesVideoVerifier(parsing: text)
        let truth = v.verify(clip: clip)
        let detected = try v.verify(video: ShapesRenderer().renderTensor(clip))
        #expect(detected.constraints.map(\.satisfied) == truth.constraints.map(\.satisfied),
                "\(text): detected \(detected) vs truth \(truth)")
        #expect(detected.tracks.count == objects.count, "\(text): \(detected.tracks.count) tracks")
        return detected
    }

    @Test func motionNeedsTravelAlongItsAxisAndLittleAcross() throws {
        let right = [moving(.circle, .red, 12, 30, vx: 1.5)]   // 24 px in 16 steps
        let v = try verdict("a red circle moving right", right)
        #expect(v.allSatisfied)
        #expect(v.description.hasPrefix("red circle present in every frame: yes (in 17 of 17); red circle moving right: yes (moved +2"))
        #expect(try verdict("a red circle moving left", right).constraints.map(\.satisfied) == [true, false])
        #expect(try verdict("a red circle staying still", right).fraction == 0.5)
        #expect(try verdict("a blue circle moving right", right).fraction == 0)
        // 8 px (< 15 % of 64) is not enough; 24 px with 8 px of vertical drift (> 8 %) is not "right" either.
        #expect(try verdict("a red circle moving right", [moving(.circle, .red, 12, 30, vx: 0.5)]).fraction == 0.5)
        #expect(try verdict("a red circle moving right", [moving(.circle, .red, 12, 20, vx: 1.5, vy: 0.5)]).fraction == 0.5)
        #expect(try verdict("a red circle staying still", [moving(.circle, .red, 30, 30)]).allSatisfied)
        #expect(try verdict("a yellow triangle moving up", [moving(.triangle, .yellow, 30, 50, vy: -1.5)]).allSatisfied)
        #expect(try verdict("a yellow triangle falling", [moving(.triangle, .yellow, 30, 10, vy: 1.5)]).allSatisfied)
    }

    @Test func presenceIsOneTrackInEveryFrame() throws {
        // Judged on tracks directly: a track missing frame 8 breaks temporal consistency, not the motion.
        let v = try ShapesVideoVerifier(parsing: "a red circle moving right")
        var centers = (0..<17).map { Optional(TrackPoint(x: 12 + 1.5 * Double($0), y: 30)) }
        centers[8] = nil
        let gap = v.verify(tracks: [ObjectTrack(shape: .circle, color: .red, centers: centers)], frameCount: 17, imageWidth: 64)
        #expect(gap.constraints.map(\.satisfied) == [false, true])
        #expect(gap.failed.map(\.description) == ["red circle present in every frame: no (in 16 of 17)"])
        // Two half tracks are not one object: neither is present throughout or spans the clip.
        let first = ObjectTrack(shape: .circle, color: .red, centers: (0..<17).map { $0 < 9 ? TrackPoint(x: 12, y: 30) : nil })
        let second = ObjectTrack(shape: .circle, color: .red, centers: (0..<17).map { $0 >= 9 ? TrackPoint(x: 40, y: 30) : nil })
        #expect(v.verify(tracks: [first, second], frameCount: 17, imageWidth: 64).fraction == 0)
        // The tracker keeps a track through a frame the object is missing from.
        var frames = try (0..<17).map { f in
            try ObjectDetector().detect(ShapesRenderer().render(ShapesScene(imageSize: 64, objects: [
                ShapeObject(shape: .circle, color: .red, centerX: 12 + 1.5 * Double(f), centerY: 30, size: 14)])))
        }
        frames[8] = []
        let tracked = ObjectTracker().tracks(frames, imageWidth: 64)
        #expect(tracked.count == 1 && tracked[0].presentFrames == 16)
        #expect(try v.verify(detections: frames, imageWidth: 64).constraints.map(\.satisfied) == [false, true])
    }

    @Test func colourBindsToMotion() throws {
        let clip = [moving(.circle, .red, 45, 15, vx: -1.5), moving(.circle, .blue, 15, 45, vx: 1.5)]
        #expect(try verdict("a red circle moving left and a blue circle moving right", clip).allSatisfied)
        let swapped = try verdict("a red circle moving right and a blue circle moving left", clip)
        #expect(swapped.constraints.map(\.satisfied) == [true, false, true, false])
        #expect(try verdict("a blue square moving right and a red circle moving left", clip).constraints.map(\.satisfied) == [false, false, true, true])
        // Unnamed colours: the two circles are distinct objects; one cannot serve both phrases.
        #expect(try verdict("a circle moving left and a circle moving right", clip).allSatisfied)
        let lone = try verdict("a circle moving left and a red circle moving left", [clip[0]])
        #expect(lone.fraction == 0.5 && lone.constraints[2].statement == "red circle present in every frame besides the circle")
        // Two circles of one colour crossing the canvas in opposite directions keep their identities.
        let sameColour = [moving(.circle, .red, 45, 15, vx: -1.5), moving(.circle, .red, 15, 45, vx: 1.5)]
        #expect(try verdict("a red circle moving left and a red circle moving right", sameColour).allSatisfied)
    }

    @Test func countsAreExactInEveryFrame() throws {
        let three = [moving(.circle, .yellow, 10, 50, vy: -1.5), moving(.circle, .yellow, 30, 50, vy: -1.5), moving(.circle, .yellow, 50, 50, vy: -1.5)]
        let v = try verdict("three yellow circles moving up", three)
        #expect(v.allSatisfied)
        #expect(v.constraints[1].description == "exactly 3 yellow circles in every frame: yes (found 3)")
        #expect(try verdict("two yellow circles moving up", three).constraints.map(\.satisfied) == [true, false, true])
        #expect(try verdict("three yellow circles moving down", three).constraints.map(\.satisfied) == [true, true, false])
        // One of three appears late: the count fails in the frames before.
        var late = three
        late[2].visibleFrames = 4..<17
        let partial = try verdict("three yellow circles moving up", late)
        #expect(partial.constraints.map(\.satisfied) == [true, false, false])
        #expect(partial.constraints[1].detail == "found 2…3")
        // Other shapes do not count.
        #expect(try verdict("three yellow circles moving up", three + [moving(.square, .yellow, 30, 8)]).allSatisfied)
    }

    @Test func relationsHoldOverTime() throws {
        let pair = [moving(.circle, .red, 15, 10, vy: 1.5), moving(.square, .blue, 45, 12, vy: 1.5)]
        let v = try verdict("a red circle to the left of a blue square, both moving down", pair)
        #expect(v.allSatisfied)
        #expect(v.constraints.last?.statement == "red circle to the left of blue square in at least 16 of 17 frames")
        #expect(try verdict("a red circle to the right of a blue square, both moving down", pair).constraints.map(\.satisfied)
                == [true, true, true, true, false])
        #expect(try verdict("a red circle to the left of a blue square, both moving up", pair).fraction == 0.6)
        // The circle passes the square: to its left in the first 7 frames only.
        let crossing = [moving(.circle, .red, 10, 15, vx: 2.5), moving(.square, .blue, 30, 45, vx: 0)]
        let t = ShapesVideoVerifier(prompt: try ShapesVideoPrompt(parsing: "a red circle to the left of a blue square, both staying still"))
            .verify(clip: ShapesClip(imageSize: 64, frameCount: 17, objects: crossing))
        #expect(!t.constraints[4].satisfied && t.constraints[4].detail.hasPrefix("held in"))
    }

    @Test func appearingAndDisappearing() throws {
        let appears = [moving(.circle, .red, 30, 30, visible: 6..<17)]
        let disappears = [moving(.square, .blue, 30, 30, visible: 0..<9)]
        let always = [moving(.circle, .red, 30, 30)]
        #expect(try verdict("a red circle appearing", appears).allSatisfied)
        #expect(try verdict("a red circle disappearing", appears).fraction == 0)
        #expect(try verdict("a red circle appearing", always).constraints.map(\.satisfied) == [true, false])
        #expect(try verdict("a red circle disappearing", always).constraints.map(\.satisfied) == [true, false])
        #expect(try verdict("a red circle appearing", []).fraction == 0)
        #expect(try verdict("a blue square disappearing", disappears).allSatisfied)
        #expect(try verdict("a blue square appearing", disappears).fraction == 0)
        #expect(try verdict("a red circle staying still", appears).constraints.map(\.satisfied) == [false, false])
        // A second red circle in the first frames spoils "absent before it appears".
        let spoiled = try verdict("a red circle appearing", appears + [moving(.circle, .red, 10, 10, visible: 0..<3)])
        #expect(spoiled.constraints.map(\.satisfied) == [true, false])
    }

    @Test func badVideosAreTypedErrors() throws {
        let v = try ShapesVideoVerifier(parsing: "a red circle moving right")
        #expect(throws: ShapesVideoError.notAVideo(shape: [3, 64, 64])) { try v.verify(video: Tensor(zeros: [3, 64, 64])) }
        #expect(throws: ShapesVideoError.tooFewFrames(1)) { try v.verify(video: Tensor(zeros: [1, 3, 64, 64])) }
        #expect(throws: ShapesVideoError.unreadableFrame(index: 0, .tooSmall(width: 16, height: 16))) {
            try v.verify(video: Tensor(zeros: [5, 3, 16, 16]))
        }
    }
}
