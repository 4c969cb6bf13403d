import Models
import RandomStreams
import Rewards
import Sampling
import Schedulers
import Search
import TensorCore
import Testing
import ToyWorlds

/// The twin-modes flow world's exact velocity stepped by UniPC (Wan 2.1's config, `solverOrder` as given).
private func uniPCWorld(steps: Int = 12, solverOrder: Int = 2) throws -> (ToyScenario, UniPCTrajectory) {
    let w = try ToyScenario.builtin(named: "twin-rare-modes-flow")
    var config = UniPCMultistepConfig()
    config.solverOrder = solverOrder
    let scheduler = try UniPCMultistepScheduler(config: config, numInferenceSteps: steps)
    return (w, UniPCTrajectory(denoiser: try w.makeDenoiser(alphasCumprod: nil), scheduler: scheduler, latentShape: [2]))
}

/// One row run by the scheduler alone with its own history, from `index` (with `history`) to the end.
private func schedulerRollout(_ t: UniPCTrajectory, _ x: Tensor, from index: Int = 0,
                              history: UniPCHistory = UniPCHistory()) throws -> Tensor {
    var x = x, history = history
    for i in index..<t.stepCount {
        let v = try t.denoiser.predict(x, timestep: t.scheduler.timesteps[i])
        let step = t.scheduler.step(modelOutput: v, stepIndex: i, sample: x, history: history)
        x = step.output.sample; history = step.history
    }
    return x
}

private func rollout(_ t: UniPCTrajectory, _ states: Tensor, from: Int, to: Int) throws -> Tensor {
    var s = states
    for i in from..<to { s = t.advance(s, modelOutput: try t.evaluate(s, at: i), at: i, noise: nil).states }
    return s
}

@Suite struct UniPCSearchTests {
    /// Rows copied, reordered and duplicated halfway keep their histories: each final latent equals the scheduler's
    /// own run of that row, bit for bit, at orders 1–3.
    @Test(arguments: [1, 2, 3])
    func historyTravelsWithEachRow(order: Int) throws {
        let (_, t) = try uniPCWorld(solverOrder: order)
        #expect(t.stateShape == [2 * (order + 2) + 2] && t.sampleStateShape == [2] && !t.isStochastic)
        var generator = TorchGenerator(seed: 3)
        let noise = generator.randn(shape: [3, 2])
        var states = t.initialState(noise: noise)
        states = try rollout(t, states, from: 0, to: 5)
        // Reorder and duplicate: rows [2, 0, 0, 1].
        let picked = [2, 0, 0, 1]
        let finals = t.sampleStates(try rollout(t, states.gatherRows(picked), from: 5, to: t.stepCount))
        for (j, r) in picked.enumerated() {
            let alone = try schedulerRollout(t, noise.gatherRows([r]))
            #expect(finals.row(j).scalars == alone.row(0).scalars, "row \(r) at position \(j)")
        }
        // The histories matter: the same latents restarted with empty histories end elsewhere.
        let latentsAt5 = t.sampleStates(states)
        let restarted = t.sampleStates(try rollout(t, t.initialState(noise: latentsAt5), from: 5, to: t.stepCount))
        #expect(restarted.scalars != finals.gatherRows([1, 2, 3]).scalars)
    }

    /// A batch mixing rows with full histories and renoised rows (empty histories) at the same index is stepped in
    /// groups: each row ends where it would alone.
    @Test func mixedHistoriesStepInGroups() throws {
        let (_, t) = try uniPCWorld()
        var generator = TorchGenerator(seed: 8)
        let noise = generator.randn(shape: [2, 2])
        let at6 = try rollout(t, t.initialState(noise: noise), from: 0, to: 6)
        let at4 = try rollout(t, t.initialState(noise: noise), from: 0, to: 4)
        let fresh = generator.randn(shape: [1, 2])
        let renoised = t.renoise(at6.gatherRows([1]), from: 6, to: 4, noise: t.initialState(noise: fresh))
        #expect(renoised.scalars[2] == 0, "a renoised row's history is empty")
        let batch = Tensor.concatenate([at4.gatherRows([0]), renoised])
        let finals = t.sampleStates(try rollout(t, batch, from: 4, to: t.stepCount))
        #expect(finals.row(0).scalars == t.sampleStates(try rollout(t, at4.gatherRows([0]), from: 4, to: t.stepCount)).row(0).scalars)
        let alone = try schedulerRollout(t, t.sampleStates(renoised), from: 4)
        #expect(finals.row(1).scalars == alone.row(0).scalars)
    }

    /// Every method runs on the UniPC trajectory within its budget, gives the same result for batch sizes 1, 7 and
    /// 256, and its best is a fully denoised sample whose recorded reward is the reward of its latent.
    @Test func everyMethodSearchesWithCarriedHistories() throws {
        let (w, t) = try uniPCWorld()
        for strategy in allStrategies {
            let budget = 40 * t.stepCount
            guard (try? strategy.validate(stepCount: t.stepCount, budget: budget)) != nil else { continue }
            let runs = try [1, 7, 256].map {
                try strategy.search(t, reward: w.makeReward(), budget: budget, options: SearchOptions(seed: 4, maxBatch: $0))
            }
            let name = type(of: strategy).methodName
            for r in runs.dropFirst() {
                #expect(r.history == runs[0].history, "\(name): history differs by batch size")
                #expect(r.best == runs[0].best)
            }
            let r = runs[0]
            #expect(r.nfe > 0 && r.nfe <= budget && r.error == nil, "\(name)")
            #expect(r.stateShape == t.stateShape)
            let latent = t.sampleStates(Tensor(shape: [1] + t.stateShape, scalars: r.best.state))
            #expect(abs(try w.makeReward().scores(latent)[0] - r.best.reward) < 1e-6, "\(name)")
        }
    }

    /// Search noise is zero on the carried history, so mutations leave it alone.
    @Test func searchNoiseSparesTheHistory() throws {
        let (w, t) = try uniPCWorld()
        let engine = SearchEngine(trajectory: t, reward: w.makeReward(), budget: 100, options: SearchOptions(seed: 1))
        let noise = engine.noise(.mutation, [NoiseIdentity(generation: 1, individual: 2)], step: 3)
        #expect(noise.shape == [1] + t.stateShape)
        #expect(noise.scalars[2...].allSatisfy { $0 == 0 } && noise.scalars[0] != 0)
        let plain = try world("twin-rare-modes-flow").1
        let reference = SearchEngine(trajectory: plain, reward: w.makeReward(), budget: 100, options: SearchOptions(seed: 1))
            .noise(.mutation, [NoiseIdentity(generation: 1, individual: 2)], step: 3)
        #expect(Array(noise.scalars[0..<2]) == reference.scalars, "the latent's noise is the single-step sampler's")
    }
}
