import ArgumentParser
import Foundation
import Imaging
import RandomStreams
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
        abstract: "Render random scenes with their captions (training data for the shapes models).",
        discussion: """
        Each example draws a task type uniformly (single_object, two_objects, counting, colors, position, \
        color_attr), a prompt of that type and a scene that satisfies it. Writes OUT/images/NNNNNN.png and \
        OUT/captions.jsonl (one line per image: file, caption, task, objects with shape, colour, centre and size). \
        Example i depends only on (seed, i), so --count 1000 gives the first 1000 images of --count 50000.
        """)

    @Option(name: .long, help: "Number of images.")
    var count: Int
    @Option(name: .long, help: "Seed of the scene stream.")
    var seed: UInt64 = 0
    @Option(name: .long, help: "Output directory.")
    var out: String
    @Option(name: .long, help: "Image size in pixels (square).")
    var size: Int = 64

    func run() throws {
        if count < 1 { throw CLIError("--count: \(count) must be at least 1") }
        if size < 32 || size > 1024 { throw CLIError("--size: \(size) must be in 32…1024") }
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

    func run() throws {
        guard let s = ShapesPromptSuite.Split(rawValue: split) else {
            throw CLIError("--split: \(split) is not a split; use heldout, tuning or hard")
        }
        for p in ShapesPromptSuite.prompts(s) { print("\(p.task.rawValue)\t\(p.text)") }
    }
}
