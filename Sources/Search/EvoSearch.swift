import RandomStreams
import Sampling
import TensorCore

/// EvoSearch (He et al. 2025, arXiv 2505.17618) exactly as DESIGN.md §3 states it — not the published
/// code's slips (mutants are re-stepped from the index they were mutated at; the initial-noise rule is
/// keyed on index 0, not on "first generation").
///
/// Generation k (at state index e_k): every current individual is rolled out to the clean sample, its
/// states at later evolution indices cached; finals are scored and each cached state inherits its
/// rollout's reward. Selection draws from the archive of every individual whose state at e_k is known:
/// m elites kept unchanged, the rest tournament winners over random ⌊f·n⌋-subsets, mutated at e_k
/// (index 0: √(1−β²)·x + β·ε, which keeps N(0, I); later: x + σ·ε with the sampler's own step std).
/// The children continue from e_k. The result is the best sample ever scored.
public struct EvoSearch: SearchStrategy {
    public static let methodName = "evosearch"

    /// Explicit schedule; `nil` derives one from the budget by `derivation`.
    public var schedule: EvolutionSchedule?
    /// The rule that derives a schedule from the budget when `schedule` is nil.
    public var derivation: EvolutionSchedule.Derivation
    /// Tournament subset fraction f of the archive.
    public var tournamentFraction: Double
    /// Initial-noise mutation rate β.
    public var initialMutationRate: Float

    public init(schedule: EvolutionSchedule? = nil, derivation: EvolutionSchedule.Derivation = .standard,
                tournamentFraction: Double = 0.9, initialMutationRate: Float = 0.2) {
        self.schedule = schedule
        self.derivation = derivation
        self.tournamentFraction = tournamentFraction
        self.initialMutationRate = initialMutationRate
    }

    public func resolvedSchedule(stepCount: Int, budget: Int) -> EvolutionSchedule {
        schedule ?? derivation.schedule(budget: budget, stepCount: stepCount)
    }

    public func validate(stepCount: Int, budget: Int) throws(SearchConfigurationError) {
        try resolvedSchedule(stepCount: stepCount, budget: budget).validate(stepCount: stepCount, budget: budget)
        if !(tournamentFraction > 0 && tournamentFraction <= 1) {
            throw SearchConfigurationError("tournament fraction: \(tournamentFraction) must be in (0, 1]; the default is 0.9")
        }
        if !(initialMutationRate > 0 && initialMutationRate <= 1) {
            throw SearchConfigurationError("mutation rate: \(initialMutationRate) must be in (0, 1]; the default is 0.2")
        }
    }

    /// One member of the archive: its lineage, reward and the states it passed through at evolution indices.
    private struct Member {
        var lineage: SearchEngine.Lineage
        var reward: Float
        var states: [Int: [Float]]
    }

    public func run(_ engine: inout SearchEngine) -> SearchResult {
        let t = engine.stepCount
        let plan = resolvedSchedule(stepCount: t, budget: engine.budget.limit)
        let e = plan.evolutionSteps
        engine.settings = ["evolution_steps": "\(e)", "populations": "\(plan.populations)", "elites": "\(plan.elites)",
                           "tournament_fraction": "\(tournamentFraction)", "mutation_rate": "\(initialMutationRate)"]
        if !engine.trajectory.isStochastic, e.contains(where: { $0 > 0 }) {
            engine.warn("the sampler is deterministic, so mutations at evolution steps after 0 add no noise; use a stochastic sampler or evolve index 0 only")
        }
        var archive: [Member] = []
        // The current generation: lineages, their states and the index they are at.
        var lineages: [SearchEngine.Lineage] = (0..<plan.populations[0]).map { _ in
            SearchEngine.Lineage(id: engine.makeID(), generation: 0, origin: "initial")
        }
        var states = engine.initialStates(lineages.map { NoiseIdentity(generation: 0, individual: $0.id) })
        var index = 0
        var lastScored: [ScoredSample] = []
        do throws(SearchStop) {
            for generation in 0...e.count {
                // Roll the current generation out to the clean sample, keeping its states at evolution indices.
                let keep = Set(e.filter { $0 >= index })
                let rows = lineages.map { NoiseIdentity(generation: generation, individual: $0.id) }
                let (finals, kept) = try engine.rollout(states, from: index, to: t, noiseRows: rows, keep: keep)
                lastScored = try engine.scoreFinal(finals, lineage: lineages)
                for (i, l) in lineages.enumerated() {
                    archive.append(Member(lineage: l, reward: lastScored[i].reward,
                                          states: kept.mapValues { $0.row(i).scalars }))
                }
                if generation == e.count { break }

                // Selection at e_k from every member whose state there is known.
                let ek = e[generation]
                let pool = archive.filter { $0.states[ek] != nil }
                let rewards = pool.map(\.reward)
                let next = plan.populations[generation + 1]
                var stream = engine.choiceStream(generation: generation + 1, step: ek)
                var chosen: [(member: Int, elite: Bool)] = rankDescending(rewards).prefix(plan.elites).map { ($0, true) }
                let subset = max(1, Int(tournamentFraction * Double(pool.count)))
                while chosen.count < next {
                    let contenders = stream.sampleWithoutReplacement(subset, from: pool.count)
                    var winner = contenders[0]
                    for c in contenders.dropFirst() where rewards[c] > rewards[winner] { winner = c }
                    chosen.append((winner, false))
                }

                // Children: elites unchanged, the rest mutated at e_k.
                var childLineages: [SearchEngine.Lineage] = []
                var childStates: [Tensor] = []
                var mutantRows: [NoiseIdentity] = []
                var mutantPositions: [Int] = []
                for (position, pick) in chosen.enumerated() {
                    let parent = pool[pick.member]
                    let id = engine.makeID()
                    childLineages.append(SearchEngine.Lineage(id: id, generation: generation + 1, parent: parent.lineage.id,
                                                              origin: pick.elite ? "elite" : "mutation"))
                    childStates.append(Tensor(shape: engine.trajectory.stateShape, scalars: parent.states[ek]!))
                    if !pick.elite {
                        mutantRows.append(NoiseIdentity(generation: generation + 1, individual: id))
                        mutantPositions.append(position)
                    }
                }
                var next_ = Tensor.stack(childStates)
                if !mutantRows.isEmpty {
                    let parents = next_.gatherRows(mutantPositions)
                    let mutated = mutate(parents, at: ek, noise: engine.noise(.mutation, mutantRows, step: ek), trajectory: engine.trajectory)
                    let n = next_.rowSize
                    for (j, position) in mutantPositions.enumerated() {
                        next_.scalars.replaceSubrange((position * n)..<((position + 1) * n), with: mutated.row(j).scalars)
                    }
                }
                lineages = childLineages
                states = next_
                index = ek
            }
        } catch {
            return engine.finish(method: Self.methodName, population: lastScored, stop: error)
        }
        return engine.finish(method: Self.methodName, population: lastScored)
    }

    /// The mutation of DESIGN.md §3 step 4 applied to parents at state index `index`, with standard
    /// normal `noise` of the same shape.
    public func mutate(_ parents: Tensor, at index: Int, noise: Tensor, trajectory: any Trajectory) -> Tensor {
        if index == 0 {
            let beta = initialMutationRate
            // Scale ε like the initial noise itself so that the mix keeps the initial distribution.
            return parents.scaled((1 - beta * beta).squareRoot(), plus: beta, times: trajectory.initialState(noise: noise))
        }
        let sigma = trajectory.noiseStd(stepIndex: index - 1)
        return parents.scaled(1, plus: sigma, times: noise)
    }
}
