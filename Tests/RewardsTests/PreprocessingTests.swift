import Foundation
import Imaging
import ModelIO
import Models
import Rewards
import TensorCore
import Testing

/// CLIP image preprocessing against transformers' two backends and torchvision transforms, and the resampler.
@Suite struct PreprocessingTests {
    /// Each backend reproduces its reference bit for bit (fixtures: 5 images of several sizes and aspect ratios,
    /// three preprocessor configs; resize with odd crop margins, upscaling, exact size, crop smaller than resize).
    @Test(arguments: CLIPFixtures.cases)
    func pixelValuesMatchEachBackend(name: String) throws {
        let images = try CLIPFixtures.images()
        let io = try CLIPFixtures.io(name)
        let base = try CLIPImageProcessor(directory: CLIPFixtures.url(name))
        #expect(base.backend == .torchvision)
        for (backend, key) in [(CLIPImageProcessor.Backend.torchvision, "pixel_values_torchvision"),
                               (.pil, "pixel_values_pil"), (.torchvisionTransforms, "pixel_values_transforms")] {
            var p = base
            p.backend = backend
            let ours = try p(images)
            let ref = try io.tensor(named: key)
            #expect(ours.shape == ref.shape)
            let diff = ours.maxAbsDifference(ref)
            #expect(diff <= 1e-6, "\(name) \(backend): max |ours − reference| = \(diff)")
        }
    }

    /// The backends differ from each other (by up to ±2 levels of 255 after normalisation): the test above could
    /// not pass with one shared implementation.
    @Test func backendsDiffer() throws {
        let io = try CLIPFixtures.io("quickgelu")
        let tv = try io.tensor(named: "pixel_values_torchvision"), pil = try io.tensor(named: "pixel_values_pil")
        let d = tv.maxAbsDifference(pil)
        #expect(d > 0 && d < 3.0 / 255 / 0.26)
    }

    @Test func configParsing() throws {
        let wide = try CLIPImageProcessor(directory: CLIPFixtures.url("wide"))
        #expect(wide.resize == .shortestEdge(28))
        #expect(wide.crop?.height == 28 && wide.crop?.width == 28)
        let hps = try CLIPImageProcessor(directory: CLIPFixtures.url("openclip-hps"))
        #expect(hps.resize == .longestEdgePad(24) && hps.crop == nil && hps.backend == .torchvisionTransforms)
        let defaults = try CLIPImageProcessor(directory: FileManager.default.temporaryDirectory.appendingPathComponent("no-such-dir-\(UUID())"))
        #expect(defaults == CLIPImageProcessor())

        let bilinear = try ConfigFile(parsing: #"{"resample": 2}"#, displayName: "preprocessor_config.json")
        #expect { try CLIPImageProcessor(config: bilinear) } throws: { "\($0)".contains("\"resample\"") }
        let longest = try ConfigFile(parsing: #"{"size": {"longest_edge": 224}}"#, displayName: "preprocessor_config.json")
        #expect { try CLIPImageProcessor(config: longest) } throws: { "\($0)".contains("longest_edge") }
        let exact = try CLIPImageProcessor(config: ConfigFile(parsing: #"{"size": {"height": 10, "width": 12}, "do_center_crop": false, "do_normalize": false}"#, displayName: "p"))
        #expect(exact.resize == .exact(height: 10, width: 12) && exact.crop == nil && exact.mean == nil)
        let out = try exact([Image8(width: 5, height: 7, channels: 3, pixels: [UInt8](repeating: 51, count: 105))])
        #expect(out.shape == [1, 3, 10, 12])
        #expect(out.scalars.allSatisfy { abs($0 - 0.2) < 1e-6 })
    }

    /// Samples go through `Image8(tensor:)` first, so a sample and its 8-bit version preprocess alike.
    @Test func decodedSamplesAreRoundedTo8Bits() throws {
        let samples = try CLIPFixtures.samples()
        let p = try CLIPImageProcessor(directory: CLIPFixtures.url("gelu"))
        let images = (0..<samples.shape[0]).map { Image8(tensor: samples.row($0)) }
        #expect(try p(samples) == (try p(images)))
        #expect(throws: CLIPInputError.self) { try p(Tensor(zeros: [1, 4, 8, 8])) }
    }

    @Test func resamplerKeepsConstantsAndSkipsUnchangedAxes() throws {
        let flat = Image8(width: 17, height: 9, channels: 3, pixels: [UInt8](repeating: 200, count: 17 * 9 * 3))
        for arithmetic in BicubicResampler.Arithmetic.allCases {
            for (w, h) in [(5, 4), (40, 23), (17, 30)] {
                let r = BicubicResampler.resize(flat, width: w, height: h, arithmetic: arithmetic)
                #expect(r.width == w && r.height == h && r.pixels.allSatisfy { $0 == 200 })
            }
        }
        var ramp = [UInt8]()
        for y in 0..<6 { for x in 0..<8 { ramp.append(UInt8(x * 30 + y)) } }
        let image = Image8(width: 8, height: 6, channels: 1, pixels: ramp)
        #expect(BicubicResampler.resize(image, width: 8, height: 6, arithmetic: .torch) == image)
        // Only the height changes: every column is filtered on its own, so rows stay ramps in x.
        let taller = BicubicResampler.resize(image, width: 8, height: 11, arithmetic: .pillow)
        #expect(taller.width == 8)
    }

    @Test func windowCropsAndPads() {
        let image = Image8(width: 3, height: 2, channels: 1, pixels: [1, 2, 3, 4, 5, 6])
        #expect(image.window(top: 0, left: 1, height: 2, width: 2).pixels == [2, 3, 5, 6])
        #expect(image.window(top: -1, left: -1, height: 4, width: 5).pixels == [0, 0, 0, 0, 0,
                                                                              0, 1, 2, 3, 0,
                                                                              0, 4, 5, 6, 0,
                                                                              0, 0, 0, 0, 0])
        #expect(image.window(top: 5, left: 0, height: 1, width: 2, fill: 9).pixels == [9, 9])
    }
}
