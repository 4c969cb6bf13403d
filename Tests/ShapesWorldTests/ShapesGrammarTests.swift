import RandomStreams
import ShapesWorld
import Testing

@Suite struct ShapesGrammarTests {
    @Test func everyRandomPromptParsesBackToItself() throws {
        let sampler = SceneSampler()
        for task in ShapesTask.allCases {
            for i in 0..<200 {
                var rng = PhiloxStream(NoiseKey(seed: 7, purpose: .worldSampling, individual: i))
                let p = sampler.randomPrompt(task, &rng)
                #expect(p.task == task, "\(p.text) is \(p.task), drawn as \(task)")
                #expect(try ShapesPrompt(parsing: p.text) == p, "\(p.text)")
            }
        }
    }

    @Test func examplesOfEachForm() throws {
        #expect(try ShapesPrompt(parsing: "a red circle") == .single(ObjectPhrase(.red, .circle)))
        #expect(try ShapesPrompt(parsing: "A circle and a triangle.") == .pair(ObjectPhrase(nil, .circle), ObjectPhrase(nil, .triangle)))
        #expect(try ShapesPrompt(parsing: "three green circles") == .count(3, ObjectPhrase(.green, .circle)))
        #expect(try ShapesPrompt(parsing: "a red circle to the left of a blue square")
                == .relation(ObjectPhrase(.red, .circle), .leftOf, ObjectPhrase(.blue, .square)))
        #expect(try ShapesPrompt(parsing: "a blue square and a yellow triangle").task == .colorAttribution)
        #expect(try ShapesPrompt(parsing: "a red circle and a blue circle").task == .colors)
        #expect(try ShapesPrompt(parsing: "a circle and a square").task == .twoObjects)
    }

    @Test func aHugePromptIsShortenedInItsError() {
        let words = (0..<2000).map { "w\($0)x" }.joined(separator: " ")
        do {
            _ = try ShapesPrompt(parsing: "a red circle " + words)
            Issue.record("parsed an unknown prompt")
        } catch let e as ShapesPromptError {
            #expect(e.unknownWords.count >= 2000)   // the error keeps every word; only its text is short
            #expect(e.description.count < 700, "\(e.description.count) characters")
            #expect(e.description.contains("characters)"))
            #expect(e.description.contains("in all)"))
        } catch { Issue.record("unexpected error \(error)") }
    }

    @Test func promptsOutsideTheGrammarSayWhatWasUnderstood() {
        do {
            _ = try ShapesPrompt(parsing: "a orange hexagon next to a red circle")
            Issue.record("parsed an unknown prompt")
        } catch let e as ShapesPromptError {
            #expect(e.unknownWords == ["orange", "hexagon", "next"])
            #expect(e.description.contains("colours: red, green, blue, yellow, purple"))
        } catch { Issue.record("unexpected error \(error)") }
        do {
            _ = try ShapesPrompt(parsing: "a red circle near a blue square")
            Issue.record("parsed an unknown relation")
        } catch let e as ShapesPromptError {
            #expect(e.understood == ["object \"red circle\""])
            #expect(e.unknownWords == ["near"])
        } catch { Issue.record("unexpected error \(error)") }
        #expect(throws: ShapesPromptError.self) { try ShapesPrompt(parsing: "") }
        #expect(throws: ShapesPromptError.self) { try ShapesPrompt(parsing: "a red circle and a red circle") }
        #expect(throws: ShapesPromptError.self) { try ShapesPrompt(parsing: "five red circles") }
        #expect(throws: ShapesPromptError.self) { try ShapesPrompt(parsing: "a red circle and") }
    }

    @Test func suiteParsesCoversEveryTaskAndSplitsAreDisjoint() {
        for split in [ShapesPromptSuite.Split.heldout, .tuning] {
            let texts = ShapesPromptSuite.texts(split)
            let parsed = ShapesPromptSuite.prompts(split)
            #expect(parsed.count == texts.count, "every \(split) prompt parses")
            #expect(Set(parsed.map(\.task)) == Set(ShapesTask.allCases))
            var relations = Set<SpatialRelation>()
            for p in parsed { if case .relation(_, let r, _) = p { relations.insert(r) } }
            #expect(relations == Set(SpatialRelation.allCases), "\(split) has every relation")
        }
        #expect(Set(ShapesPromptSuite.heldout).isDisjoint(with: ShapesPromptSuite.tuning))
    }

    /// The hard split is the selection `shapes hard-split` made from the candidate pool: every prompt parses, comes
    /// from the pool (so from neither other split), and the split holds several task types.
    @Test func hardSplitComesFromTheCandidatePool() {
        let hard = ShapesPromptSuite.prompts(.hard)
        #expect(hard.count == ShapesPromptSuite.hard.count && hard.count >= 8)
        let pool = Set(ShapesPromptSuite.candidates(perTask: 24, seed: 21).map(\.text))
        #expect(Set(ShapesPromptSuite.hard).isSubset(of: pool))
        #expect(Set(hard.map(\.task)).count >= 3)
        #expect(ShapesPromptSuite.hard.contains(ShapesPromptSuite.defaultSearchPrompt))
    }

    @Test func candidatePoolIsFixedDistinctAndOutsideTheSplits() {
        let pool = ShapesPromptSuite.candidates(perTask: 12, seed: 21)
        #expect(pool.map(\.text) == ShapesPromptSuite.candidates(perTask: 12, seed: 21).map(\.text))
        #expect(pool.map(\.text) != ShapesPromptSuite.candidates(perTask: 12, seed: 22).map(\.text))
        #expect(Set(pool.map(\.text)).count == pool.count)
        #expect(Set(pool.map(\.text)).isDisjoint(with: ShapesPromptSuite.heldout + ShapesPromptSuite.tuning))
        for task in [ShapesTask.counting, .colors, .position, .colorAttribution] {
            #expect(pool.filter { $0.task == task }.count == 12, "\(task)")
        }
        // Of the 15 single-object prompts 12 are in the splits; two_objects has six, all in them.
        #expect(pool.filter { $0.task == .singleObject }.count == 3)
        #expect(pool.filter { $0.task == .twoObjects }.isEmpty)
        for p in pool { #expect((try? ShapesPrompt(parsing: p.text))?.text == p.text) }
    }
}

@Suite struct ShapesRenderingTests {
    @Test func sameSeedSameImageDifferentSeedDifferentImage() {
        let sampler = SceneSampler(), renderer = ShapesRenderer()
        func image(_ seed: UInt64, _ i: Int) -> [UInt8] {
            var rng = PhiloxStream(NoiseKey(seed: seed, purpose: .worldSampling, individual: i))
            return renderer.render(sampler.randomExample(&rng).scene).pixels
        }
        #expect(image(3, 5) == image(3, 5))
        #expect(image(3, 5) != image(4, 5))
        #expect(image(3, 5) != image(3, 6))
    }

    @Test func scenesSatisfyTheirPrompts() {
        let sampler = SceneSampler()
        for i in 0..<600 {
            var rng = PhiloxStream(NoiseKey(seed: 11, purpose: .worldSampling, individual: i))
            let (prompt, scene) = sampler.randomExample(&rng)
            let wanted = prompt.requestedObjects
            #expect(scene.objects.count == wanted.count)
            for (o, p) in zip(scene.objects, wanted) { #expect(p.matches(o.shape, o.color), "\(prompt.text)") }
            for o in scene.objects {
                let b = o.bounds
                #expect(b.minX >= 0 && b.minY >= 0 && b.maxX <= 64 && b.maxY <= 64, "\(prompt.text) inside the canvas")
            }
            if case .relation(_, let r, _) = prompt {
                let a = scene.objects[0], b = scene.objects[1]
                #expect(r.holds((a.centerX, a.centerY), (b.centerX, b.centerY), margin: SpatialRelation.margin(imageSize: 64)))
            }
        }
    }

    @Test func pixelsHaveTheObjectColourInsideAndBackgroundOutside() {
        let scene = ShapesScene(imageSize: 64, objects: [
            ShapeObject(shape: .circle, color: .red, centerX: 16, centerY: 16, size: 20),
            ShapeObject(shape: .square, color: .blue, centerX: 48, centerY: 16, size: 16),
            ShapeObject(shape: .triangle, color: .yellow, centerX: 32, centerY: 46, size: 20),
        ])
        let img = ShapesRenderer().render(scene)
        func px(_ x: Int, _ y: Int) -> [UInt8] { Array(img.pixels[(y * 64 + x) * 3 ..< (y * 64 + x) * 3 + 3]) }
        let red = ShapeColor.red.rgb, blue = ShapeColor.blue.rgb, yellow = ShapeColor.yellow.rgb, bg = shapesBackground
        #expect(px(16, 16) == [red.r, red.g, red.b])
        #expect(px(48, 16) == [blue.r, blue.g, blue.b])
        #expect(px(32, 50) == [yellow.r, yellow.g, yellow.b])
        #expect(px(0, 63) == [bg.r, bg.g, bg.b])
        // A circle's bounding-box corner is outside it; a square's is inside.
        #expect(px(7, 7) == [bg.r, bg.g, bg.b])
        #expect(px(41, 9) == [blue.r, blue.g, blue.b])
        // The triangle's top corners are background, its base corners are filled.
        #expect(px(23, 37) == [bg.r, bg.g, bg.b])
        #expect(px(23, 55) == [yellow.r, yellow.g, yellow.b])
        // Edges are anti-aliased: some pixel on the circle's rim is a mix.
        let rim = px(8, 9)
        #expect(rim != [red.r, red.g, red.b] && rim != [bg.r, bg.g, bg.b])
    }
}
