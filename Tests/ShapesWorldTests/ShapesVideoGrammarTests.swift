import RandomStreams
import ShapesWorld
import Testing

@Suite struct ShapesVideoGrammarTests {
    @Test func everyRandomVideoPromptParsesBackToItself() throws {
        let sampler = try ClipSampler()
        for task in ShapesVideoTask.allCases {
            for i in 0..<200 {
                var rng = PhiloxStream(NoiseKey(seed: 7, purpose: .worldSampling, individual: i))
                let p = sampler.randomPrompt(task, &rng)
                #expect(p.task == task, "\(p.text) is \(p.task), drawn as \(task)")
                #expect(try ShapesVideoPrompt(parsing: p.text) == p, "\(p.text)")
            }
        }
    }

    @Test func examplesOfEachForm() throws {
        let redCircle = ObjectPhrase(.red, .circle), blueSquare = ObjectPhrase(.blue, .square)
        #expect(try ShapesVideoPrompt(parsing: "a red circle moving right") == .single(redCircle, .motion(.right)))
        #expect(try ShapesVideoPrompt(parsing: "A blue square falling and a green triangle moving left.")
                == .pair(blueSquare, .down, ObjectPhrase(.green, .triangle), .left))
        #expect(try ShapesVideoPrompt(parsing: "a blue square falling and a green triangle moving left").text
                == "a blue square moving down and a green triangle moving left")
        #expect(try ShapesVideoPrompt(parsing: "three yellow circles rising") == .count(3, ObjectPhrase(.yellow, .circle), .up))
        #expect(try ShapesVideoPrompt(parsing: "a red circle to the left of a blue square, both moving down")
                == .relation(redCircle, .leftOf, blueSquare, .down))
        #expect(try ShapesVideoPrompt(parsing: "a red circle to the left of a blue square both moving down").text
                == "a red circle to the left of a blue square, both moving down")
        #expect(try ShapesVideoPrompt(parsing: "a red circle appearing") == .single(redCircle, .appearing))
        #expect(try ShapesVideoPrompt(parsing: "a blue square disappearing").task == .appearance)
        #expect(try ShapesVideoPrompt(parsing: "an circle staying still") == .single(ObjectPhrase(nil, .circle), .motion(.still)))
        #expect(try ShapesVideoPrompt(parsing: "a red circle moving left and a blue circle staying still").task == .colorBinding)
        #expect(try ShapesVideoPrompt(parsing: "a red circle moving left and a blue square staying still").task == .twoMotions)
        #expect(try ShapesVideoPrompt(parsing: "a red circle moving left and a red circle moving right").task == .colorBinding)
    }

    private func refusal(_ text: String) -> ShapesPromptError? {
        do { _ = try ShapesVideoPrompt(parsing: text); return nil } catch let e as ShapesPromptError { return e } catch { return nil }
    }

    @Test func promptsOutsideTheGrammarSayWhatWasUnderstood() throws {
        let spinning = try #require(refusal("a red circle spinning"))
        #expect(spinning.unknownWords == ["spinning"])
        #expect(spinning.understood == ["object \"red circle\""])
        #expect(spinning.description.contains("not in the shapes video grammar"))
        #expect(spinning.description.contains("\"three yellow circles moving up\""))
        // An image prompt has no motion.
        let still = try #require(refusal("a red circle"))
        #expect(still.problem.contains("what the object does") && still.unknownWords.isEmpty)
        #expect(try #require(refusal("a red circle appearing and a blue square moving left")).problem.contains("for one object alone"))
        #expect(try #require(refusal("three red circles appearing")).problem.contains("counting prompts take a motion"))
        #expect(try #require(refusal("a red circle above a blue square, both disappearing")).problem.contains("relations take a motion"))
        #expect(try #require(refusal("a red circle above a blue square moving down")).problem.contains("\"both\""))
        #expect(try #require(refusal("a red circle moving left and a red circle moving left")).problem.contains("two red circles moving left"))
        #expect(try #require(refusal("a red circle moving sideways")).unknownWords == ["sideways"])
        #expect(try #require(refusal("a red circle staying")).problem.contains("\"still\""))
        #expect(refusal("") != nil && refusal("five red circles moving up") != nil && refusal("a red circle moving left and") != nil)
        #expect(refusal("a red circle above a red circle, both moving up") != nil)
        // The image grammar's errors keep their own name and forms.
        do { _ = try ShapesPrompt(parsing: "a red circle moving left"); Issue.record("parsed a video prompt as an image prompt") }
        catch let e as ShapesPromptError {
            #expect(e.description.contains("not in the shapes grammar") && e.description.contains("\"three green circles\""))
        }
    }

    @Test func suiteParsesCanonicallyCoversEveryTaskAndSplitsAreDisjoint() {
        for split in [ShapesVideoPromptSuite.Split.heldout, .tuning] {
            let texts = ShapesVideoPromptSuite.texts(split)
            let parsed = ShapesVideoPromptSuite.prompts(split)
            #expect(parsed.count == texts.count, "every \(split) prompt parses")
            #expect(parsed.map(\.text) == texts, "\(split) prompts are stored in canonical form")
            #expect(Set(texts).count == texts.count)
            #expect(Set(parsed.map(\.task)) == Set(ShapesVideoTask.allCases))
            var relations = Set<SpatialRelation>(), motions = Set<ShapeMotion>(), actions = Set<VideoAction>()
            for p in parsed {
                for (_, a) in p.requestedObjects { actions.insert(a); if case .motion(let m) = a { motions.insert(m) } }
                if case .relation(_, let r, _, _) = p { relations.insert(r) }
            }
            #expect(relations == Set(SpatialRelation.allCases), "\(split) has every relation")
            #expect(motions == Set(ShapeMotion.allCases), "\(split) has every motion")
            #expect(actions.contains(.appearing) && actions.contains(.disappearing))
        }
        #expect(Set(ShapesVideoPromptSuite.heldout).isDisjoint(with: ShapesVideoPromptSuite.tuning))
    }

    /// The hard split is the selection `shapes hard-split --model shapes-wan-small` made from the candidate pool:
    /// every prompt parses to itself, comes from the pool (so from neither other split), and it holds several task
    /// types.
    @Test func videoHardSplitComesFromTheCandidatePool() throws {
        let hard = ShapesVideoPromptSuite.prompts(.hard)
        #expect(hard.map(\.text) == ShapesVideoPromptSuite.hard && hard.count >= 8)
        let pool = Set(try ShapesVideoPromptSuite.candidates(perTask: 24, seed: 21).map(\.text))
        #expect(Set(ShapesVideoPromptSuite.hard).isSubset(of: pool))
        #expect(Set(hard.map(\.task)).count >= 3)
    }

    /// The pool a video hard split is drawn from: the same for the same seed, other for another, distinct prompts
    /// outside both frozen splits, and every task type filled up to its count (appearance has only 30 prompts in
    /// all, 9 of them in the splits).
    @Test func videoCandidatePoolIsFixedDistinctAndOutsideTheSplits() throws {
        let pool = try ShapesVideoPromptSuite.candidates(perTask: 12, seed: 21)
        #expect(pool.map(\.text) == (try ShapesVideoPromptSuite.candidates(perTask: 12, seed: 21)).map(\.text))
        #expect(pool.map(\.text) != (try ShapesVideoPromptSuite.candidates(perTask: 12, seed: 22)).map(\.text))
        #expect(Set(pool.map(\.text)).count == pool.count)
        #expect(Set(pool.map(\.text)).isDisjoint(with: ShapesVideoPromptSuite.heldout + ShapesVideoPromptSuite.tuning))
        for task in ShapesVideoTask.allCases { #expect(pool.filter { $0.task == task }.count == 12, "\(task)") }
        let appearance = try ShapesVideoPromptSuite.candidates(perTask: 30, seed: 21).filter { $0.task == .appearance }
        #expect(appearance.count == 30 - 9)
    }
}
