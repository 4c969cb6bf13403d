import Testing
import RandomStreams

@Suite struct PhiloxTests {
    /// Known-answer vectors of Philox-4×32-10 published with Random123 (kat_vectors).
    @Test func knownAnswerVectors() {
        let a = Philox4x32.block(counter: (0, 0, 0, 0), key: (0, 0))
        #expect([a.0, a.1, a.2, a.3] == [0x6627_e8d5, 0xe169_c58d, 0xbc57_ac4c, 0x9b00_dbd8])
        let b = Philox4x32.block(counter: (.max, .max, .max, .max), key: (.max, .max))
        #expect([b.0, b.1, b.2, b.3] == [0x408f_276d, 0x41c8_3b0e, 0xa20b_c7c6, 0x6d54_51fd])
        let c = Philox4x32.block(counter: (0x243f_6a88, 0x85a3_08d3, 0x1319_8a2e, 0x0370_7344), key: (0xa409_3822, 0x299f_31d0))
        #expect([c.0, c.1, c.2, c.3] == [0xd16c_fe09, 0x94fd_cceb, 0x5001_e420, 0x2412_6ea1])
    }

    @Test func streamsAreReproducibleAndDistinct() {
        let k = NoiseKey(seed: 7, purpose: .mutation, generation: 2, individual: 5, step: 20)
        #expect(k.gaussians(33) == k.gaussians(33))
        // A prefix of a longer draw equals the shorter draw.
        #expect(Array(k.gaussians(100).prefix(33)) == k.gaussians(33))
        var other = k; other.individual = 6
        #expect(k.gaussians(8) != other.gaussians(8))
        var otherPurpose = k; otherPurpose.purpose = .stepNoise
        #expect(k.gaussians(8) != otherPurpose.gaussians(8))
    }

    @Test func gaussiansHaveUnitMoments() {
        let z: [Double] = NoiseKey(seed: 1, purpose: .initialNoise).gaussians(200_000).map(Double.init)
        let n = Double(z.count)
        let mean: Double = z.reduce(0, +) / n
        var m2 = 0.0, m4 = 0.0
        for v in z { let c = v - mean; m2 += c * c; m4 += c * c * c * c }
        let variance = m2 / n
        let kurtosis = m4 / n / (variance * variance)
        // Standard errors: mean 0.0022, variance 0.0032, kurtosis ≈ 0.011; bounds are ~5 s.e.
        #expect(abs(mean) < 0.012)
        #expect(abs(variance - 1) < 0.016)
        #expect(abs(kurtosis - 3) < 0.06)
    }

    @Test func integersAreUniformAndSubsetsDistinct() {
        var s = PhiloxStream(NoiseKey(seed: 3, purpose: .selection))
        var counts = [Int](repeating: 0, count: 6)
        for _ in 0..<60_000 { counts[s.nextInt(below: 6)] += 1 }
        #expect(counts.allSatisfy { abs($0 - 10_000) < 500 })
        let subset = s.sampleWithoutReplacement(9, from: 10)
        #expect(Set(subset).count == 9 && subset.allSatisfy { $0 < 10 })
    }
}
