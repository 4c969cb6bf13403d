import Foundation
import Testing
import TensorCore

/// The neural-network operators against PyTorch fixtures (Fixtures/ops.json, from
/// tools/fixtures/make_op_fixtures.py) and, for shapes large enough to take the tiled / parallel paths,
/// against naive double-precision references.
@Suite struct OpsFixtureTests {
    @Test func conv2dMatchesTorch() throws {
        let cases = try OpFixtures.prefixed("conv_")
        #expect(cases.count == 11)
        for (name, c) in cases {
            let x = try c.t("x"), w = try c.t("weight"), b = c.has("bias") ? try c.t("bias") : nil
            // Every case through every implementation (the direct kernel only exists for groups = 1, the implicit
            // GEMM for groups = 1 and stride 1; elsewhere they fall back to im2col).
            // Winograd where a prepared 3×3 kernel applies (stride 1, padding 1, no groups).
            let winograd = w.shape[2] == 3 && w.shape[3] == 3 ? WinogradKernel(weight: w) : nil
            for algorithm in [NN.ConvolutionAlgorithm.automatic, .gemm, .direct, .implicitGEMM, .winograd] {
                let y = try NN.Tuning.$convolution.withValue(algorithm) {
                    NN.conv2d(x, weight: w, bias: b, stride: (try c.i("stride_h"), try c.i("stride_w")),
                              padding: (try c.i("pad_h"), try c.i("pad_w")), groups: try c.i("groups"), winograd: winograd)
                }
                expectClose(y, try c.t("out"), "\(name) \(algorithm)")
            }
        }
    }

    @Test func conv2dTiledOverOutputRowsMatchesTorch() throws {
        // A column buffer of 200 floats forces one output row per tile (K = 144 rows of 10 columns).
        let c = try OpFixtures.named("conv_k3_s1_p1_tiled")
        let y = try NN.Tuning.$im2colTileFloats.withValue(200) {
            NN.conv2d(try c.t("x"), weight: try c.t("weight"), bias: try c.t("bias"), stride: 1, padding: 1)
        }
        expectClose(y, try c.t("out"), "conv tiled")
    }

    @Test func linearMatchesTorch() throws {
        for name in ["linear", "linear_nobias"] {
            let c = try OpFixtures.named(name)
            let y = NN.linear(try c.t("x"), weight: try c.t("weight"), bias: c.has("bias") ? try c.t("bias") : nil)
            expectClose(y, try c.t("out"), name)
            // A residual added as the product is stored: the same floats as a separate addition.
            let r = NN.linear(try c.t("x"), transposedWeight: NN.transposeLastTwo(try c.t("weight")),
                              bias: c.has("bias") ? try c.t("bias") : nil, residual: y)
            #expect(r.scalars == NN.add(y, y).scalars, "\(name) with residual")
        }
    }

    @Test func groupNormMatchesTorch() throws {
        let cases = try OpFixtures.prefixed("group_norm")
        #expect(cases.count == 4)
        for (name, c) in cases {
            let y = NN.groupNorm(try c.t("x"), groups: try c.i("groups"),
                                 weight: c.has("weight") ? try c.t("weight") : nil,
                                 bias: c.has("bias") ? try c.t("bias") : nil,
                                 eps: Float(try c.p("eps")), silu: name.hasSuffix("silu"))
            if c.has("out_f64") {
                // Ill-conditioned input (mean/std = 1e4): PyTorch's float statistics are 4.8e-4 (scaled 1.7e-4) off
                // the float64 result, which we match to 1e-5; against PyTorch allow its own error.
                expectClose(y, try c.t("out_f64"), name + " vs float64")
                expectClose(y, try c.t("out"), tolerance: 2e-4, name)
            } else {
                expectClose(y, try c.t("out"), name)
            }
        }
    }

    @Test func layerNormMatchesTorch() throws {
        let cases = try OpFixtures.prefixed("layer_norm")
        #expect(cases.count == 3)
        for (name, c) in cases {
            let y = NN.layerNorm(try c.t("x"), weight: c.has("weight") ? try c.t("weight") : nil,
                                 bias: c.has("bias") ? try c.t("bias") : nil, eps: Float(try c.p("eps")))
            expectClose(y, try c.t("out"), name)
        }
    }

    @Test func rmsNormMatchesTorch() throws {
        let cases = try OpFixtures.prefixed("rms_norm")
        #expect(cases.count == 2)
        for (name, c) in cases {
            let y = NN.rmsNorm(try c.t("x"), weight: c.has("weight") ? try c.t("weight") : nil, eps: Float(try c.p("eps")))
            expectClose(y, try c.t("out"), name)
        }
    }

    @Test func activationsMatchTorch() throws {
        let c = try OpFixtures.named("activations")
        let x = try c.t("x")
        // All 1000 values (up to ±1e4), and the 980 N(0, 9) ones alone so that the scale is ~10, not 1e4.
        let bulk = Array(0..<980)
        func head(_ t: Tensor) -> Tensor { Tensor(bulk.map { t.scalars[$0] }) }
        let cases: [(String, Tensor, String)] = [
            ("silu", NN.silu(x), "silu"), ("sigmoid", NN.sigmoid(x), "sigmoid"), ("gelu", NN.gelu(x), "gelu"),
            ("gelu tanh", NN.gelu(x, approximate: .tanh), "gelu_tanh"), ("quickGELU", NN.quickGELU(x), "quick_gelu"),
        ]
        for (label, y, key) in cases {
            expectClose(y, try c.t(key), label)
            expectClose(head(y), head(try c.t(key)), label + " (N(0,9) inputs)")
        }
        // Around zero the absolute error must also be small relative to the value itself.
        let small = Tensor([1e-8, -1e-8, 1e-3, -1e-3])
        for (v, y) in zip(small.scalars, NN.gelu(small).scalars) {
            #expect(abs(y - 0.5 * v * (1 + Float(erf(Double(v) / 2.0.squareRoot())))) <= 1e-6 * abs(v))
        }
    }

    @Test func gegluMatchesDiffusers() throws {
        let c = try OpFixtures.named("geglu")
        let y = NN.geglu(try c.t("x"))
        #expect(y.shape == [2, 3, 20])
        expectClose(y, try c.t("out"), "geglu")
    }

    @Test func softmaxMatchesTorch() throws {
        for name in ["softmax", "softmax_neginf"] {
            let c = try OpFixtures.named(name)
            expectClose(NN.softmax(try c.t("x")), try c.t("out"), name)
        }
    }

    @Test func attentionMatchesTorch() throws {
        let cases = try OpFixtures.prefixed("attention")
        #expect(cases.count == 6)
        for (name, c) in cases {
            let heads = try c.i("heads")
            let scale = c.params["scale"].map { Float($0) }
            let mask = c.has("mask") ? try c.t("mask") : name == "attention_causal" ? NN.causalMask(6) : nil
            let y = NN.attention(query: try c.t("q"), key: try c.t("k"), value: try c.t("v"), heads: heads,
                                 mask: mask, scale: scale)
            expectClose(y, try c.t("out"), name)
            // Smallest tiles: 6 query rows and 16 keys per step (the online softmax rescales across key blocks).
            let tiny = try NN.Tuning.$attentionRowBlock.withValue(6) {
                try NN.Tuning.$attentionKeyBlock.withValue(16) {
                    NN.attention(query: try c.t("q"), key: try c.t("k"), value: try c.t("v"), heads: heads, mask: mask, scale: scale)
                }
            }
            expectClose(tiny, try c.t("out"), name + " (tiny tiles)")
            // Both kernels (the fixtures' heads are narrow, so automatic picks NarrowHeadAttention).
            let tiled = try NN.Tuning.$attention.withValue(.tiled) {
                NN.attention(query: try c.t("q"), key: try c.t("k"), value: try c.t("v"), heads: heads, mask: mask, scale: scale)
            }
            expectClose(tiled, try c.t("out"), name + " (tiled kernel)")
            // The upcast flag changes nothing in fp32.
            let u = NN.attention(query: try c.t("q"), key: try c.t("k"), value: try c.t("v"), heads: heads,
                                 mask: mask, scale: scale, upcast: true)
            #expect(u == y)
        }
    }

    @Test func layoutOpsMatchTorchExactly() throws {
        var c = try OpFixtures.named("upsample")
        #expect(NN.upsampleNearest2x(try c.t("x")) == (try c.t("out")))
        c = try OpFixtures.named("concat")
        #expect(NN.concatChannels(try c.t("a"), try c.t("b")) == (try c.t("out")))
        c = try OpFixtures.named("nchw_tokens")
        let tokens = NN.nchwToTokens(try c.t("x"))
        #expect(tokens == (try c.t("tokens")))
        #expect(NN.tokensToNCHW(tokens, height: 4, width: 5) == (try c.t("x")))
        c = try OpFixtures.named("permute_0213")
        #expect(NN.permute(try c.t("x"), [0, 2, 1, 3]) == (try c.t("out")))
        c = try OpFixtures.named("permute_3102")
        #expect(NN.permute(try c.t("x"), [3, 1, 0, 2]) == (try c.t("out")))
        c = try OpFixtures.named("add_per_channel")
        #expect(NN.addPerChannel(try c.t("x"), try c.t("temb")) == (try c.t("out")))
        #expect(NN.addPerChannel(try c.t("x"), try c.t("temb").reshaped([2, 3, 1, 1])) == (try c.t("out")))
    }

    @Test func timestepEmbeddingMatchesDiffusers() throws {
        let cases = try OpFixtures.prefixed("timestep_")
        #expect(cases.count == 6)
        for (name, c) in cases {
            let t = try c.t("t").scalars
            let y = NN.timestepEmbedding(t, dim: try c.i("dim"), flipSinToCos: try c.i("flip") != 0,
                                         downscaleFreqShift: try c.p("shift"), scale: Float(try c.p("scale")))
            let expected = try c.t("out")
            // PyTorch's MKL exp is one ulp off for a few frequencies of dim 320 / shift 0 (see the doc comment);
            // there t·freq moves by an ulp of the argument, ≤ 6.2e-5 at t = 999. Elsewhere: ≤ 1 ulp of sin/cos.
            let tolerance = name == "timestep_320_1_0_1" ? 6.2e-5 : 1.2e-7
            #expect(y.shape == expected.shape)
            #expect(y.maxAbsDifference(expected) <= Float(tolerance), "\(name): \(y.maxAbsDifference(expected))")
            if ProcessInfo.processInfo.environment["OPS_PRINT_ERRORS"] != nil {
                print("ops-error \(name): \(y.maxAbsDifference(expected))")
            }
        }
    }

    @Test func comparisonDetectsPerturbations() throws {
        // The checks above can fail: perturbing one output by 2e-5·scale exceeds the tolerance.
        let c = try OpFixtures.named("conv_k3_s2_p1")
        let out = try c.t("out")
        var perturbed = out
        let scale = max(1, out.scalars.map(abs).max()!)
        perturbed.scalars[17] += 2e-5 * scale
        #expect(scaledError(perturbed, out) > 1e-5)
        #expect(scaledError(out, out) == 0)
    }
}
