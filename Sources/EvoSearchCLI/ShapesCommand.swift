import ArgumentParser
import Foundation
import Imaging
import RandomStreams
import Reports
import ShapesWorld
import TensorCore

struct Shapes: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "The procedural shapes world: render training data and list the prompt suite.",
        subcommands: [ShapesRender.self, ShapesPrompts.self, ShapesEval.self, ShapesHardSplit.self])
}

struct ShapesRender: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "render",
        abstract: "Render random scenes or clips with their captions (training data for the shapes models).",
        discussion: """
        Each example draws a task type uniformly (single_object, two_objects, counting, colors, position, \
        color_attr), a prompt of that type and a scene that satisfies it. Writes OUT/images/NNNNNN.png and \
        OUT/captions.jsonl (one line per image: file, caption, task, objects with shape, colour, centre and size). \
        Example i depends only on (seed, i), so --count 1000 gives the first 1000 images of --count 50000.

        With --video, examples are clips of the moving-shapes world (task types single_motion, two_motions, \
        counting, color_binding, spatial_relation, appearance): OUT/clips/NNNNNN/frame-0000.png … one PNG per frame \
        (--frames of them, 1 + 4·k), and OUT/captions.jsonl with one line per clip: clip (its directory), frames, \
        caption, task, objects with shape, colour, size, start centre (x, y), velocity in pixels per frame (vx, vy) \
        and the frames it is visible in (visible_from, visible_until — the last one, inclusive).
        """)

    @Option(name: .long, help: "Number of images.")
    var count: Int
    @Option(name: .long, help: "Seed of the scene stream.")
    var seed: UInt64 = 0
    @Option(name: .long, help: "Output directory.")
    var out: String
    @Option(name: .long, help: "Image size in pixels (square).")
    var size: Int = 64
    @Flag(name: .long, help: "Render clips of the moving-shapes world instead of images.")
    var video = false
    @Option(name: .long, help: "Frames per clip with --video: 1 + 4·k (5, 9, 13, 17, …).")
    var frames: Int?

    func run() throws {
        if count < 1 { throw CLIError("--count: \(count) must be at least 1") }
        if size < 32 || size > 1024 { throw CLIError("--size: \(size) must be in 32…1024") }
        if video { return try renderClips() }
        if frames != nil { throw CLIError("--frames: only with --video (images have no frames)") }
        try checkWritable(out + "/captions.jsonl", option: "--out")
        try checkWritable(out + "/images/x.png", option: "--out")
        let sampler = SceneSampler(imageSize: size)
        let renderer = ShapesRenderer()
        let lines = IndexedLines(count: count)
        let failures = IndexedLines(count: 1)
        let seed = self.seed, out = self.out
        Parallel.forRanges(count, costPerItem: 1 << 20) { range in
            for i in range {
                var rng = PhiloxStream(NoiseKey(seed: seed, purpose: .worldSampling, individual: i))
                let (prompt, scene) = sampler.randomExample(&rng)
                let file = String(format: "images/%06d.png", i)
                do { try PNG.write(renderer.render(scene), to: out + "/" + file) } catch {
                    failures.set(0, "\(error)"); return
                }
                let objects = scene.objects.map { o -> [String: Any] in
                    ["shape": o.shape.rawValue, "color": o.color.rawValue, "x": o.centerX, "y": o.centerY, "size": o.size]
                }
                let record: [String: Any] = ["file": file, "caption": prompt.text, "task": prompt.task.rawValue, "objects": objects]
                if let data = try? JSONSerialization.data(withJSONObject: record, options: [.sortedKeys]) {
                    lines.set(i, String(decoding: data, as: UTF8.self))
                }
            }
        }
        if let failure = failures.values[0] { throw CLIError(failure) }
        try write(Data((lines.values.map { $0 ?? "" }.joined(separator: "\n") + "\n").utf8), to: out + "/captions.jsonl")
        print("wrote \(count) images and captions.jsonl to \(out)")
    }

    /// `--video`: clips as frame directories plus captions.jsonl.
    func renderClips() throws {
        let frameCount = frames ?? ShapesClip.defaultFrameCount
        let sampler: ClipSampler
        do { sampler = try ClipSampler(imageSize: size, frameCount: frameCount) } catch {
            throw CLIError("--frames: \(error)")
        }
        try checkWritable(out + "/captions.jsonl", option: "--out")
        try checkWritable(out + "/clips/000000/" + FrameSequence.name(0), option: "--out")
        let renderer = ShapesRenderer()
        let lines = IndexedLines(count: count)
        let failures = IndexedLines(count: 1)
        let seed = self.seed, out = self.out
        Parallel.forRanges(count, costPerItem: frameCount << 20) { range in
            for i in range {
                var rng = PhiloxStream(NoiseKey(seed: seed, purpose: .worldSampling, generation: 1, individual: i))
                let (prompt, clip) = sampler.randomExample(&rng)
                let directory = String(format: "clips/%06d", i)
                do { try FrameSequence.write(renderer.renderTensor(clip), to: URL(fileURLWithPath: out + "/" + directory)) } catch {
                    failures.set(0, "\(error)"); return
                }
                let objects = clip.objects.map { o -> [String: Any] in
                    ["shape": o.shape.rawValue, "color": o.color.rawValue, "size": o.size, "x": o.startX, "y": o.startY,
                     "vx": o.velocityX, "vy": o.velocityY, "visible_from": o.visibleFrames.lowerBound,
                     "visible_until": o.visibleFrames.upperBound - 1]
                }
                let record: [String: Any] = ["clip": directory, "frames": frameCount, "caption": prompt.text,
                                             "task": prompt.task.rawValue, "objects": objects]
                if let data = try? JSONSerialization.data(withJSONObject: record, options: [.sortedKeys, .withoutEscapingSlashes]) {
                    lines.set(i, String(decoding: data, as: UTF8.self))
                }
            }
        }
        if let failure = failures.values[0] { throw CLIError(failure) }
        try write(Data((lines.values.map { $0 ?? "" }.joined(separator: "\n") + "\n").utf8), to: out + "/captions.jsonl")
        print("wrote \(count) clips of \(frameCount) frames and captions.jsonl to \(out)")
    }
}

/// Per-index results written from parallel workers.
final class IndexedLines: @unchecked Sendable {
    private let lock = NSLock()
    private(set) var values: [String?]
    init(count: Int) { values = Array(repeating: nil, count: count) }
    func set(_ i: Int, _ v: String) { lock.lock(); values[i] = v; lock.unlock() }
}

struct ShapesPrompts: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "prompts",
        abstract: "Print the fixed prompt suite (task type, tab, prompt).")

    @Option(name: .long, help: "Which split: heldout, tuning or hard.")
    var split: String = "heldout"
    @Flag(name: .long, help: "The moving-shapes world's video prompts (ShapesVideoPromptSuite).")
    var video = false

    func run() throws {
        if video {
            guard let s = ShapesVideoPromptSuite.Split(rawValue: split) else {
                throw CLIError("--split: \(split) is not a video split; use heldout, tuning or hard")
            }
            for p in ShapesVideoPromptSuite.prompts(s) { print("\(p.task.rawValue)\t\(p.text)") }
            return
        }
        guard let s = ShapesPromptSuite.Split(rawValue: split) else {
            throw CLIError("--split: \(split) is not a split; use heldout, tuning or hard")
        }
        for p in ShapesPromptSuite.prompts(s) { print("\(p.task.rawValue)\t\(p.text)") }
    }
}
