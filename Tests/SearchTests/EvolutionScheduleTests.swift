import Search
import Testing

@Suite struct EvolutionScheduleDerivationTests {
    typealias Derivation = EvolutionSchedule.Derivation
    /// The rule before tuning: populations ≥ 4 for two or more steps, max(1, ⌊p/8⌋) elites, else E = [0].
    static let former = Derivation(minimumPopulation: 4, elitesDivisor: 8, atLeastOneElite: true, fallback: .initialNoiseOnly)

    @Test func theFormerRuleGivesItsKnownSchedules() {
        // 100 rollouts of 50 steps: unit cost 160 NFE, p = 31, 40 NFE left → P_K + 4; elites ⌊31/8⌋ = 3.
        #expect(Self.former.schedule(budget: 5000, stepCount: 50)
                == EvolutionSchedule(evolutionSteps: [0, 20, 30, 40], populations: [31, 31, 31, 31, 35], elites: 3))
        // 8 rollouts: four populations of 4 do not fit (needs 12.8 rollouts), nor three or two steps: E = [0].
        #expect(Self.former.schedule(budget: 400, stepCount: 50) == EvolutionSchedule(evolutionSteps: [0], populations: [4, 4], elites: 1))
    }

    @Test func theStandardRuleKeepsEvolvingAtEightRollouts() {
        // The populations an independent check found better than E = [0] at 8 rollouts of 50 steps.
        #expect(Derivation.standard.schedule(budget: 400, stepCount: 50)
                == EvolutionSchedule(evolutionSteps: [0, 20, 30, 40], populations: [3, 2, 2, 2, 5], elites: 0))
        #expect(EvolutionSchedule.derived(budget: 400, stepCount: 50) == Derivation.standard.schedule(budget: 400, stepCount: 50))
        #expect(EvoSearch().resolvedSchedule(stepCount: 50, budget: 400) == Derivation.standard.schedule(budget: 400, stepCount: 50))
    }

    @Test func theStandardRuleEvolvesOnlyTheInitialNoiseBelowItsDocumentedBudget() {
        // Documented: with 50 steps, two evolution steps from 5.2 rollouts (260 NFE) on; E = [0] below.
        #expect(Derivation.standard.smallestMultiStepBudget(stepCount: 50) == 260)
        #expect(Derivation.standard.schedule(budget: 259, stepCount: 50) == EvolutionSchedule(evolutionSteps: [0], populations: [3, 2], elites: 0))
        #expect(Derivation.standard.schedule(budget: 99, stepCount: 50) == EvolutionSchedule(evolutionSteps: [], populations: [1], elites: 0))
        #expect(Derivation.standard.schedule(budget: 260, stepCount: 50).evolutionSteps == [0, 20])
        #expect(Self.former.smallestMultiStepBudget(stepCount: 50) == 520)
    }

    @Test(arguments: [Derivation.standard, former,
                      Derivation(minimumPopulation: 1, elitesDivisor: nil, atLeastOneElite: false, fallback: .bestOfN),
                      Derivation(minimumPopulation: 3, elitesDivisor: 8, atLeastOneElite: false, fallback: .initialNoiseOnly)])
    func neverFewerThanTwoEvolutionStepsFromTheDocumentedBudgetOn(rule: Derivation) throws {
        for t in [2, 3, 4, 5, 7, 10, 20, 28, 50, 100] {
            let threshold = try #require(rule.smallestMultiStepBudget(stepCount: t))
            for budget in t..<(threshold + 80 * t) {
                let s = rule.schedule(budget: budget, stepCount: t)
                try s.validate(stepCount: t, budget: budget)
                // Less than one rollout is left over.
                #expect(budget - s.nfe(stepCount: t) < t, "\(rule) at \(budget)/\(t): \(s) leaves \(budget - s.nfe(stepCount: t))")
                if budget >= threshold {
                    #expect(s.evolutionSteps.count >= 2, "\(rule) at \(budget) NFE / \(t) steps collapses to \(s)")
                } else {
                    #expect(s.evolutionSteps.count <= 1, "\(rule) at \(budget) NFE / \(t) steps: \(s) below the threshold \(threshold)")
                    #expect(s.evolutionSteps == (rule.fallback == .bestOfN || budget < 2 * t ? [] : [0]), "\(rule) at \(budget)/\(t): \(s)")
                }
            }
        }
        // One step has no intermediate state to evolve at: never two steps.
        #expect(rule.smallestMultiStepBudget(stepCount: 1) == nil)
    }

    @Test func elitesFollowTheRuleAndStayBelowEveryChildPopulation() {
        let t = 50
        for rollouts in 2...200 {
            for rule in [Derivation.standard, Self.former, Derivation(minimumPopulation: 2, elitesDivisor: nil, atLeastOneElite: false, fallback: .bestOfN)] {
                let s = rule.schedule(budget: rollouts * t, stepCount: t)
                guard let smallest = s.populations.dropFirst().min() else { #expect(s.elites == 0); continue }
                #expect(s.elites < smallest)
                let p = s.populations[1]
                let share = rule.elitesDivisor.map { p / $0 } ?? 0
                #expect(s.elites == min(rule.atLeastOneElite ? max(1, share) : share, smallest - 1), "\(rule) at \(rollouts): \(s)")
            }
        }
    }
}
