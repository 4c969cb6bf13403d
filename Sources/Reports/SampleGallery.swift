import Imaging
import Search
import TensorCore

/// The 8-bit images a search's output shows, made from the scored samples' final states in one pass: every
/// sample in the history as a thumbnail (at most `thumbnailMaximum` pixels a side) and the few shown full size
/// (best, top-K) at their own size.
///
/// States are decoded in batches of `batch` rows by the trajectory's `decode`, so the memory this needs is the
/// thumbnails plus one batch of decoded samples, whatever the size of the images. Samples must decode to images
/// `[3, H, W]` in [0, 1]; NaN pixels show as magenta.
public struct SampleGallery: Sendable {
    public private(set) var thumbnails: [Int: Image8] = [:]
    public private(set) var fullSize: [Int: Image8] = [:]
    /// Width and height of a full-size sample.
    public let width: Int, height: Int

    /// Decodes every sample of `result.history` and keeps `fullSizeIDs` at full size. The default `decode` is the
    /// identity, for results whose states are the images themselves.
    public init(result: SearchResult, fullSizeIDs: Set<Int>, thumbnailMaximum: Int = 128, batch: Int = 8,
                decode: (Tensor) throws -> Tensor = { $0 }) throws(ReportError) {
        let shape = result.sampleShape
        guard shape.count == 3, shape[0] == 3, shape[1] > 0, shape[2] > 0 else {
            throw ReportError("samples of shape \(shape) are not RGB images [3, H, W]; this report shows images only")
        }
        height = shape[1]; width = shape[2]
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
                let image = Image8(tensor: decoded.row(i))
                thumbnails[s.id] = SampleImage.thumbnail(image, minimum: 1, maximum: thumbnailMaximum)
                if fullSizeIDs.contains(s.id) { fullSize[s.id] = image }
            }
            lo += part.count
        }
    }

    public func thumbnail(_ s: ScoredSample) throws(ReportError) -> Image8 {
        guard let image = thumbnails[s.id] else { throw ReportError("sample #\(s.id) was not decoded for the report") }
        return image
    }

    public func full(_ s: ScoredSample) throws(ReportError) -> Image8 {
        guard let image = fullSize[s.id] else { throw ReportError("sample #\(s.id) was not decoded at full size") }
        return image
    }
}
