import Foundation
import Models

/// The built-in toy worlds. Each is tuned so that search matters: the high-reward region holds about 2–3 % of
/// the prior's mass, so Best-of-4 reaches it in roughly 1 run out of 10 and Best-of-64 in about 8 out of 10.
///
/// - `rare-mode-bump` (2-D, vp, 50 steps): six modes on a circle of radius 3; the one at (0, −3) has weight
///   0.03, the rest share 0.97. A bump (width 0.6, height 1) sits on the rare mode. Shows a search finding a
///   region the prior rarely visits; the tilted target (α = 0.1) is ≈ 99 % that single mode.
/// - `twin-rare-modes-flow` (2-D, rectified flow, 50 steps): four heavy modes at the top, two light modes
///   (weight 0.02 each) at (±1.25, −2) and a wide bump (width 1) centred *between* them, where the prior
///   has almost no mass. The target (α = 0.1) splits ≈ 47 / 47 % over the two light modes: a good final
///   population covers both, a greedy one collapses onto one.
/// - `rare-mode-constant` (2-D, vp): the `rare-mode-bump` prior with a constant reward — every strategy should
///   then reproduce the prior (target = prior); for statistical tests of selection bias.
/// - `d64-linear-vp` (64-D, vp, 50 steps): eight isotropic components (std 0.5) with orthogonal means of norm
///   4 (rows of a Walsh–Hadamard matrix scaled by 0.5); component 5 has weight 0.03. The reward is the
///   projection on component 5's mean direction (≈ 4 there, ≈ 0 elsewhere). Target α = 0.5 (≈ 99 % mode 5).
/// - `d64-bump-flow` (64-D, rectified flow, 50 steps): the same means, std 0.4, and a bump of height 3 and
///   width 2 on the rare component 5 (rewards ≈ 0.9 there, ≈ 0.02 elsewhere). Target α = 0.15 (≈ 95 % mode 5).
extension ToyScenario {
    /// Names accepted by `builtin(named:)`.
    public static let builtinNames = ["rare-mode-bump", "twin-rare-modes-flow", "rare-mode-constant", "d64-linear-vp", "d64-bump-flow"]

    /// A built-in scenario by name (see the list above); throws naming the known ones.
    public static func builtin(named name: String) throws(ToyScenarioError) -> ToyScenario {
        switch name {
        case "rare-mode-bump":
            return try ToyScenario(name: name, dimension: 2, path: .vp, steps: 50, mixture: ringOfSix(),
                                   reward: .gaussianBump(center: [0, -3], width: 0.6, scale: 1), alpha: 0.1)
        case "rare-mode-constant":
            return try ToyScenario(name: name, dimension: 2, path: .vp, steps: 50, mixture: ringOfSix(),
                                   reward: .constant(value: 0), alpha: 0.1)
        case "twin-rare-modes-flow":
            let heavy: [[Double]] = [[-3, 1.5], [-1, 3], [1, 3], [3, 1.5]]
            let mixture = heavy.map { Component(weight: 0.24, mean: $0, std: .isotropic(0.3)) }
                + [Component(weight: 0.02, mean: [-1.25, -2], std: .isotropic(0.3)),
                   Component(weight: 0.02, mean: [1.25, -2], std: .isotropic(0.3))]
            return try ToyScenario(name: name, dimension: 2, path: .flow, steps: 50, mixture: mixture,
                                   reward: .gaussianBump(center: [0, -2], width: 1, scale: 1), alpha: 0.1)
        case "d64-linear-vp":
            let means = walshMeans()
            let norm = means[5].reduce(0) { $0 + $1 * $1 }.squareRoot()
            return try ToyScenario(name: name, dimension: 64, path: .vp, steps: 50,
                                   mixture: highDimensionalMixture(means: means, std: 0.5),
                                   reward: .linear(direction: means[5].map { $0 / norm }), alpha: 0.5)
        case "d64-bump-flow":
            let means = walshMeans()
            return try ToyScenario(name: name, dimension: 64, path: .flow, steps: 50,
                                   mixture: highDimensionalMixture(means: means, std: 0.4),
                                   reward: .gaussianBump(center: means[5], width: 2, scale: 3), alpha: 0.15)
        default:
            throw ToyScenarioError(source: "scenario \"\(name)\"", field: "",
                                   problem: "is not a built-in scenario; built-ins: \(builtinNames.joined(separator: ", "))")
        }
    }

    /// Six modes at angles 90° + 60°·k on a circle of radius 3 (rounded to 1e-6); mode 3 at (0, −3) is rare.
    private static func ringOfSix() -> [Component] {
        (0..<6).map { k in
            let angle = (90 + 60 * Double(k)) * Double.pi / 180
            let mean = [3 * cos(angle), 3 * sin(angle)].map { ($0 * 1e6).rounded() / 1e6 + 0 }  // + 0: no -0
            let std: GaussianMixture.Std = k % 2 == 0 ? .isotropic(0.35) : .diagonal([0.3, 0.4])
            return Component(weight: k == 3 ? 0.03 : 0.194, mean: mean, std: std)
        }
    }

    /// Rows 0…7 of the 64×64 Walsh–Hadamard matrix times 0.5: mutually orthogonal, norm 4.
    private static func walshMeans() -> [[Double]] {
        (0..<8).map { k in (0..<64).map { i in (i & k).nonzeroBitCount % 2 == 0 ? 0.5 : -0.5 } }
    }

    /// Eight isotropic components on `means`, component 5 rare (0.03), the others 0.97/7 each.
    private static func highDimensionalMixture(means: [[Double]], std: Double) -> [Component] {
        means.enumerated().map { k, mean in
            Component(weight: k == 5 ? 0.03 : 0.97 / 7, mean: mean, std: .isotropic(std))
        }
    }
}
