import Foundation
import RandomStreams
import ShapesWorld
import TensorCore
import Testing

/// The video verifier against the ground truth on random clips, under the image verifier's degradations
/// (`Degrade`, applied to every frame with its own noise key).
///
/// 200 clips per condition by default; for the full figure:
///
///     EVOSEARCH_VIDEO_AGREEMENT_CLIPS=1000 swift test -c release --skip-build --filter ShapesVideoAgreementTests
///
/// (`EVOSEARCH_VIDEO_AGREEMENT_FRAMES` sets the clip length, 17 by default.)
@Suite struct ShapesVideoAgreementTests {
    enum Condition: String, CaseIterable, Sendable {
        case clean, blurred = "blur σ=1", noisy = "noise σ=0.06"
        case modelLike = "blur σ=1 + noise σ=0.06 + colour cast ±0.08"
    }

    static let clips = ProcessInfo.processInfo.environment["EVOSEARCH_VIDEO_AGREEMENT_CLIPS"].flatMap(Int.init) ?? 200
    static let frames = ProcessInfo.processInfo.environment["EVOSEARCH_VIDEO_AGREEMENT_FRAMES"].flatMap(Int.init) ?? 17

    /// Counts of one condition: constraints judged alike, and (prompt × clip) verdicts equal in every constraint.
    struct Tally: Sendable {
        var constraints = 0, constraintsAgreeing = 0
        var verdicts = [0, 0, 0], verdictsAgreeing = [0, 0, 0]   // own prompt, near miss, other prompt
        var mismatches: [String] = []
        mutating func add(_ o: Tally) {
            constraints += o.constraints; constraintsAgreeing += o.constraintsAgreeing
            for k in 0..<3 { verdicts[k] += o.verdicts[k]; verdictsAgreeing[k] += o.verdictsAgreeing[k] }
            mismatches += o.mismatches.prefix(max(0, 5 - mismatches.count))
        }
    }

    /// Each clip is judged against its own prompt, a near miss (`nearMiss`) and another random prompt, on the
    /// ground-truth tracks and on the tracks found in the (degraded) frames; every constraint's answer must agree.
    @Test func verifierAgreesWithGroundTruthOnRandomClips() throws {
        let sampler = try ClipSampler(frameCount: Self.frames)
        let n = Self.clips
        var lines: [String] = []
        var tallies: [Condition: Tally] = [:]
        let started = Date()
        for condition in Condition.allCases {
            let parts = TallySlots(count: n)
            Parallel.forRanges(n, costPerItem: 1 << 22) { range in
                var tally = Tally()
                for i in range { Self.judge(i, condition, sampler, into: &tally) }
                parts.set(range.lowerBound, tally)
            }
            var total = Tally()
            for t in parts.values.compactMap({ $0 }) { total.add(t) }
            tallies[condition] = total
            let own = pct(total.verdictsAgreeing[0], total.verdicts[0]), near = pct(total.verdictsAgreeing[1], total.verdicts[1])
            let other = pct(total.verdictsAgreeing[2], total.verdicts[2])
            lines.append("  \(condition.rawValue): constraints \(pct(total.constraintsAgreeing, total.constraints)) of \(total.constraints); whole verdicts own prompt \(own), near miss \(near), other prompt \(other)")
            for m in total.mismatches { lines.append("    disagreement \(m)") }
        }
        print("shapes-video-verifier agreement with ground truth (\(n) clips of \(Self.frames) frames per condition, \(String(format: "%.1f", Date().timeIntervalSince(started))) s):\n" + lines.joined(separator: "\n"))
        for c in Condition.allCases {
            let t = try #require(tallies[c])
            #expect(Double(t.constraintsAgreeing) >= 0.99 * Double(t.constraints), "\(c.rawValue): \(t.constraintsAgreeing) of \(t.constraints)")
            for k in 0..<3 {
                #expect(Double(t.verdictsAgreeing[k]) >= 0.99 * Double(t.verdicts[k]), "\(c.rawValue) prompt kind \(k)")
            }
        }
        // The near misses are misses: most are false on their clip's ground truth.
        var falseNear = 0
        for i in 0..<n {
            var rng = PhiloxStream(NoiseKey(seed: 707, purpose: .worldSampling, individual: i))
            let (prompt, clip) = sampler.randomExample(&rng)
            if !ShapesVideoVerifier(prompt: Self.nearMiss(prompt)).verify(clip: clip).allSatisfied { falseNear += 1 }
        }
        #expect(falseNear == n, "\(falseNear) of \(n) near misses fail on the ground truth")
    }

    static func judge(_ i: Int, _ condition: Condition, _ sampler: ClipSampler, into tally: inout Tally) {
        var rng = PhiloxStream(NoiseKey(seed: 707, purpose: .worldSampling, individual: i))
        let (prompt, clip) = sampler.randomExample(&rng)
        let tasks = ShapesVideoTask.allCases
        var other = sampler.randomPrompt(tasks[rng.nextInt(below: tasks.count)], &rng)
        while other == prompt { other = sampler.randomPrompt(tasks[rng.nextInt(below: tasks.count)], &rng) }
        let video = ShapesRenderer().renderTensor(clip)
        let frames = (0..<clip.frameCount).map { f -> Tensor in
            let frame = video.row(f)
            func key(_ g: Int) -> NoiseKey { NoiseKey(seed: 707, purpose: .worldSampling, generation: g, individual: i, step: f) }
            switch condition {
            case .clean: return frame
            case .blurred: return Degrade.blur(frame, sigma: 1)
            case .noisy: return Degrade.noise(frame, sigma: 0.06, key: key(1))
            case .modelLike:
                return Degrade.noise(Degrade.drift(Degrade.blur(frame, sigma: 1), amount: 0.08, key: key(2)), sigma: 0.06, key: key(3))
            }
        }
        let degraded = Tensor.stack(frames)
        for (k, p) in [prompt, nearMiss(prompt), other].enumerated() {
            let verifier = ShapesVideoVerifier(prompt: p)
            let truth = verifier.verify(clip: clip)
            guard let found = try? verifier.verify(video: degraded) else {
                tally.mismatches.append("#\(i) \"\(p.text)\": unreadable"); tally.verdicts[k] += 1; continue
            }
            let agree = zip(truth.constraints, found.constraints).count { $0.satisfied == $1.satisfied }
            tally.constraints += truth.constraints.count
            tally.constraintsAgreeing += agree
            tally.verdicts[k] += 1
            if agree == truth.constraints.count && found.constraints.count == truth.constraints.count {
                tally.verdictsAgreeing[k] += 1
            } else if tally.mismatches.count < 5 {
                tally.mismatches.append("#\(i) \"\(p.text)\": truth [\(truth)] detected [\(found)] with \(found.tracks.count) tracks for \(clip.objects.count) objects")
            }
        }
    }

    /// A prompt one word away from `p` that the clip drawn for `p` does not satisfy: the opposite direction for a
    /// single motion ("staying still" ↔ "moving right"), appearing ↔ disappearing, the second object's motion changed
    /// for two motions, the two motions swapped for colour binding, the other count, the opposite relation.
    static func nearMiss(_ p: ShapesVideoPrompt) -> ShapesVideoPrompt {
        let opposite: [ShapeMotion: ShapeMotion] = [.left: .right, .right: .left, .up: .down, .down: .up, .still: .right]
        switch p {
        case let .single(a, .motion(m)): return .single(a, .motion(opposite[m]!))
        case let .single(a, action): return .single(a, action == .appearing ? .disappearing : .appearing)
        case let .pair(a, ma, b, mb):
            if p.task == .colorBinding { return .pair(a, mb, b, ma) }
            return .pair(a, ma, b, opposite[mb]!)
        case let .count(n, a, m): return .count(n == 4 ? 3 : n + 1, a, m)
        case let .relation(a, r, b, m):
            let flipped: [SpatialRelation: SpatialRelation] = [.leftOf: .rightOf, .rightOf: .leftOf, .above: .below, .below: .above]
            return .relation(a, flipped[r]!, b, m)
        }
    }

    private func pct(_ a: Int, _ b: Int) -> String { String(format: "%.1f%%", 100 * Double(a) / Double(max(b, 1))) }
}

/// Per-range tallies written from parallel workers (keyed by the range's start).
private final class TallySlots: @unchecked Sendable {
    private let lock = NSLock()
    private(set) var values: [ShapesVideoAgreementTests.Tally?]
    init(count: Int) { values = Array(repeating: nil, count: count) }
    func set(_ i: Int, _ v: ShapesVideoAgreementTests.Tally) { lock.lock(); values[i] = v; lock.unlock() }
}
