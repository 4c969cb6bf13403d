import Foundation
import Imaging
import TensorCore

/// A video written as numbered PNG frames, `frame-0000.png`, `frame-0001.png`, … in one directory (8-bit, rounded
/// as `best.png` is). Frames of an earlier, longer video left in the directory under the same naming are removed
/// after the new ones are written, so the directory holds exactly this video; other files are left alone.
public enum FrameSequence {
    public static func name(_ index: Int) -> String { String(format: "frame-%04d.png", index) }

    /// Writes `video` (`[F, 3, H, W]` or `[1, F, 3, H, W]` in [0, 1]) into `directory` (created if missing) and
    /// returns the files written, in order.
    @discardableResult
    public static func write(_ video: Tensor, to directory: URL) throws(ReportError) -> [URL] {
        let v = video.rank == 5 && video.shape[0] == 1 ? video.row(0) : video
        guard v.rank == 4, v.shape[1] == 3, v.shape[0] >= 1 else {
            throw ReportError("a video of shape \(video.shape) is not [F, 3, H, W] frames")
        }
        do { try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true) } catch {
            throw ReportError("\(directory.path): cannot create the frames' directory: \(error.localizedDescription)")
        }
        var written: [URL] = []
        for f in 0..<v.shape[0] {
            let url = directory.appendingPathComponent(name(f))
            do { try PNG.write(Image8(tensor: v.row(f)), to: url.path) } catch {
                throw ReportError("\(url.path): \(error)")
            }
            written.append(url)
        }
        let stale = (try? FileManager.default.contentsOfDirectory(atPath: directory.path)) ?? []
        for file in stale where isFrameName(file) && !written.contains(where: { $0.lastPathComponent == file }) {
            try? FileManager.default.removeItem(at: directory.appendingPathComponent(file))
        }
        return written
    }

    /// Reads the frames `write` names from `directory`, in frame order, as one `[F, 3, H, W]` video in [0, 1] (8-bit
    /// RGB as `PNG.read` gives it). Other files are ignored; the frames must share one size.
    public static func read(from directory: URL) throws(ReportError) -> Tensor {
        let files: [String]
        do { files = try FileManager.default.contentsOfDirectory(atPath: directory.path) } catch {
            throw ReportError("\(directory.path): cannot list the frames: \(error.localizedDescription)")
        }
        let frames = files.filter(isFrameName).sorted()
        guard !frames.isEmpty else { throw ReportError("\(directory.path): no frame-NNNN.png files") }
        var tensors: [Tensor] = []
        for file in frames {
            let path = directory.appendingPathComponent(file).path
            let frame: Tensor
            do { frame = try PNG.read(path: path).tensor() } catch { throw ReportError("\(path): \(error)") }
            if let first = tensors.first, first.shape != frame.shape {
                throw ReportError("\(path): frame of shape \(frame.shape), the first frame is \(first.shape)")
            }
            tensors.append(frame)
        }
        return Tensor.stack(tensors)
    }

    /// Whether `file` is named as this type names frames.
    static func isFrameName(_ file: String) -> Bool {
        guard file.hasPrefix("frame-"), file.hasSuffix(".png") else { return false }
        let digits = file.dropFirst(6).dropLast(4)
        return digits.count >= 4 && digits.allSatisfy(\.isASCII) && digits.allSatisfy(\.isNumber)
    }
}
