import Foundation
import Testing
@testable import TensorCore

/// The video operators against tools/fixtures/make_video_op_fixtures.py (diffusers 0.42.1's Wan VAE modules on
/// torch), and on larger shapes against a plain loop.
@Suite struct VideoOpsTests {
    static func cases() throws -> [String: OpCase] {
        guard let url = Bundle.module.url(forResource: "video_ops", withExtension: "json", subdirectory: "Fixtures") else {
            throw OpFixtureError.missingFile
        }
        return try JSONDecoder().decode([String: OpCase].self, from: Data(contentsOf: url))
    }

    @Test(arguments: ["conv3d_causal", "conv3d_cache2", "conv3d_cache1", "conv3d_time", "conv3d_stride",
                      "conv3d_pointwise", "conv3d_spatial_pad"])
    func causalConv3dMatchesDiffusers(name: String) throws {
        guard let c = try Self.cases()[name] else { throw OpFixtureError.missingCase(name) }
        let previous = c.has("previous") ? try c.t("previous") : nil
        let y = NN.causalConv3d(try c.t("x"), weight: try c.t("weight"), bias: try c.t("bias"),
                                stride: (try c.i("stride_t"), 1, 1),
                                padding: (try c.i("pad_t"), try c.i("pad_h"), try c.i("pad_w")), previous: previous)
        expectClose(y, try c.t("out"), tolerance: 1e-5, name)
    }

    /// out[n, o, t, y, x] by the definition, in Double.
    static func referenceConv3d(_ x: Tensor, _ w: Tensor, _ bias: Tensor, previous: Tensor?, stride: (Int, Int, Int),
                                padding: (Int, Int, Int)) -> Tensor {
        let (n, c, f, h, wd) = (x.shape[0], x.shape[1], x.shape[2], x.shape[3], x.shape[4])
        let (o, kt, kh, kw) = (w.shape[0], w.shape[2], w.shape[3], w.shape[4])
        let p = previous?.shape[2] ?? 0
        let zeros = max(0, 2 * padding.0 - p), length = zeros + p + f
        let ft = (length - kt) / stride.0 + 1
        let oh = (h + 2 * padding.1 - kh) / stride.1 + 1, ow = (wd + 2 * padding.2 - kw) / stride.2 + 1
        func input(_ img: Int, _ ch: Int, _ frame: Int, _ yy: Int, _ xx: Int) -> Double {
            if frame < zeros || yy < 0 || yy >= h || xx < 0 || xx >= wd { return 0 }
            if frame < zeros + p { return Double(previous!.scalars[(((img * c + ch) * p + frame - zeros) * h + yy) * wd + xx]) }
            return Double(x.scalars[(((img * c + ch) * f + frame - zeros - p) * h + yy) * wd + xx])
        }
        var out = [Float](repeating: 0, count: n * o * ft * oh * ow)
        for img in 0..<n { for oc in 0..<o { for t in 0..<ft { for yy in 0..<oh { for xx in 0..<ow {
            var s = Double(bias.scalars[oc])
            for ch in 0..<c { for a in 0..<kt { for i in 0..<kh { for j in 0..<kw {
                s += Double(w.scalars[(((oc * c + ch) * kt + a) * kh + i) * kw + j])
                    * input(img, ch, t * stride.0 + a, yy * stride.1 - padding.1 + i, xx * stride.2 - padding.2 + j)
            } } } }
            out[(((img * o + oc) * ft + t) * oh + yy) * ow + xx] = Float(s)
        } } } } }
        return Tensor(shape: [n, o, ft, oh, ow], scalars: out)
    }

    static func pseudoRandom(_ shape: [Int], seed: Int) -> Tensor {
        Tensor(shape: shape, scalars: HalfWeightTests.values(shape.reduce(1, *), seed: seed))
    }

    /// Shapes that take conv2d's other paths (direct channels-last kernel for ≥ 48-wide rows and 16…512 gathered
    /// channels, im2col GEMM above 512), a spatial stride, and a batch of several output frames per call.
    @Test(arguments: [
        ([1, 8, 3, 6, 50], 16, (3, 3, 3), (1, 1, 1), 2),     // 24 gathered channels, 50 wide → direct kernel
        ([2, 6, 2, 5, 7], 5, (3, 3, 3), (1, 1, 1), 1),       // small images, several frames per conv2d call
        ([1, 200, 1, 4, 49], 16, (3, 3, 3), (1, 1, 1), 2),   // 600 gathered channels → im2col GEMM
        ([1, 4, 5, 6, 8], 3, (3, 3, 3), (0, 1, 1), 0),       // no time padding, 3 output frames
    ] as [([Int], Int, (Int, Int, Int), (Int, Int, Int), Int)])
    func causalConv3dMatchesTheDefinition(shape: [Int], outChannels: Int, kernel: (Int, Int, Int),
                                          padding: (Int, Int, Int), previousFrames: Int) {
        let x = Self.pseudoRandom(shape, seed: 1)
        let w = Self.pseudoRandom([outChannels, shape[1], kernel.0, kernel.1, kernel.2], seed: 2) * 0.2
        let b = Self.pseudoRandom([outChannels], seed: 3)
        let prev = previousFrames > 0 ? Self.pseudoRandom([shape[0], shape[1], previousFrames, shape[3], shape[4]], seed: 4) : nil
        let y = NN.causalConv3d(x, weight: w, bias: b, padding: (padding.0, padding.1, padding.2), previous: prev)
        let ref = Self.referenceConv3d(x, w, b, previous: prev, stride: (1, 1, 1), padding: padding)
        expectClose(y, ref, tolerance: 1e-5, "conv3d \(shape) → \(outChannels)")
    }

    /// Shapes for `CausalDirectConvolution` (≥ 16 input, ≥ 32 output channels, rows ≥ 24 wide): every count of
    /// cached frames, output channels that fill part of a 32-lane panel, rows that end mid-tile, a batch, several
    /// output frames sharing their input frames, and 200 channels (several column bands per row).
    @Test(arguments: [
        ([1, 16, 1, 5, 30], 32, 0, 1),     // first chunk: two zero frames, one real tap
        ([1, 16, 1, 4, 29], 104, 1, 1),    // one cached frame, 104 outputs (a part-filled panel)
        ([2, 20, 3, 3, 27], 96, 2, 1),     // two cached frames, batch 2, 3 output frames
        ([1, 24, 5, 4, 25], 32, 0, 0),     // no time padding: 3 output frames from a ring of 3 frames
        ([1, 200, 2, 3, 70], 32, 2, 1),    // 200 channels: several bands per row
    ] as [([Int], Int, Int, Int)])
    func directCausalConv3dMatchesTheDefinition(shape: [Int], outChannels: Int, previousFrames: Int, timePadding: Int) {
        let x = Self.pseudoRandom(shape, seed: 21)
        let w = Self.pseudoRandom([outChannels, shape[1], 3, 3, 3], seed: 22) * 0.1
        let b = Self.pseudoRandom([outChannels], seed: 23)
        let prev = previousFrames > 0 ? Self.pseudoRandom([shape[0], shape[1], previousFrames, shape[3], shape[4]], seed: 24) : nil
        let padding = (timePadding, 1, 1)
        #expect(CausalDirectConvolution.suitable(c: shape[1], o: outChannels, kh: 3, kw: 3, ow: shape[4]))
        let y = NN.causalConv3d(x, weight: w, bias: b, padding: padding, previous: prev)
        let ref = Self.referenceConv3d(x, w, b, previous: prev, stride: (1, 1, 1), padding: padding)
        expectClose(y, ref, tolerance: 1e-5, "direct conv3d \(shape) → \(outChannels)")
    }

    /// The direct kernel forced on strides, unpadded space, few channels and a bf16 weight, against the definition
    /// and against the gathered 2-D path.
    @Test func directCausalConv3dForcedOnOtherShapes() {
        let x = Self.pseudoRandom([1, 5, 5, 7, 9], seed: 25)
        let w = Self.pseudoRandom([4, 5, 3, 3, 3], seed: 26) * 0.2
        let b = Self.pseudoRandom([4], seed: 27)
        let prev = Self.pseudoRandom([1, 5, 1, 7, 9], seed: 28)
        let strided = NN.Tuning.$convolution.withValue(.direct) {
            NN.causalConv3d(x, weight: w, bias: b, stride: (2, 2, 2), padding: (1, 1, 1), previous: prev)
        }
        expectClose(strided, Self.referenceConv3d(x, w, b, previous: prev, stride: (2, 2, 2), padding: (1, 1, 1)),
                    tolerance: 1e-5, "direct conv3d stride 2")
        let unpadded = NN.Tuning.$convolution.withValue(.direct) {
            NN.causalConv3d(x, weight: w, bias: b, padding: (1, 0, 0), previous: prev)
        }
        expectClose(unpadded, Self.referenceConv3d(x, w, b, previous: prev, stride: (1, 1, 1), padding: (1, 0, 0)),
                    tolerance: 1e-5, "direct conv3d unpadded space")
        let xs = Self.pseudoRandom([1, 20, 2, 6, 52], seed: 29)
        let half = HalfWeightTests.weight([64, 20, 3, 3, 3], .bf16, seed: 30)
        let direct = NN.causalConv3d(xs, weight: half, bias: nil, padding: (1, 1, 1))
        let gathered = NN.Tuning.$convolution.withValue(.gemm) {
            NN.causalConv3d(xs, weight: half.widened(), bias: nil, padding: (1, 1, 1))
        }
        #expect(direct.shape == [1, 64, 2, 6, 52])
        #expect(direct.maxAbsDifference(gathered) <= 1e-5 * max(1, gathered.scalars.map(abs).max()!))
    }

    @Test func strideTwoInSpaceAndTime() {
        let x = Self.pseudoRandom([1, 5, 5, 7, 9], seed: 5)
        let w = Self.pseudoRandom([4, 5, 3, 3, 3], seed: 6) * 0.2
        let b = Self.pseudoRandom([4], seed: 7)
        let prev = Self.pseudoRandom([1, 5, 1, 7, 9], seed: 8)
        let y = NN.causalConv3d(x, weight: w, bias: b, stride: (2, 2, 2), padding: (1, 1, 1), previous: prev)
        expectClose(y, Self.referenceConv3d(x, w, b, previous: prev, stride: (2, 2, 2), padding: (1, 1, 1)),
                    tolerance: 1e-5, "conv3d stride 2")
    }

    /// A bf16-stored weight gives the widened float32 weight's result (widening is exact).
    @Test func halfWeightsMatchTheirWidenedCopy() {
        let x = Self.pseudoRandom([1, 20, 2, 6, 52], seed: 9)
        let w = HalfWeightTests.weight([16, 20, 3, 3, 3], .bf16, seed: 10)
        let prev = Self.pseudoRandom([1, 20, 2, 6, 52], seed: 11)
        let half = NN.causalConv3d(x, weight: w, bias: nil, padding: (1, 1, 1), previous: prev)
        let full = NN.causalConv3d(x, weight: w.widened(), bias: nil, padding: (1, 1, 1), previous: prev)
        #expect(half.maxAbsDifference(full) <= 1e-6 * max(1, full.scalars.map(abs).max()!))
    }

    @Test(arguments: ["rms_norm_video", "rms_norm_image", "rms_norm_silu"])
    func channelRMSNormMatchesDiffusers(name: String) throws {
        guard let c = try Self.cases()[name] else { throw OpFixtureError.missingCase(name) }
        let y = NN.channelRMSNorm(try c.t("x"), gamma: try c.t("gamma"), bias: c.has("bias") ? try c.t("bias") : nil,
                                  silu: name.hasSuffix("silu"))
        expectClose(y, try c.t("out"), tolerance: 2e-6, name)
    }

    @Test func channelRMSNormOfZeroIsZero() {
        let y = NN.channelRMSNorm(Tensor(zeros: [1, 3, 4]), gamma: Tensor([1, 2, 3]))
        #expect(y.scalars.allSatisfy { $0 == 0 })
    }

    /// nn.Upsample(mode="nearest-exact") at factor 2 picks the same source pixels as "nearest".
    @Test func nearestExactUpsampleMatchesDiffusers() throws {
        guard let c = try Self.cases()["upsample_nearest_exact"] else { throw OpFixtureError.missingCase("upsample") }
        #expect(NN.upsampleNearest2x(try c.t("x")) == (try c.t("out")))
    }

    @Test func frameLayouts() {
        let x = Self.pseudoRandom([2, 3, 4, 2, 5], seed: 12)
        let images = NN.framesToImages(x)
        #expect(images.shape == [8, 3, 2, 5])
        // images[n·F + t, c] = x[n, c, t]
        let imageIndex = ((1 * 4 + 2) * 3 + 1) * 10 + 7, frameIndex = ((1 * 3 + 1) * 4 + 2) * 10 + 7
        #expect(images.scalars[imageIndex] == x.scalars[frameIndex])
        #expect(NN.imagesToFrames(images, frames: 4) == x)
        #expect(NN.concatFrames([NN.frames(x, 0..<1), NN.frames(x, 1..<4)]) == x)
        let f = NN.frames(x, 2..<3)
        let sliceIndex = (1 * 3 + 2) * 10 + 4, sourceIndex = ((1 * 3 + 2) * 4 + 2) * 10 + 4
        #expect(f.shape == [2, 3, 1, 2, 5])
        #expect(f.scalars[sliceIndex] == x.scalars[sourceIndex])
        // Time interleave: out[n, c, 2t + s] = in[n, s·C + c, t].
        let y = Self.pseudoRandom([1, 6, 2, 1, 3], seed: 13)
        let z = NN.interleaveTimeChannels(y)
        #expect(z.shape == [1, 3, 4, 1, 3])
        for c in 0..<3 { for t in 0..<2 { for s in 0..<2 { for p in 0..<3 {
            let out: Int = (c * 4 + 2 * t + s) * 3 + p
            let source: Int = ((s * 3 + c) * 2 + t) * 3 + p
            #expect(z.scalars[out] == y.scalars[source])
        } } } }
    }
}
