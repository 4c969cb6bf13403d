import Imaging
import Search
import TensorCore

/// The 8-bit pictures a search's output shows, made from the scored samples' final states in one pass: every
/// sample in the history as a thumbnail (at most `thumbnailMaximum` pixels a side) and the few shown full size
/// (best, top-K) at their own size.
///
/// Samples are images `[3, H, W]` or videos `[F, 3, H, W]` in [0, 1]. For a video the thumbnail is a frame strip
/// (`stripFrames` evenly spaced frames side by side, for contact sheets), the animation is every frame at thumbnail
/// size as an animated PNG (kept compressed), and full size means every frame. States are decoded in batches of
/// `batch` rows by the trajectory's `decode`, so the memory this needs is the thumbnails plus one batch of decoded
/// samples, whatever the number of samples or the size of the images. NaN pixels show as magenta.
public struct SampleGallery: Sendable {
    public private(set) var thumbnails: [Int: Image8] = [:]
    /// Videos only: each sample's frames at thumbnail size, as animated PNG bytes.
    public private(set) var animations: [Int: [UInt8]] = [:]
    public private(set) var fullSize: [Int: [Image8]] = [:]
    /// Width and height of a full-size frame.
    public let width: Int, height: Int
    /// Frames per sample (1 for images).
    public let frameCount: Int
    /// Display time of one frame of an animation.
    public static let frameMilliseconds = 125
    public static let stripFrames = 5

    public var isVideo: Bool { frameCount > 1 }

    /// Decodes every sample of `result.history` and keeps `fullSizeIDs` at full size. The default `decode` is the
    /// identity, for results whose states are the pictures themselves.
    public init(result: SearchResult, fullSizeIDs: Set<Int>, thumbnailMaximum: Int = 128, batch: Int = 8,
                decode: (Tensor) throws -> Tensor = { $0 }) throws(ReportError) {
        let shape = result.sampleShape
        let frameShape = shape.count == 4 ? Array(shape.dropFirst()) : shape
        guard shape.count == 3 || (shape.count == 4 && shape[0] >= 1), frameShape[0] == 3, frameShape[1] > 0, frameShape[2] > 0 else {
            throw ReportError("samples of shape \(shape) are neither RGB images [3, H, W] nor videos [F, 3, H, W]; this report shows those only")
        }
        height = frameShape[1]; width = frameShape[2]
        frameCount = shape.count == 4 ? shape[0] : 1
        // Video thumbnails are smaller: every frame of every sample is kept (compressed) for the animated tiles.
        let side = frameCount > 1 ? min(thumbnailMaximum, 64) : thumbnailMaximum
        let samples = result.history
        var lo = 0
        while lo < samples.count {
            let part = Array(samples[lo..<min(samples.count, lo + max(1, batch))])
            let decoded: Tensor
            do { decoded = try decode(result.states(of: part)) } catch {
                throw ReportError("cannot decode samples for the report: \(error)")
            }
            guard decoded.shape == [part.count] + shape else {
                throw ReportError("decoding \(part.count) samples gave shape \(decoded.shape), expected \([part.count] + shape)")
            }
            for (i, s) in part.enumerated() {
                let sample = decoded.row(i)
                let frames = frameCount == 1 ? [Image8(tensor: sample)] : (0..<frameCount).map { Image8(tensor: sample.row($0)) }
                let small = frames.map { SampleImage.thumbnail($0, minimum: 1, maximum: side) }
                if frameCount == 1 {
                    thumbnails[s.id] = small[0]
                } else {
                    thumbnails[s.id] = Self.strip(Self.evenlySpaced(small, count: Self.stripFrames))
                    do { animations[s.id] = try AnimatedPNG.encode(small, delayMilliseconds: Self.frameMilliseconds) } catch {
                        throw ReportError("cannot encode the animation of sample #\(s.id): \(error.description)")
                    }
                }
                if fullSizeIDs.contains(s.id) { fullSize[s.id] = frames }
            }
            lo += part.count
        }
    }

    /// The sample's still: the image itself, or a video's frame strip.
    public func thumbnail(_ s: ScoredSample) throws(ReportError) -> Image8 {
        guard let image = thumbnails[s.id] else { throw ReportError("sample #\(s.id) was not decoded for the report") }
        return image
    }

    /// A video's frames at thumbnail size as an animated PNG (nil for images).
    public func animation(_ s: ScoredSample) -> [UInt8]? { animations[s.id] }

    /// The sample at full size: one image, or every frame of a video.
    public func full(_ s: ScoredSample) throws(ReportError) -> [Image8] {
        guard let frames = fullSize[s.id] else { throw ReportError("sample #\(s.id) was not decoded at full size") }
        return frames
    }

    /// The sample at full size as PNG bytes: a still, or an animated PNG of every frame.
    public func fullPNG(_ s: ScoredSample) throws(ReportError) -> [UInt8] {
        let frames = try full(s)
        do {
            return frames.count == 1 ? try PNG.encode(frames[0])
                : try AnimatedPNG.encode(frames, delayMilliseconds: Self.frameMilliseconds)
        } catch { throw ReportError("cannot encode sample #\(s.id) as PNG: \(error.description)") }
    }

    /// `count` frames evenly spaced from the first to the last (all of them when there are no more).
    static func evenlySpaced(_ frames: [Image8], count: Int) -> [Image8] {
        guard frames.count > count, count >= 2 else { return frames }
        return (0..<count).map { frames[($0 * (frames.count - 1) + (count - 1) / 2) / (count - 1)] }
    }

    /// Frames side by side, one pixel of grey between them.
    static func strip(_ frames: [Image8]) -> Image8 {
        let w = frames[0].width, h = frames[0].height, gap = 1
        let total = frames.count * w + (frames.count - 1) * gap
        var pixels = [UInt8](repeating: 160, count: total * h * 3)
        for (k, f) in frames.enumerated() {
            let rgb = f.rgb
            for y in 0..<h { for x in 0..<w { for c in 0..<3 {
                pixels[(y * total + k * (w + gap) + x) * 3 + c] = rgb.pixels[(y * w + x) * 3 + c]
            } } }
        }
        return Image8(width: total, height: h, channels: 3, pixels: pixels)
    }
}
