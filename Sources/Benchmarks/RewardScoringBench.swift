import Catalog
import Foundation
import ModelIO
import Rewards
import TensorCore

/// What `benchCLIPScoring` measured: images scored per second by our `clip` reward and by transformers on PyTorch
/// CPU, on the same model, images and prompt, in one run.
public struct CLIPScoringBenchResult: Sendable {
    public var images: Int
    public var size: Int
    /// Median images/s of ours (a whole population scored per run: 8-bit rounding, preprocessing, vision tower,
    /// cosine with the prompt embedding).
    public var oursImagesPerSecond: Double
    /// Median images/s of transformers on PyTorch CPU (PIL conversion, AutoProcessor, get_image_features, cosine);
    /// nil when the PyTorch side could not run.
    public var torchImagesPerSecond: Double?
    /// The image processor backend transformers picked ("torchvision" or "pil").
    public var torchBackend: String?
    /// Largest |ours − PyTorch| over the population's scores (cosines).
    public var maxScoreDifference: Float?
    /// Why there is no PyTorch figure, if there is none.
    public var torchProblem: String?

    /// One line for a report: "CLIP scoring (ViT-B/32, 32 × 224 px): ours 41.2 img/s, PyTorch 30.5 img/s (torchvision
    /// processor), ratio 1.35×, max |Δscore| 2.1e-07".
    public var summary: String {
        var s = "CLIP scoring (ViT-B/32, \(images) × \(size) px): ours \(String(format: "%.1f", oursImagesPerSecond)) img/s"
        if let t = torchImagesPerSecond {
            s += ", PyTorch \(String(format: "%.1f", t)) img/s (\(torchBackend ?? "?") processor), ours/PyTorch speed "
                + String(format: "%.2f×", oursImagesPerSecond / t)
        } else {
            s += ", no PyTorch figure (\(torchProblem ?? "unavailable"))"
        }
        if let d = maxScoreDifference { s += ", max |Δscore| \(String(format: "%.1e", d))" }
        return s
    }
}

/// Scores a population of `images` decoded images at 224 px with a ViT-B/32-shaped CLIP model with random weights
/// (the `clip` reward: cosine of image and prompt embeddings), ours and transformers on PyTorch CPU, in the same
/// run. `tools/bench/torch_clip.py --serve` (run with `python` from the repository root) builds the model and the
/// images once in `cacheDir`, reports its scores, and times its side on request; timing alternates between
/// PyTorch and us in blocks of one run for `rounds` rounds after a warm-up of each, so background load hits both
/// alike. Images/s = images / median seconds per population. Our side uses every core (OpenBLAS and `Parallel`);
/// PyTorch gets `threads`. Throws if the model cannot be built (the Python side is needed for that) and no
/// earlier run left it in `cacheDir`; without PyTorch but with a cached model, times ours only.
public func benchCLIPScoring(python: String = "python3", script: String = "tools/bench/torch_clip.py",
                      cacheDir: String = ".bench-cache", images: Int = 32, rounds: Int = 5,
                      threads: Int = ProcessInfo.processInfo.activeProcessorCount) throws -> CLIPScoringBenchResult {
    guard images >= 1 && rounds >= 1 else { throw JSONLineChild.Failure("CLIP scoring bench: images and rounds must be at least 1") }
    let size = 224
    var torch: JSONLineChild?
    var torchProblem: String?
    var ready: JSONValue?
    do {
        let t = try JSONLineChild(executable: python, arguments: [script, 
            "--serve", "--cache-dir", cacheDir, "--images", "\(images)", "--size", "\(size)", "--threads", "\(threads)"])
        ready = try t.read(expecting: "ready")
        torch = t
    } catch {
        torchProblem = "\(error)"
    }
    defer { torch?.stop() }

    let modelDir = ready?["model_dir"]?.stringValue ?? URL(fileURLWithPath: cacheDir).appendingPathComponent("clip-vit-b32").path
    let imagesFile = ready?["images_file"]?.stringValue
        ?? URL(fileURLWithPath: cacheDir).appendingPathComponent("clip-bench-images-\(images)x\(size).safetensors").path
    let prompt = ready?["prompt"]?.stringValue ?? "a photo of a red fox in the snow, highly detailed"
    guard FileManager.default.fileExists(atPath: modelDir), FileManager.default.fileExists(atPath: imagesFile) else {
        throw JSONLineChild.Failure("CLIP scoring bench: no model in \(modelDir) (tools/bench/torch_clip.py builds it: \(torchProblem ?? "?"))")
    }
    let reward: any Reward
    do {
        reward = try Catalog.rewards.make("clip", models: RewardModels(shared: URL(fileURLWithPath: modelDir)), prompt: prompt)
    } catch { throw JSONLineChild.Failure("CLIP scoring bench: \(error)") }
    let population = try SafetensorsFile(url: URL(fileURLWithPath: imagesFile)).tensor(named: "images")

    let ours = try reward.scores(population)   // warm-up (and the scores for the parity check)
    var maxDiff: Float?
    if let theirs = ready?["scores"]?.arrayValue?.compactMap(\.doubleValue), theirs.count == ours.count {
        maxDiff = zip(ours, theirs).map { abs($0 - Float($1)) }.max()
    }
    var ourTimes: [Double] = [], torchTimes: [Double] = []
    for _ in 0..<rounds {
        if let t = torch {
            do {
                try t.send(["cmd": "time", "runs": 1])
                torchTimes += try t.read(expecting: "times")["seconds"]?.arrayValue?.compactMap(\.doubleValue) ?? []
            } catch {
                torchProblem = "PyTorch side stopped: \(error)"
                torch?.stop(); torch = nil
            }
        }
        let start = Clock.wallSeconds()
        _ = try reward.scores(population)
        ourTimes.append(Clock.wallSeconds() - start)
    }
    return CLIPScoringBenchResult(
        images: images, size: size, oursImagesPerSecond: Double(images) / Statistics.median(ourTimes),
        torchImagesPerSecond: torchTimes.isEmpty ? nil : Double(images) / Statistics.median(torchTimes),
        torchBackend: ready?["backend"]?.stringValue, maxScoreDifference: maxDiff,
        torchProblem: torchTimes.isEmpty ? (torchProblem ?? "no timings") : nil)
}

// MARK: - ImageReward and aesthetic-v2.5 scoring

/// Scoring a population with `imagereward` or `aesthetic-v2.5`, ours against the Python package on PyTorch CPU in the
/// same run: `tools/bench/torch_rewards.py --serve --reward NAME` builds the random-weight model (ViT-B-sized: BLIP
/// ViT-B/16 + BERT-base for ImageReward, SigLIP base-patch16-224 for the aesthetic predictor — the published models are
/// larger, see the script) and the images once in the cache directory, reports its scores and times its side on
/// request. Rounds alternate PyTorch and us (one population each) after a warm-up of each, as `benchCLIPScoring` does;
/// images/s = images / median seconds per population.
public struct RewardScoringBench: Sendable {
    public var name: String
    public var model: String
    public static let all = [
        RewardScoringBench(name: "imagereward", model: "BLIP ViT-B/16 + BERT-base, random"),
        RewardScoringBench(name: "aesthetic-v2.5", model: "SigLIP base-patch16-224 + head, random"),
    ]

    public struct Result: Sendable {
        public var name: String, model: String, images: Int, size: Int
        public var ours: Double
        /// Images/s of the package's own API (ImageReward: `inference_rank`, one forward per image).
        public var torch: Double?
        /// ImageReward only: the package's modules run on the whole population at once.
        public var torchBatched: Double?
        public var maxScoreDifference: Float?
        public var problem: String?

        public var summary: String {
            let f = { (x: Double) in String(format: "%.2f", x) }
            var s = "\(name) scoring (\(model), \(images) × \(size) px): ours \(f(ours)) img/s"
            if let t = torch {
                s += ", PyTorch \(f(t)) img/s (\(name == "imagereward" ? "inference_rank" : "package model + processor")), ours/PyTorch speed \(f(ours / t))×"
                if let b = torchBatched { s += "; PyTorch batched \(f(b)) img/s, ours/batched \(f(ours / b))×" }
            } else {
                s += ", no PyTorch figure (\(problem ?? "unavailable"))"
            }
            if let d = maxScoreDifference { s += ", max |Δscore| \(String(format: "%.1e", d))" }
            return s
        }
    }

    public func run(python: String, script: String = "tools/bench/torch_rewards.py", cacheDir: String, images: Int,
             rounds: Int = 3, threads: Int) throws -> Result {
        guard images >= 2 && rounds >= 1 else { throw JSONLineChild.Failure("\(name) scoring bench: at least 2 images and 1 round") }
        let size = 224
        var torch: JSONLineChild?
        var problem: String?
        var ready: JSONValue?
        do {
            let t = try JSONLineChild(executable: python, arguments: [script, 
                "--serve", "--reward", name, "--cache-dir", cacheDir, "--images", "\(images)", "--size", "\(size)",
                "--threads", "\(threads)"])
            ready = try t.read(expecting: "ready")
            torch = t
        } catch {
            problem = "\(error)"
        }
        defer { torch?.stop() }
        let modelDir = ready?["model_dir"]?.stringValue ?? URL(fileURLWithPath: cacheDir).appendingPathComponent("\(name)-bench").path
        let imagesFile = ready?["images_file"]?.stringValue
            ?? URL(fileURLWithPath: cacheDir).appendingPathComponent("reward-bench-images-\(images)x\(size).safetensors").path
        let prompt = ready?["prompt"]?.stringValue ?? "a photo of a red fox in the snow, highly detailed"
        guard FileManager.default.fileExists(atPath: modelDir), FileManager.default.fileExists(atPath: imagesFile) else {
            throw JSONLineChild.Failure("no model in \(modelDir) (tools/bench/torch_rewards.py builds it: \(problem ?? "?"))")
        }
        let reward: any Reward
        do {
            reward = try Catalog.rewards.make(name, models: RewardModels(shared: URL(fileURLWithPath: modelDir)), prompt: prompt)
        } catch { throw JSONLineChild.Failure("\(error)") }
        let population = try SafetensorsFile(url: URL(fileURLWithPath: imagesFile)).tensor(named: "images")
        let ours = try reward.scores(population)  // warm-up and parity
        var maxDiff: Float?
        if let theirs = ready?["scores"]?.arrayValue?.compactMap(\.doubleValue), theirs.count == ours.count {
            maxDiff = zip(ours, theirs).map { abs($0 - Float($1)) }.max()
        }
        var ourTimes: [Double] = [], torchTimes: [Double] = [], batchedTimes: [Double] = []
        for _ in 0..<rounds {
            if let t = torch {
                do {
                    try t.send(["cmd": "time", "runs": 1])
                    let reply = try t.read(expecting: "times")
                    torchTimes += reply["seconds"]?.arrayValue?.compactMap(\.doubleValue) ?? []
                    batchedTimes += reply["batched_seconds"]?.arrayValue?.compactMap(\.doubleValue) ?? []
                } catch {
                    problem = "PyTorch side stopped: \(error)"
                    torch?.stop(); torch = nil
                }
                Thread.sleep(forTimeInterval: 0.15)  // let PyTorch's worker threads go idle
            }
            let start = Clock.wallSeconds()
            _ = try reward.scores(population)
            ourTimes.append(Clock.wallSeconds() - start)
        }
        let rate = { (t: [Double]) -> Double? in t.isEmpty ? nil : Double(images) / Statistics.median(t) }
        return Result(name: name, model: model, images: images, size: size, ours: rate(ourTimes)!, torch: rate(torchTimes),
                      torchBatched: rate(batchedTimes), maxScoreDifference: maxDiff,
                      problem: torchTimes.isEmpty ? (problem ?? "no timings") : nil)
    }
}
