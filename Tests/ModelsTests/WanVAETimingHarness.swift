import Foundation
@testable import Models
import TensorCore
import Testing

/// A timing harness, not a test: runs only when EVOSEARCH_WAN_VAE_TIMING names a Wan 2.1 VAE directory (e.g. the
/// random full-size one tools/bench/torch_wan_vae.py writes), and prints the seconds of one decode of 3 latent
/// frames and one encode of 9 frames at EVOSEARCH_WAN_VAE_SIZE (default 240x416), with the process's peak resident
/// memory (VmHWM) after loading and after each phase, and `decodeWorkingBytes` for the size. It asserts nothing
/// about time.
///
///     EVOSEARCH_WAN_VAE_TIMING=/tmp/wan-vae-full swift test -c release --skip-build --filter WanVAETimingHarness
@Suite struct WanVAETimingHarness {
    static let directory = ProcessInfo.processInfo.environment["EVOSEARCH_WAN_VAE_TIMING"]

    static func peakResidentBytes() -> Int {
        guard let status = try? String(contentsOfFile: "/proc/self/status", encoding: .utf8),
              let line = status.split(separator: "\n").first(where: { $0.hasPrefix("VmHWM:") }),
              let kb = Int(line.split(separator: " ").dropFirst().first ?? "") else { return -1 }
        return kb * 1024
    }

    @Test(.enabled(if: directory != nil)) func decodeAndEncodeTimes() throws {
        let size = (ProcessInfo.processInfo.environment["EVOSEARCH_WAN_VAE_SIZE"] ?? "240x416").split(separator: "x")
        let (h, w) = (Int(size[0])!, Int(size[1])!)
        let vae = try AutoencoderKLWan(directory: URL(fileURLWithPath: Self.directory!))
        let loaded = Self.peakResidentBytes()
        let c = vae.config
        print("wan-vae-timing load: peak RSS \(loaded) bytes; decodeWorkingBytes \(h)x\(w): "
              + "\(c.decodeWorkingBytes(latentHeight: h / 8, latentWidth: w / 8))")
        let z = Tensor(shape: [1, c.zDim, 3, h / 8, w / 8],
                       scalars: (0..<(c.zDim * 3 * (h / 8) * (w / 8))).map { Float(sin(Double($0) * 0.37)) })
        var t0 = Date()
        let video = try vae.decode(z)
        print("wan-vae-timing decode \(z.shape) -> \(video.shape): \(Date().timeIntervalSince(t0)) s, peak RSS \(Self.peakResidentBytes()) bytes")
        if ProcessInfo.processInfo.environment["EVOSEARCH_WAN_VAE_SKIP_ENCODE"] != nil { return }
        let clip = Tensor(shape: [1, 3, 9, h, w], scalars: (0..<(27 * h * w)).map { Float(sin(Double($0) * 0.011)) })
        t0 = Date()
        let mean = try vae.encode(clip)
        print("wan-vae-timing encode \(clip.shape) -> \(mean.shape): \(Date().timeIntervalSince(t0)) s, peak RSS \(Self.peakResidentBytes()) bytes")
    }
}
