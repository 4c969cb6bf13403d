import Foundation
import ModelIO
import Models

/// The peak memory of loading a UNet in a fresh process: `evosearch bench models --measure-load DIR` runs
/// `measureUNetLoad` as a child and prints its figures as one JSON line; the parent reads them with
/// `JSONLineChild.runOnce` and `LoadMemoryFigures(json:)`.
public struct LoadMemoryFigures: Sendable, Equatable {
    public var seconds: Double
    /// VmHWM: the peak resident set of the whole process.
    public var peakKB: Int
    /// After loading: resident private memory (copies made at load) and resident file pages (mapped weights).
    public var anonymousKB: Int
    public var fileKB: Int

    public init(seconds: Double, peakKB: Int, anonymousKB: Int, fileKB: Int) {
        self.seconds = seconds; self.peakKB = peakKB; self.anonymousKB = anonymousKB; self.fileKB = fileKB
    }

    public init?(json: JSONValue) {
        guard let s = json["seconds"]?.doubleValue, let p = json["vmhwm_kb"]?.intValue,
              let a = json["rss_anon_kb"]?.intValue, let f = json["rss_file_kb"]?.intValue else { return nil }
        self.init(seconds: s, peakKB: p, anonymousKB: a, fileKB: f)
    }

    public var json: [String: Any] { ["seconds": seconds, "vmhwm_kb": peakKB, "rss_anon_kb": anonymousKB, "rss_file_kb": fileKB] }

    /// Loads the UNet in `directory` in this process and reports the figures (the model is kept alive until they
    /// are read, so its mapped pages count).
    public static func measureUNetLoad(directory: URL, variant: String?) throws -> LoadMemoryFigures {
        let t0 = Clock.wallSeconds()
        let unet = try UNet2DConditionModel(directory: directory, variant: variant)
        let seconds = Clock.wallSeconds() - t0
        let after = ProcessStatus.current()
        withExtendedLifetime(unet) {}
        return LoadMemoryFigures(seconds: seconds, peakKB: after.peakResidentKB, anonymousKB: after.residentAnonymousKB,
                                 fileKB: after.residentFileKB)
    }

    /// One sentence for the report; `weightBytes` is the size of the weight files on disk.
    public func summary(model: String, weightBytes: Int) -> String {
        let gib = { (kb: Int) in String(format: "%.2f GiB", Double(kb) / 1_048_576) }
        return "Peak memory loading \(model) (\(String(format: "%.2f GiB", Double(weightBytes) / 1_073_741_824)) on disk) in a fresh "
            + "process: **\(gib(peakKB))** VmHWM; after loading \(gib(anonymousKB)) private + \(gib(fileKB)) of mapped file pages "
            + "(half-precision weights stay mapped and are widened inside the kernels); load took \(String(format: "%.1f", seconds)) s."
    }
}
