import Foundation
import Imaging

/// Writes frames as an H.264 MP4 through the system's `ffmpeg` (Debian's, installed by scripts/setup.sh): frames
/// go to a temporary directory as PNGs, ffmpeg encodes them (`libx264`, `yuv420p`, odd sizes padded to even, the
/// given frame rate) and the temporary files are removed. `available` says whether ffmpeg is on PATH; the search
/// output skips the MP4 without it (the animated PNG plays everywhere anyway).
public struct MP4Writer: Sendable {
    public let ffmpeg: URL

    /// The writer for the first `ffmpeg` on `PATH`, or nil.
    public static func available(environment: [String: String] = ProcessInfo.processInfo.environment) -> MP4Writer? {
        for dir in (environment["PATH"] ?? "/usr/bin:/bin").split(separator: ":") {
            let url = URL(fileURLWithPath: String(dir)).appendingPathComponent("ffmpeg")
            if FileManager.default.isExecutableFile(atPath: url.path) { return MP4Writer(ffmpeg: url) }
        }
        return nil
    }

    public init(ffmpeg: URL) { self.ffmpeg = ffmpeg }

    public func write(_ frames: [Image8], framesPerSecond: Int, to url: URL) throws(ReportError) {
        guard !frames.isEmpty else { throw ReportError("\(url.path): no frames to encode") }
        let fm = FileManager.default
        let work = fm.temporaryDirectory.appendingPathComponent("evosearch-mp4-\(UUID().uuidString)")
        defer { try? fm.removeItem(at: work) }
        do { try fm.createDirectory(at: work, withIntermediateDirectories: true) } catch {
            throw ReportError("\(url.path): cannot create a temporary directory for ffmpeg: \(error.localizedDescription)")
        }
        for (i, f) in frames.enumerated() {
            do { try PNG.write(f, to: work.appendingPathComponent(FrameSequence.name(i)).path) } catch {
                throw ReportError("\(url.path): cannot write a frame for ffmpeg: \(error.description)")
            }
        }
        let process = Process()
        process.executableURL = ffmpeg
        process.arguments = ["-nostdin", "-y", "-loglevel", "error", "-framerate", "\(framesPerSecond)",
                             "-i", work.appendingPathComponent("frame-%04d.png").path,
                             "-vf", "pad=ceil(iw/2)*2:ceil(ih/2)*2", "-c:v", "libx264", "-pix_fmt", "yuv420p",
                             "-movflags", "+faststart", url.path]
        let errors = Pipe()
        process.standardError = errors
        process.standardOutput = FileHandle.nullDevice
        do { try process.run() } catch { throw ReportError("\(url.path): cannot start \(ffmpeg.path): \(error.localizedDescription)") }
        let log = errors.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        guard process.terminationStatus == 0 else {
            let text = String(decoding: log, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)
            throw ReportError("\(url.path): ffmpeg exited with \(process.terminationStatus): \(text.suffix(300))")
        }
    }
}
