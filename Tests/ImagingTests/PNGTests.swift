import Foundation
import Imaging
import TensorCore
import Testing

@Suite struct PNGTests {
    struct Expected: Decodable { var width: Int; var height: Int; var channels: Int; var pixels: [UInt8] }

    static let expected: [String: Expected] = {
        let url = Bundle.module.url(forResource: "Fixtures/expected", withExtension: "json")!
        return try! JSONDecoder().decode([String: Expected].self, from: Data(contentsOf: url))
    }()

    @Test(arguments: ["gray.png", "gray_alpha.png", "rgb.png", "rgba.png", "palette.png", "palette_trns.png", "palette_1bit.png", "gray16.png"])
    func decodesWhatPillowDecodes(name: String) throws {
        let want = try #require(Self.expected[name])
        let path = try #require(Bundle.module.url(forResource: "Fixtures/" + name, withExtension: nil)).path
        let image = try PNG.read(path: path)
        #expect(image.width == want.width && image.height == want.height)
        #expect(image.channels == want.channels)
        let mismatches = zip(image.pixels, want.pixels).filter { $0 != $1 }.count
        #expect(image.pixels.count == want.pixels.count && mismatches == 0, "\(name): \(mismatches) of \(want.pixels.count) bytes differ")
    }

    @Test func encodeDecodeRoundTripsEveryChannelCount() throws {
        for channels in 1...4 {
            let w = 31, h = 7
            let px = (0..<(w * h * channels)).map { UInt8(truncatingIfNeeded: $0 &* 37 &+ $0 / 5) }
            let image = Image8(width: w, height: h, channels: channels, pixels: px)
            #expect(try PNG.decode(PNG.encode(image)) == image)
        }
    }

    @Test func tensorConversionRoundsLikeDiffusers() {
        let t = Tensor(shape: [3, 1, 2], scalars: [0, 1, 0.5, 1.5, -0.2, 0.499])
        let image = Image8(tensor: t)
        #expect(image.pixels == [0, 128, 0, 255, 255, 127])  // interleaved RGB of two pixels
        #expect(image.tensor().shape == [3, 1, 2])
        #expect(abs(image.tensor().scalars[2] - 128 / 255) < 1e-7)  // green plane, first pixel
    }

    @Test func badFilesGiveErrorsNotCrashes() throws {
        #expect(throws: PNGError.self) { try PNG.decode([1, 2, 3]) }
        let good = try PNG.encode(Image8(width: 4, height: 4, channels: 3, pixels: [UInt8](repeating: 9, count: 48)))
        #expect(throws: PNGError.self) { try PNG.decode(Array(good.prefix(good.count - 20))) }
        var corrupt = good
        corrupt[45] ^= 0xFF  // inside the compressed data
        #expect(throws: PNGError.self) { try PNG.decode(corrupt) }
        #expect(throws: PNGError.self) { try PNG.read(path: "/nonexistent/x.png") }
    }
}
