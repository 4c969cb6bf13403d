import TensorCore

/// An image reward applied to videos: the mean of `base`'s scores over `frames` evenly spaced frames of each video
/// (the first and the last included; every frame when the video has no more), as video benchmarks average a
/// per-frame CLIP score. Takes videos `[N, F, 3, H, W]`; one call scores `N · frames` images in one `base` call.
/// A frame `base` scores NaN makes the video's score NaN. Named `base@Kframes`.
public struct FrameAveragedReward: Reward {
    public let base: any Reward
    public let frames: Int

    /// `frames` must be at least 1 (checked by the caller, which names its flag).
    public init(_ base: any Reward, frames: Int) {
        precondition(frames >= 1, "FrameAveragedReward: frames must be at least 1")
        self.base = base
        self.frames = frames
    }

    public var name: String { "\(base.name)@\(frames)frames" }
    public var dependsOnBatch: Bool { base.dependsOnBatch }

    /// `reward` as a search of a model making `samples` (`.images` or `.videos`) runs it: an image reward averaged
    /// over `frameAverage` frames for videos when that is given; a reward that does not take what the model makes
    /// is a `.wrongSampleKind` error saying what to give instead (before any compute).
    public static func fitted(_ reward: any Reward, to samples: RewardInput, frameAverage: Int?) throws(RewardError) -> any Reward {
        if let k = frameAverage {
            guard samples == .videos else {
                throw .wrongSampleKind(reward: reward.name, takes: reward.takes, model: samples, fix: "--frame-average is for video models; drop it")
            }
            guard k >= 1 else { throw .invalidSpec(spec: "--frame-average \(k)", reason: "average over at least 1 frame") }
            guard reward.takes.contains(.images) else {
                throw .wrongSampleKind(reward: reward.name, takes: reward.takes, model: samples, fix: "it scores whole videos already; drop --frame-average")
            }
            return FrameAveragedReward(reward, frames: k)
        }
        guard reward.takes.isSuperset(of: samples) else {
            let fix = samples == .videos
                ? "add --frame-average K to score K evenly spaced frames with it and take the mean (e.g. 4), or use a video reward such as shapes-video-verifier"
                : "use an image reward such as shapes-verifier"
            throw .wrongSampleKind(reward: reward.name, takes: reward.takes, model: samples, fix: fix)
        }
        return reward
    }
    public var takes: RewardInput { .videos }

    /// The frames scored of a video of `count` frames, ascending.
    public func frameIndices(count: Int) -> [Int] {
        if count <= frames { return Array(0..<count) }
        if frames == 1 { return [count / 2] }
        return (0..<frames).map { ($0 * (count - 1) + (frames - 1) / 2) / (frames - 1) }
    }

    public func scores(_ samples: Tensor) throws -> [Float] {
        guard samples.rank == 5, samples.shape[2] == 3 else {
            throw RewardError.unsupportedSamples(reward: name, shape: samples.shape, expected: "decoded videos [N, F, 3, H, W]")
        }
        let (n, f) = (samples.shape[0], samples.shape[1])
        if n == 0 { return [] }
        let picked = frameIndices(count: f)
        let frameShape = Array(samples.shape[2...]), frameSize = frameShape.reduce(1, *)
        var images = [Float]()
        images.reserveCapacity(n * picked.count * frameSize)
        samples.scalars.withUnsafeBufferPointer { src in
            for v in 0..<n { for t in picked {
                let start = (v * f + t) * frameSize
                images.append(contentsOf: src[start..<(start + frameSize)])
            } }
        }
        let s = try base.scores(Tensor(shape: [n * picked.count] + frameShape, scalars: images))
        guard s.count == n * picked.count else {
            throw RewardError.scoringFailed(reward: base.name, reason: "returned \(s.count) scores for \(n * picked.count) frames")
        }
        return (0..<n).map { v in
            let part = s[(v * picked.count)..<((v + 1) * picked.count)]
            return part.reduce(0, +) / Float(picked.count)
        }
    }
}
