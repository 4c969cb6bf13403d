import Catalog
import Foundation
import ModelIO
import Rewards
import TensorCore

/// What `benchCLIPScoring` measured: images scored per second by our `clip` reward and by transformers on PyTorch
/// CPU, on the same model, images and prompt, in one run.
struct CLIPScoringBenchResult: Sendable {
    var images: Int
    var size: Int
    /// Median images/s of ours (a whole population scored per run: 8-bit rounding, preprocessing, vision tower,
    /// cosine with the prompt embedding).
    var oursImagesPerSecond: Double
    /// Median images/s of transformers on PyTorch CPU (PIL conversion, AutoProcessor, get_image_features, cosine);
    /// nil when the PyTorch side could not run.
    var torchImagesPerSecond: Double?
    /// The image processor backend transformers picked ("torchvision" or "pil").
    var torchBackend: String?
    /// Largest |ours − PyTorch| over the population's scores (cosines).
    var maxScoreDifference: Float?
    /// Why there is no PyTorch figure, if there is none.
    var torchProblem: String?

    /// One line for a report: "CLIP scoring (ViT-B/32, 32 × 224 px): ours 41.2 img/s, PyTorch 30.5 img/s (torchvision
    /// processor), ratio 1.35×, max |Δscore| 2.1e-07".
    var summary: String {
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
func benchCLIPScoring(python: String = "python3", script: String = "tools/bench/torch_clip.py",
                      cacheDir: String = ".bench-cache", images: Int = 32, rounds: Int = 5,
                      threads: Int = ProcessInfo.processInfo.activeProcessorCount) throws -> CLIPScoringBenchResult {
    precondition(images >= 1 && rounds >= 1, "benchCLIPScoring: images and rounds must be at least 1")
    let size = 224
    var torch: TorchCLIPServer?
    var torchProblem: String?
    var ready: [String: Any]?
    do {
        let t = try TorchCLIPServer(python: python, script: script, arguments: [
            "--serve", "--cache-dir", cacheDir, "--images", "\(images)", "--size", "\(size)", "--threads", "\(threads)"])
        ready = try t.readMessage(expecting: "ready")
        torch = t
    } catch {
        torchProblem = "\(error)"
    }
    defer { torch?.stop() }

    let modelDir = ready?["model_dir"] as? String ?? URL(fileURLWithPath: cacheDir).appendingPathComponent("clip-vit-b32").path
    let imagesFile = ready?["images_file"] as? String
        ?? URL(fileURLWithPath: cacheDir).appendingPathComponent("clip-bench-images-\(images)x\(size).safetensors").path
    let prompt = ready?["prompt"] as? String ?? "a photo of a red fox in the snow, highly detailed"
    guard FileManager.default.fileExists(atPath: modelDir), FileManager.default.fileExists(atPath: imagesFile) else {
        throw CLIError("CLIP scoring bench: no model in \(modelDir) (tools/bench/torch_clip.py builds it: \(torchProblem ?? "?"))")
    }
    let reward: any Reward
    do {
        reward = try Catalog.rewards.make("clip", models: RewardModels(shared: URL(fileURLWithPath: modelDir)), prompt: prompt)
    } catch { throw CLIError("CLIP scoring bench: \(error)") }
    let population = try SafetensorsFile(url: URL(fileURLWithPath: imagesFile)).tensor(named: "images")

    let ours = try reward.scores(population)   // warm-up (and the scores for the parity check)
    var maxDiff: Float?
    if let theirs = ready?["scores"] as? [Double], theirs.count == ours.count {
        maxDiff = zip(ours, theirs).map { abs($0 - Float($1)) }.max()
    }
    var ourTimes: [Double] = [], torchTimes: [Double] = []
    for _ in 0..<rounds {
        if let t = torch {
            do {
                try t.send(["cmd": "time", "runs": 1])
                torchTimes += (try t.readMessage(expecting: "times")["seconds"] as? [Double]) ?? []
            } catch {
                torchProblem = "PyTorch side stopped: \(error)"
                torch?.stop(); torch = nil
            }
        }
        let start = DispatchTime.now().uptimeNanoseconds
        _ = try reward.scores(population)
        ourTimes.append(Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9)
    }
    func median(_ v: [Double]) -> Double { let s = v.sorted(); return s.count % 2 == 1 ? s[s.count / 2] : (s[s.count / 2 - 1] + s[s.count / 2]) / 2 }
    return CLIPScoringBenchResult(
        images: images, size: size, oursImagesPerSecond: Double(images) / median(ourTimes),
        torchImagesPerSecond: torchTimes.isEmpty ? nil : Double(images) / median(torchTimes),
        torchBackend: ready?["backend"] as? String, maxScoreDifference: maxDiff,
        torchProblem: torchTimes.isEmpty ? (torchProblem ?? "no timings") : nil)
}

/// The `tools/bench/torch_clip.py --serve` child: JSON lines in both directions.
final class TorchCLIPServer {
    let process = Process()
    let input = Pipe(), output = Pipe()
    private var buffer = Data()
    /// The child's stderr lines, so that a failure can say what went wrong.
    private let stderrLines = LockedList()

    struct Failure: Error, CustomStringConvertible { var description: String }

    init(python: String, script: String, arguments: [String]) throws {
        guard FileManager.default.fileExists(atPath: script) else { throw Failure(description: "no \(script) (run from the repository root)") }
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = [python, script] + arguments
        process.standardInput = input
        process.standardOutput = output
        collectStderr(of: process, into: stderrLines)
        do { try process.run() } catch { throw Failure(description: "cannot start \(python): \(error.localizedDescription)") }
    }

    func send(_ message: [String: Any]) throws {
        var data = try JSONSerialization.data(withJSONObject: message)
        data.append(0x0A)
        input.fileHandleForWriting.write(data)
    }

    /// The next JSON line, which must have `"type": type`.
    func readMessage(expecting type: String) throws -> [String: Any] {
        while true {
            if let nl = buffer.firstIndex(of: 0x0A) {
                let line = buffer[buffer.startIndex..<nl]
                buffer.removeSubrange(buffer.startIndex...nl)
                guard let object = try? readJSONObject(line) else { continue }
                if object["type"] as? String == type { return object }
                throw Failure(description: "PyTorch side: \(object["message"] as? String ?? "unexpected \(object["type"] ?? "reply")")")
            }
            let chunk = output.fileHandleForReading.availableData
            if chunk.isEmpty {
                process.waitUntilExit()
                Thread.sleep(forTimeInterval: 0.1)   // the stderr handler's last lines (as TorchServer.start)
                // The last stderr line, e.g. "ModuleNotFoundError: No module named 'torchvision'".
                let reason = stderrLines.items.last.map { ": \($0.trimmingCharacters(in: .whitespaces))" } ?? ""
                throw Failure(description: "PyTorch side exited (status \(process.terminationStatus)\(reason); "
                              + "tools/requirements.txt lists what it needs, including the --no-deps packages)")
            }
            buffer.append(chunk)
        }
    }

    func stop() {
        if process.isRunning {
            try? send(["cmd": "quit"])
            try? input.fileHandleForWriting.close()
            process.waitUntilExit()
        }
    }
}
