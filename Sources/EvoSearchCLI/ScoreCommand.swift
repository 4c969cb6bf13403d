import ArgumentParser
import Catalog
import Foundation
import Imaging
import Reports
import Rewards
import TensorCore

/// `--reward` help shared by `score` and `search`.
let rewardHelp = """
    Reward: \(Catalog.rewards.names.joined(separator: ", ")); or a weighted sum "NAME[:W],…" with zscore(NAME) for \
    a component standardised over each scored batch (e.g. "clip:1,aesthetic:0.5").
    """

let rewardModelHelp = """
    Model directory of the model-based rewards (a transformers CLIPModel for the CLIP family; a directory written by \
    tools/convert_imagereward.py or tools/convert_aesthetic_v25.py for imagereward / aesthetic-v2.5; see README). \
    Repeat as NAME=DIR to give each reward of a sum its own.
    """

/// Builds the reward `spec` names, with one-line errors for the command line.
func buildReward(_ spec: String, modelArguments: [String], prompt: String) throws -> any Reward {
    do {
        return try Catalog.rewards.make(spec, models: RewardModels(arguments: modelArguments, registry: Catalog.rewards), prompt: prompt)
    } catch let error as RewardError {
        throw CLIError("--reward: \(error.description)")
    } catch {
        throw CLIError("--reward \(spec): \(error)")
    }
}

/// `evosearch score`: scores image files with a reward.
struct Score: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Scores PNG images or videos with a reward (one score per sample, in argument order).",
        discussion: """
        Images are read as 8-bit RGB (alpha dropped, gray expanded) and scored exactly as the search scores a \
        decoded sample that was saved as that PNG. Images of one size are scored in one batch; a zscore(…) \
        component standardises over all the images, which must then share one size. Prints "SCORE<TAB>PATH" per \
        image, or with --json one object whose "scores" array follows the image order (NaN as null).

        A directory is a video: its frame-0000.png, frame-0001.png, … in order (as generate --output-dir and \
        shapes render --video write them), scored by a reward that takes videos (shapes-video-verifier).
        """)

    @Option(name: .long, help: ArgumentHelp(rewardHelp))
    var reward: String
    @Option(name: .long, help: ArgumentHelp(rewardModelHelp))
    var rewardModel: [String] = []
    @Option(name: .long, help: "The prompt the images are judged against (text rewards need it).")
    var prompt: String = ""
    @Flag(name: .long, help: "Print one JSON object instead of lines.")
    var json = false
    @Argument(help: "PNG files to score, or directories of a video's frame-NNNN.png files.")
    var images: [String]

    func validate() throws {
        if images.isEmpty { throw ValidationError("give at least one image") }
    }

    func run() throws {
        let models = try EmbeddedModels().resolveRewardModels(rewardModel, rewardNames: Catalog.rewards.names)
        let scorer = try buildReward(reward, modelArguments: models, prompt: prompt)
        var tensors: [Tensor] = []
        for path in images {
            var isDirectory: ObjCBool = false
            if FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory), isDirectory.boolValue {
                do { tensors.append(try FrameSequence.read(from: URL(fileURLWithPath: path))) } catch {
                    throw CLIError(error.description)
                }
            } else {
                do { tensors.append(try PNG.read(path: path).tensor()) } catch { throw CLIError(error.description) }
            }
        }
        let scores = try scoreAll(scorer, tensors)
        let reasons = zip(scores, tensors).map { s, t in s.isNaN ? scorer.unscoredReasons(Tensor.stack([t])).first ?? nil : nil }
        if json {
            let object: [String: Any] = [
                "reward": scorer.name, "prompt": prompt, "images": images,
                // Each Float as its shortest decimal (not the binary expansion a Double conversion would print).
                "scores": scores.map { $0.isFinite ? Double("\($0)")! as Any : NSNull() },
                "unscored_reasons": reasons.map { $0 as Any? ?? NSNull() },
            ]
            let data = try JSONSerialization.data(withJSONObject: object, options: [.sortedKeys, .withoutEscapingSlashes])
            print(String(decoding: data, as: UTF8.self))
        } else {
            for (i, path) in images.enumerated() {
                print("\(scores[i])\t\(path)" + (reasons[i].map { "\t(\($0))" } ?? ""))
            }
        }
    }

    /// Scores `[3, H, W]` images or `[F, 3, H, W]` videos: one batch per distinct shape (in order of first appearance), results in input order.
    func scoreAll(_ reward: any Reward, _ images: [Tensor]) throws -> [Float] {
        var groups: [[Int]: [Int]] = [:]
        var order: [[Int]] = []
        for (i, t) in images.enumerated() {
            if groups[t.shape] == nil { order.append(t.shape) }
            groups[t.shape, default: []].append(i)
        }
        if order.count > 1, let sum = reward as? WeightedSumReward, sum.terms.contains(where: \.zScore) {
            throw CLIError("--reward \(reward.name): zscore(…) standardises over all images, which must share one size (got \(order.count) sizes)")
        }
        var out = [Float](repeating: .nan, count: images.count)
        for shape in order {
            let indices = groups[shape]!
            let s: [Float]
            do { s = try reward.scores(Tensor.stack(indices.map { images[$0] })) } catch { throw CLIError("--reward \(reward.name): \(error)") }
            for (k, i) in indices.enumerated() { out[i] = s[k] }
        }
        return out
    }
}
