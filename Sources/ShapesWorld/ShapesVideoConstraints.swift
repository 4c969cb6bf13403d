import Foundation

/// The constraints a prompt of the video grammar makes, judged on object tracks (the ground truth of a clip or the
/// tracker's output), `frameCount` frames of images `imageWidth` pixels wide.
///
///     single(a, motion m)          [a present in every frame, a m]
///     single(a, appearing)         [a present from some frame k ≥ 0 to the end, a absent before it (k ≥ 1)]
///     single(a, disappearing)      [a present from the start to some frame k, a absent after it (k < F − 1)]
///     pair(a, ma, b, mb)           [a present in every frame, a ma, b present in every frame, b mb]
///     count(n, a, m)               [a present in every frame, exactly n a in every frame, n a m]
///     relation(a, r, b, m)         [a present in every frame, a m, b present in every frame, b m,
///                                   a r b in at least `relationFrameFraction` of the frames]
///
/// Each object phrase is served by one track (matching its shape, and its colour when named); the phrases of a pair
/// or relation by distinct tracks. Of all such assignments (a phrase may be left without a track) the one
/// satisfying the most constraints is judged, ties going to the one whose earlier constraints hold, which does not
/// depend on the tracks' order. "Present in every frame" is temporal consistency: one track, not several objects in
/// turn. Motions are `ShapeMotion.isShown` on the track's net displacement from the first frame to the last.
/// "Absent" means no object matching the phrase in those frames, on any track. A count is the image world's
/// exact count (`ShapesConstraints`) applied to every frame's objects; "n a m" needs n tracks matching a, present in
/// the first and last frames, showing m. Relations use `SpatialRelation.holds` with the image world's margin in
/// each frame where both tracks are present. Objects the prompt does not name are ignored except in counts.
public struct ShapesVideoConstraints: Sendable, Equatable {
    public let prompt: ShapesVideoPrompt

    /// Fraction of the clip's frames (rounded up) in which a relation must hold: 90 %, so 16 of 17 frames; one
    /// frame in ten may fail.
    public static let relationFrameFraction = 0.9

    public init(_ prompt: ShapesVideoPrompt) { self.prompt = prompt }

    /// The constraints with their verdicts, in the order above.
    public func evaluate(_ tracks: [ObjectTrack], frameCount: Int, imageWidth: Int) -> [ShapesConstraintResult] {
        let judge = TrackJudge(tracks: tracks, frameCount: frameCount, imageWidth: imageWidth)
        switch prompt {
        case let .single(a, action):
            return judge.best(roles: [(a, action)], extra: nil)
        case let .pair(a, ma, b, mb):
            return judge.best(roles: [(a, .motion(ma)), (b, .motion(mb))], extra: nil)
        case let .relation(a, r, b, m):
            return judge.best(roles: [(a, .motion(m)), (b, .motion(m))]) { ta, tb in judge.relation(a, r, b, ta, tb) }
        case let .count(n, a, m):
            return judge.count(n, a, m)
        }
    }
}

/// The evaluation rules of `ShapesVideoConstraints` over one set of tracks.
private struct TrackJudge {
    let tracks: [ObjectTrack]
    let frameCount: Int
    let imageWidth: Int

    func matching(_ p: ObjectPhrase) -> [Int] { tracks.indices.filter { p.matches(tracks[$0].shape, tracks[$0].color) } }

    /// Whether any object matching `p` is present in one of `frames`.
    func anyMatch(_ p: ObjectPhrase, in frames: Range<Int>) -> Bool {
        matching(p).contains { t in frames.contains { tracks[t].isPresent(atFrame: $0) } }
    }

    func displacementText(_ t: ObjectTrack) -> String {
        guard let d = t.netDisplacement else { return "not in both the first and last frames" }
        return String(format: "moved %+.1f, %+.1f px", d.dx, d.dy)
    }

    /// The constraints of one phrase served by track `t` (nil: no track). `besides` names the phrase it must be
    /// distinct from, when the two could match one object.
    func roleConstraints(_ p: ObjectPhrase, _ action: VideoAction, _ t: Int?, besides: ObjectPhrase?) -> [ShapesConstraintResult] {
        let track = t.map { tracks[$0] }
        let suffix = besides.map { " besides the \($0.words)" } ?? ""
        switch action {
        case .motion(let m):
            let present = track.map { $0.presentFrames == frameCount } ?? false
            let moves = track.flatMap(\.netDisplacement).map { m.isShown(byDisplacementX: $0.dx, y: $0.dy, imageWidth: imageWidth) } ?? false
            return [
                ShapesConstraintResult("\(p.words) present in every frame\(suffix)", present,
                                       detail: track.map { "in \($0.presentFrames) of \(frameCount)" } ?? ""),
                ShapesConstraintResult("\(p.words) \(m.rawValue)", moves, detail: track.map(displacementText) ?? ""),
            ]
        case .appearing:
            // Present on a suffix [k, F), and nothing matching before k.
            let k = track.flatMap(\.firstFrame)
            let tail = track.map { tr in k.map { k in tr.lastFrame == frameCount - 1 && tr.presentFrames == frameCount - k } ?? false } ?? false
            let absentBefore = tail && k.map { $0 >= 1 && !anyMatch(p, in: 0..<$0) } ?? false
            return [
                ShapesConstraintResult("\(p.words) present from when it appears to the end", tail,
                                       detail: k.map { "first seen in frame \($0)" } ?? ""),
                ShapesConstraintResult("\(p.words) absent before it appears", absentBefore),
            ]
        case .disappearing:
            let k = track.flatMap(\.lastFrame)
            let head = track.map { tr in k.map { k in tr.firstFrame == 0 && tr.presentFrames == k + 1 } ?? false } ?? false
            let absentAfter = head && k.map { $0 < frameCount - 1 && !anyMatch(p, in: ($0 + 1)..<frameCount) } ?? false
            return [
                ShapesConstraintResult("\(p.words) present from the start until it disappears", head,
                                       detail: k.map { "last seen in frame \($0)" } ?? ""),
                ShapesConstraintResult("\(p.words) absent after it disappears", absentAfter),
            ]
        }
    }

    /// The best assignment of distinct tracks (or none) to the roles, with an extra constraint on the pair.
    func best(roles: [(ObjectPhrase, VideoAction)],
              extra: ((Int?, Int?) -> ShapesConstraintResult)?) -> [ShapesConstraintResult] {
        let options = roles.map { [nil] + matching($0.0).map(Optional.some) }
        var bestResult: [ShapesConstraintResult]?
        func consider(_ chosen: [Int?]) {
            var result: [ShapesConstraintResult] = []
            for (i, role) in roles.enumerated() {
                let besides = i == 1 && role.0.matchesSome(of: roles[0].0) ? roles[0].0 : nil
                result += roleConstraints(role.0, role.1, chosen[i], besides: besides)
            }
            if let extra { result.append(extra(chosen[0], chosen.count > 1 ? chosen[1] : nil)) }
            if let b = bestResult, !Self.better(result, than: b) { return }
            bestResult = result
        }
        if roles.count == 1 {
            for t in options[0] { consider([t]) }
        } else {
            for t in options[0] { for u in options[1] where t == nil || t != u { consider([t, u]) } }
        }
        return bestResult ?? []
    }

    /// More constraints satisfied; on a tie, the first differing constraint satisfied.
    static func better(_ a: [ShapesConstraintResult], than b: [ShapesConstraintResult]) -> Bool {
        let na = a.count(where: \.satisfied), nb = b.count(where: \.satisfied)
        if na != nb { return na > nb }
        for (x, y) in zip(a, b) where x.satisfied != y.satisfied { return x.satisfied }
        return false
    }

    func relation(_ a: ObjectPhrase, _ r: SpatialRelation, _ b: ObjectPhrase, _ ta: Int?, _ tb: Int?) -> ShapesConstraintResult {
        let need = Int((ShapesVideoConstraints.relationFrameFraction * Double(frameCount)).rounded(.up))
        let statement = "\(a.words) \(r.rawValue) \(b.words) in at least \(need) of \(frameCount) frames"
        guard let ta, let tb else { return ShapesConstraintResult(statement, false) }
        let margin = SpatialRelation.margin(imageSize: imageWidth)
        let held = (0..<frameCount).count { f in
            guard let p = tracks[ta].centers[f], let q = tracks[tb].centers[f] else { return false }
            return r.holds((p.x, p.y), (q.x, q.y), margin: margin)
        }
        return ShapesConstraintResult(statement, held >= need, detail: "held in \(held)")
    }

    func count(_ n: Int, _ a: ObjectPhrase, _ m: ShapeMotion) -> [ShapesConstraintResult] {
        let ia = matching(a)
        let present = ia.contains { tracks[$0].presentFrames == frameCount }
        let perFrame = ShapesConstraints(.count(n, a))
        var counts: [Int] = []
        var exact = true
        for f in 0..<frameCount {
            let objects = tracks.objects(atFrame: f)
            counts.append(objects.count { a.matches($0.shape, $0.color) })
            if !perFrame.evaluate(objects, imageWidth: imageWidth)[1].satisfied { exact = false }
        }
        let moving = ia.count { t in
            tracks[t].netDisplacement.map { m.isShown(byDisplacementX: $0.dx, y: $0.dy, imageWidth: imageWidth) } ?? false
        }
        let plural = "\(a.color.map { $0.rawValue + " " } ?? "")\(a.shape.plural)"
        let low = counts.min() ?? 0, high = counts.max() ?? 0
        return [
            ShapesConstraintResult("\(a.words) present in every frame", present),
            ShapesConstraintResult("exactly \(n) \(plural) in every frame", exact,
                                   detail: low == high ? "found \(low)" : "found \(low)…\(high)"),
            ShapesConstraintResult("\(n) \(plural) \(m.rawValue)", moving >= n, detail: "\(moving) tracks do"),
        ]
    }
}
