import Foundation
import Testing
import TensorCore

/// Larger shapes that take the operators' tiled and multi-core paths, against naive double-precision
/// references written out loop by loop.
@Suite struct OpsLargeTests {
    /// Naive conv2d in Double (NCHW, OIHW, groups; padding (vertical, horizontal)).
    static func naiveConv(_ x: Tensor, _ w: Tensor, _ b: Tensor?, stride: Int, padding: (Int, Int), groups: Int) -> Tensor {
        let (n, c, h, wd) = (x.shape[0], x.shape[1], x.shape[2], x.shape[3])
        let (o, cg, kh, kw) = (w.shape[0], w.shape[1], w.shape[2], w.shape[3])
        let oh = (h + 2 * padding.0 - kh) / stride + 1, ow = (wd + 2 * padding.1 - kw) / stride + 1
        let og = o / groups
        var out = [Float](repeating: 0, count: n * o * oh * ow)
        for img in 0..<n { for oc in 0..<o { for y in 0..<oh { for xx in 0..<ow {
            var s = Double(b?.scalars[oc] ?? 0)
            let g = oc / og
            for ic in 0..<cg { for i in 0..<kh { for j in 0..<kw {
                let iy = y * stride - padding.0 + i, ix = xx * stride - padding.1 + j
                if iy < 0 || iy >= h || ix < 0 || ix >= wd { continue }
                s += Double(x.scalars[((img * c + g * cg + ic) * h + iy) * wd + ix]) * Double(w.scalars[((oc * cg + ic) * kh + i) * kw + j])
            } } }
            out[((img * o + oc) * oh + y) * ow + xx] = Float(s)
        } } } }
        return Tensor(shape: [n, o, oh, ow], scalars: out)
    }

    @Test func convLargeAndTiledMatchesNaive() {
        let x = testTensor([2, 16, 33, 30], seed: 1)
        let w = testTensor([12, 16, 3, 3], seed: 2, scale: 0.2)
        let b = testTensor([12], seed: 3)
        for (stride, padding) in [(1, 1), (2, 1)] {
            let ref = Self.naiveConv(x, w, b, stride: stride, padding: (padding, padding), groups: 1)
            expectClose(NN.conv2d(x, weight: w, bias: b, stride: stride, padding: padding), ref, "conv large s\(stride)")
        }
        let w1 = testTensor([12, 16, 1, 1], seed: 4)
        expectClose(NN.conv2d(x, weight: w1, bias: b), Self.naiveConv(x, w1, b, stride: 1, padding: (0, 0), groups: 1), "conv 1x1 large")
        // The direct channels-last kernel: 72 output channels (a partial 16-lane block), widths that are not
        // multiples of its 6-pixel tile, stride 1 and 2, two images.
        let xd = testTensor([2, 32, 23, 29], seed: 6)
        let wd = testTensor([72, 32, 3, 3], seed: 7, scale: 0.1), bd = testTensor([72], seed: 8)
        for stride in [1, 2] {
            let y = NN.Tuning.$convolution.withValue(.direct) { NN.conv2d(xd, weight: wd, bias: bd, stride: stride, padding: 1) }
            expectClose(y, Self.naiveConv(xd, wd, bd, stride: stride, padding: (1, 1), groups: 1), "conv direct s\(stride)")
        }
        // The implicit GEMM over a padded copy: three stacked images, a non-square image, 13 output channels (a
        // partial 6-row group), kernels 3×3 / 5×5 / 3×1 with their paddings (shared padding between rows and
        // images), unpadded, and padding wider than the kernel reaches (1×3 with padding 1 above and below: no
        // sharing), with and without bias.
        let xi = testTensor([3, 20, 9, 14], seed: 20)
        for (kh, kw, ph, pw, hasBias) in [(3, 3, 1, 1, true), (5, 5, 2, 2, false), (3, 1, 1, 0, true), (3, 3, 0, 0, true),
                                          (1, 3, 1, 1, true), (2, 2, 1, 1, false)] {
            let wi = testTensor([13, 20, kh, kw], seed: UInt64(21 + kh * 10 + kw), scale: 0.2)
            let bi = hasBias ? testTensor([13], seed: 22) : nil
            let y = NN.Tuning.$convolution.withValue(.implicitGEMM) {
                NN.conv2d(xi, weight: wi, bias: bi, stride: (1, 1), padding: (ph, pw))
            }
            let ref = Self.naiveConv(xi, wi, bi, stride: 1, padding: (ph, pw), groups: 1)
            #expect(y.shape == ref.shape)
            expectClose(y, ref, "conv implicit GEMM k\(kh)x\(kw) p\(ph),\(pw)")
        }
        // Winograd F(2×2, 3×3): odd and even sizes (a last half tile row/column), tile rows that cross the
        // 16-tile panels and 8-tile groups (7, 10 tiles per row), three stacked images, 13 output channels (a
        // partial 6-row group), one 8×8 image (one panel, split by output channels over the threads), with and
        // without bias.
        for (n, c, o, h, w, hasBias) in [(3, 20, 13, 9, 14, true), (1, 7, 13, 8, 8, true), (2, 16, 24, 16, 16, false),
                                         (1, 9, 6, 21, 20, true), (2, 5, 7, 1, 3, true)] {
            let xw = testTensor([n, c, h, w], seed: UInt64(30 + h), scale: 2)
            let ww = testTensor([o, c, 3, 3], seed: UInt64(31 + w), scale: 0.2)
            let bw = hasBias ? testTensor([o], seed: 32) : nil
            let y = NN.Tuning.$convolution.withValue(.winograd) {
                NN.conv2d(xw, weight: ww, bias: bw, stride: 1, padding: 1, winograd: WinogradKernel(weight: ww))
            }
            let ref = Self.naiveConv(xw, ww, bw, stride: 1, padding: (1, 1), groups: 1)
            #expect(y.shape == ref.shape)
            expectClose(y, ref, "conv Winograd \(n)×\(c)×\(h)×\(w) → \(o)")
        }
        // Channel offsets ([N, O] and [O]) and a residual added by the convolution: by the Winograd output transform
        // and, on the other paths, afterwards — both equal to the separate additions.
        do {
            let xo = testTensor([2, 6, 10, 9], seed: 40), wo = testTensor([7, 6, 3, 3], seed: 41, scale: 0.3)
            let bo = testTensor([7], seed: 42), residual = testTensor([2, 7, 10, 9], seed: 43)
            let kernel = WinogradKernel(weight: wo)
            for offsets in [testTensor([2, 7], seed: 44), testTensor([7], seed: 45)] {
                let plain = NN.conv2d(xo, weight: wo, bias: bo, stride: 1, padding: 1)
                let expected = NN.add(NN.addPerChannel(plain, offsets), residual)
                for algorithm in [NN.ConvolutionAlgorithm.winograd, .implicitGEMM, .gemm] {
                    let y = NN.Tuning.$convolution.withValue(algorithm) {
                        NN.conv2d(xo, weight: wo, bias: bo, stride: 1, padding: 1, winograd: kernel,
                                  channelOffsets: offsets, residual: residual)
                    }
                    expectClose(y, expected, "conv + offsets \(offsets.shape) + residual, \(algorithm)")
                }
            }
        }
        let wg = testTensor([12, 4, 3, 3], seed: 5)
        expectClose(NN.conv2d(x, weight: wg, bias: nil, stride: 1, padding: 1, groups: 4),
                    Self.naiveConv(x, wg, nil, stride: 1, padding: (1, 1), groups: 4), "conv groups 4 large")
    }

    /// Naive attention in Double.
    static func naiveAttention(_ q: Tensor, _ k: Tensor, _ v: Tensor, heads: Int, mask: Tensor?) -> Tensor {
        let (b, lq, e) = (q.shape[0], q.shape[1], q.shape[2]), lk = k.shape[1], ev = v.shape[2]
        let d = e / heads, dv = ev / heads
        let scale = 1 / Double(d).squareRoot()
        var out = [Float](repeating: 0, count: b * lq * ev)
        for bi in 0..<b { for h in 0..<heads { for i in 0..<lq {
            var s = [Double](repeating: 0, count: lk)
            for j in 0..<lk {
                var acc = 0.0
                for t in 0..<d { acc += Double(q.scalars[(bi * lq + i) * e + h * d + t]) * Double(k.scalars[(bi * lk + j) * e + h * d + t]) }
                s[j] = acc * scale + Double(mask?.scalars[i * lk + j] ?? 0)
            }
            let m = s.max()!
            let ex = s.map { Foundation.exp($0 - m) }
            let z = ex.reduce(0, +)
            for t in 0..<dv {
                var acc = 0.0
                for j in 0..<lk { acc += ex[j] / z * Double(v.scalars[(bi * lk + j) * ev + h * dv + t]) }
                out[(bi * lq + i) * ev + h * dv + t] = Float(acc)
            }
        } } }
        return Tensor(shape: [b, lq, ev], scalars: out)
    }

    @Test func attentionLargePathsMatchNaive() {
        // Large path (one pair, Lq·Lk·d > 2^22): row blocks of 256 with the softmax split over the cores.
        let q = testTensor([1, 600, 16], seed: 10, scale: 2), k = testTensor([1, 500, 16], seed: 11, scale: 2)
        let v = testTensor([1, 500, 16], seed: 12)
        expectClose(NN.attention(query: q, key: k, value: v, heads: 1), Self.naiveAttention(q, k, v, heads: 1, mask: nil), "attention large")
        // Many key blocks (16 keys each) under a mask that hides the first 40 keys from the first 30 query rows
        // (their running max starts at −∞) and everything from row 7 (zeros, as PyTorch's SDPA).
        var blockMask = Tensor(zeros: [600, 500])
        for i in 0..<30 { for j in 0..<40 { blockMask.scalars[i * 500 + j] = -.infinity } }
        for j in 0..<500 { blockMask.scalars[7 * 500 + j] = -.infinity }
        let masked = NN.Tuning.$attentionKeyBlock.withValue(16) {
            NN.attention(query: q, key: k, value: v, heads: 1, mask: blockMask)
        }
        var reference = Self.naiveAttention(q, k, v, heads: 1, mask: blockMask)
        for c in 0..<16 { #expect(masked.scalars[7 * 16 + c] == 0); reference.scalars[7 * 16 + c] = 0 }
        expectClose(masked, reference, "attention masked key blocks")
        // Many (batch, head) pairs spread over the cores, causal mask.
        let x = testTensor([3, 77, 64], seed: 13, scale: 2)
        let mask = NN.causalMask(77)
        expectClose(NN.attention(query: x, key: x, value: x, heads: 4, mask: mask),
                    Self.naiveAttention(x, x, x, heads: 4, mask: mask), "attention clip-like")
    }

    @Test func narrowHeadAttentionMatchesNaiveAndTiled() {
        // Heads of 4 and 8 features (a small UNet's 32/64 channels over 8 heads), odd key counts (a partial last
        // chunk of 8), value heads narrower than query heads, several pairs over the cores; one head per image (each
        // pair's rows split into several work items, each packing the pair's keys itself).
        for (lq, lk, heads, e, ev) in [(256, 256, 8, 32, 32), (64, 77, 8, 64, 64), (37, 19, 3, 12, 6), (5, 1, 2, 2, 4),
                                       (70, 33, 1, 8, 8)] {
            let q = testTensor([2, lq, e], seed: 30, scale: 2), k = testTensor([2, lk, e], seed: 31, scale: 2)
            let v = testTensor([2, lk, ev], seed: 32)
            let reference = Self.naiveAttention(q, k, v, heads: heads, mask: nil)
            let narrow = NN.Tuning.$attention.withValue(.narrowHeads) { NN.attention(query: q, key: k, value: v, heads: heads) }
            let tiled = NN.Tuning.$attention.withValue(.tiled) { NN.attention(query: q, key: k, value: v, heads: heads) }
            expectClose(narrow, reference, "narrow heads \(lq)×\(lk)×\(heads)")
            expectClose(tiled, reference, "tiled \(lq)×\(lk)×\(heads)")
        }
        // Causal mask with narrow heads: row 0 sees one key.
        let x = testTensor([1, 40, 16], seed: 33, scale: 2)
        let mask = NN.causalMask(40)
        expectClose(NN.Tuning.$attention.withValue(.narrowHeads) { NN.attention(query: x, key: x, value: x, heads: 4, mask: mask) },
                    Self.naiveAttention(x, x, x, heads: 4, mask: mask), "narrow heads causal")
        // Six-feature heads (the generic pass-1 path, eight value accumulators) with 37 keys (a partial last chunk
        // of 8): the causal mask and a finite additive mask.
        let x6 = testTensor([1, 37, 18], seed: 34, scale: 2)
        let finite = testTensor([37, 37], seed: 35, scale: 3)
        for (name, m) in [("causal", NN.causalMask(37)), ("additive", finite)] {
            expectClose(NN.Tuning.$attention.withValue(.narrowHeads) { NN.attention(query: x6, key: x6, value: x6, heads: 3, mask: m) },
                        Self.naiveAttention(x6, x6, x6, heads: 3, mask: m), "narrow heads 6 features \(name)")
        }
        // A row whose keys are all masked gives zeros.
        var blank = Tensor(zeros: [40, 40])
        for j in 0..<40 { blank.scalars[3 * 40 + j] = -.infinity }
        let y = NN.Tuning.$attention.withValue(.narrowHeads) { NN.attention(query: x, key: x, value: x, heads: 4, mask: blank) }
        #expect(y.scalars[(3 * 16)..<(4 * 16)].allSatisfy { $0 == 0 })
        #expect(y.scalars.allSatisfy { $0.isFinite })
    }

    @Test func normsAndActivationsLargeMatchNaive() {
        let x = testTensor([2, 64, 24, 24], seed: 20, scale: 3)
        let w = testTensor([64], seed: 21), b = testTensor([64], seed: 22)
        let y = NN.groupNorm(x, groups: 32, weight: w, bias: b, eps: 1e-5)
        let ys = NN.groupNorm(x, groups: 32, weight: w, bias: b, eps: 1e-5, silu: true)
        let plane = 24 * 24, size = 2 * plane
        var ref = [Float](repeating: 0, count: x.count)
        for item in 0..<(2 * 32) {
            let vals = x.scalars[(item * size)..<((item + 1) * size)].map(Double.init)
            let mean = vals.reduce(0, +) / Double(size)
            let variance = vals.map { ($0 - mean) * ($0 - mean) }.reduce(0, +) / Double(size)
            for (idx, v) in vals.enumerated() {
                let ch = (item % 32) * 2 + idx / plane
                ref[item * size + idx] = Float((v - mean) / (variance + 1e-5).squareRoot() * Double(w.scalars[ch]) + Double(b.scalars[ch]))
            }
        }
        let refT = Tensor(shape: x.shape, scalars: ref)
        expectClose(y, refT, "group norm large")
        expectClose(ys, refT.map { $0 / (1 + Foundation.exp(-$0)) }, "group norm + silu large")
        let big = testTensor([1 << 16], seed: 23, scale: 8)
        expectClose(NN.silu(big), big.map { $0 / (1 + Foundation.exp(-$0)) }, "silu large")
        expectClose(NN.gelu(big), big.map { Float(0.5 * Double($0) * (1 + erf(Double($0) / 2.0.squareRoot()))) }, "gelu large")
        let rows = testTensor([300, 333], seed: 24, scale: 10)
        let sm = NN.softmax(rows)
        for r in [0, 150, 299] {
            let vals = rows.scalars[(r * 333)..<((r + 1) * 333)].map(Double.init)
            let m = vals.max()!, z = vals.map { Foundation.exp($0 - m) }.reduce(0, +)
            for j in 0..<333 { #expect(abs(Double(sm.scalars[r * 333 + j]) - Foundation.exp(vals[j] - m) / z) < 1e-6) }
        }
    }

    @Test func layoutLargeRoundTrips() {
        let x = testTensor([2, 70, 33, 35], seed: 30)
        let t = NN.nchwToTokens(x)
        #expect(t.shape == [2, 33 * 35, 70])
        let hw = 33 * 35
        let tokenIndex: Int = (hw + 100) * 70 + 69, nchwIndex: Int = (70 + 69) * hw + 100
        #expect(t.scalars[tokenIndex] == x.scalars[nchwIndex])
        #expect(NN.tokensToNCHW(t, height: 33, width: 35) == x)
        #expect(NN.permute(x, [0, 2, 3, 1]) == t.reshaped([2, 33, 35, 70]))
        let u = NN.upsampleNearest2x(x)
        let upIndex: Int = ((70 + 5) * 66 + 13) * 70 + 41, srcIndex: Int = ((70 + 5) * 33 + 6) * 35 + 20
        #expect(u.scalars[upIndex] == x.scalars[srcIndex])
        #expect(NN.add(x, x) == x + x)
        let c = NN.concatChannels([x, x, x])
        #expect(c.shape == [2, 210, 33, 35])
        let catIndex: Int = ((210 + 140 + 7) * 33 + 2) * 35 + 3, origIndex: Int = ((70 + 7) * 33 + 2) * 35 + 3
        #expect(c.scalars[catIndex] == x.scalars[origIndex])
    }
}

/// The vectorised transcendental functions behind the activations, swept against Double references.
@Suite struct OpsActivationAccuracyTests {
    @Test func activationsSweepAgainstDouble() {
        let n = 200_001
        let x = Tensor((0..<n).map { Float(-20 + 40 * Double($0) / Double(n - 1)) })
        func worst(_ y: Tensor, _ f: (Double) -> Double) -> Double {
            var m = 0.0
            for (xi, yi) in zip(x.scalars, y.scalars) {
                let r = f(Double(xi))
                m = max(m, abs(Double(yi) - r) / max(1, abs(r)))
            }
            return m
        }
        let errors: [(String, Double, Double)] = [
            ("sigmoid", worst(NN.sigmoid(x)) { 1 / (1 + Foundation.exp(-$0)) }, 1.5e-7),
            ("silu", worst(NN.silu(x)) { $0 / (1 + Foundation.exp(-$0)) }, 3e-7),
            ("gelu", worst(NN.gelu(x)) { 0.5 * $0 * (1 + erf($0 / 2.0.squareRoot())) }, 3e-7),
            ("gelu tanh", worst(NN.gelu(x, approximate: .tanh)) { 0.5 * $0 * (1 + tanh(0.7978845608028654 * ($0 + 0.044715 * $0 * $0 * $0))) }, 3e-7),
            ("quickGELU", worst(NN.quickGELU(x)) { $0 / (1 + Foundation.exp(-1.702 * $0)) }, 3e-7),
        ]
        for (name, e, tol) in errors {
            if ProcessInfo.processInfo.environment["OPS_PRINT_ERRORS"] != nil { print("ops-error sweep \(name): \(e)") }
            #expect(e <= tol, "\(name): \(e)")
        }
        // The shifted exponential of softmax and attention (VMath.expNonPositive, its own polynomial): rows [0, x]
        // give e^x / (1 + e^x); relative error over the whole range where it is not flushed to 0, x ∈ [−86.6, 0].
        let m = 100_001
        let xs = (0..<m).map { Float(-86.6 * Double($0) / Double(m - 1)) }
        let pairs = NN.softmax(Tensor(shape: [m, 2], scalars: xs.flatMap { [0, $0] }))
        var softmaxError = 0.0
        for (i, xi) in xs.enumerated() {
            let e = Foundation.exp(Double(xi)), r = e / (1 + e)
            softmaxError = max(softmaxError, abs(Double(pairs.scalars[2 * i + 1]) - r) / r)
        }
        if ProcessInfo.processInfo.environment["OPS_PRINT_ERRORS"] != nil { print("ops-error sweep softmax exp: \(softmaxError)") }
        #expect(softmaxError <= 3e-7, "softmax e^x relative error \(softmaxError)")
        // Softmax rows with huge spreads: exact zeros for underflow, ones for dominant entries.
        let s = NN.softmax(Tensor(shape: [2, 3], scalars: [0, -200, -.infinity, 1000, 0, 999]))
        #expect(s.scalars[1] == 0 && s.scalars[2] == 0 && s.scalars[0] == 1)
        #expect(abs(s.scalars[3] - Float(1 / (1 + Foundation.exp(-1.0)))) < 1e-7)
    }
}
