import Foundation
import Testing
import TensorCore
@testable import Schedulers

// Step-by-step comparisons against diffusers 0.42.1 (fixtures from tools/fixtures/make_scheduler_fixtures.py).

@Suite("diffusers traces")
struct TraceTests {
    @Test func ddpmMatchesDiffusers() throws {
        let file = try Fixtures.load(TraceFile<DDPMConfig>.self, "ddpm")
        #expect(file.cases.count == 5)
        var deterministicCases = 0
        for c in file.cases {
            let s = DDPMScheduler(config: c.config, numInferenceSteps: c.numInferenceSteps)
            #expect(s.timesteps == c.timesteps, "\(c.name): timesteps")
            #expect(s.initNoiseSigma == c.initNoiseSigma)
            checkTrace(s, c.steps, stochastic: true, initial: c.initialSample, label: c.name)
            for (i, r) in c.steps.enumerated() {
                let std = try #require(r.std)
                #expect(abs(s.noiseStd(stepIndex: i) - std) <= 1e-6 * max(1, std),
                        "\(c.name) step \(i): noiseStd \(s.noiseStd(stepIndex: i)) vs \(std)")
            }
            #expect(s.alphaCumprod(atIndex: s.stepCount) == 1)
            if let det = c.deterministicSteps {
                deterministicCases += 1
                checkTrace(s, det, stochastic: false, initial: c.initialSample, label: "\(c.name) (noise nil)")
            }
            checkAddNoise(c.addNoise, label: c.name) { s.addNoise(original: $0, noise: $1, timestep: $2) }
        }
        #expect(deterministicCases >= 2)
    }

    @Test func ddimMatchesDiffusers() throws {
        let file = try Fixtures.load(TraceFile<DDIMConfig>.self, "ddim")
        #expect(file.cases.count == 7)
        for c in file.cases {
            let eta = try #require(c.eta)
            let s = DDIMScheduler(config: c.config, numInferenceSteps: c.numInferenceSteps, eta: eta)
            #expect(s.timesteps == c.timesteps, "\(c.name): timesteps")
            #expect(s.finalAlphaCumprod == c.finalAlphaCumprod, "\(c.name): final alpha")
            checkTrace(s, c.steps, stochastic: true, initial: c.initialSample, label: c.name)
            for (i, r) in c.steps.enumerated() {
                let std = try #require(r.std)
                #expect(abs(s.noiseStd(stepIndex: i) - std) <= 1e-6 * max(1, std),
                        "\(c.name) step \(i): noiseStd \(s.noiseStd(stepIndex: i)) vs \(std)")
            }
            // noise == nil is the η = 0 update, whatever η the scheduler holds.
            let det = try #require(c.deterministicSteps)
            checkTrace(s, det, stochastic: false, initial: c.initialSample, label: "\(c.name) (noise nil)")
            // The level the last step targets is the state-index-stepCount level.
            let targets = try #require(c.targetAlphaCumprod)
            #expect(s.alphaCumprod(atIndex: s.stepCount) == targets.last!, "\(c.name): final state level")
            if c.config.timestepSpacing == .leading {
                for i in 0..<s.stepCount {
                    #expect(s.alphaCumprod(atIndex: i + 1) == targets[i], "\(c.name): level of state \(i + 1)")
                }
            }
            checkAddNoise(c.addNoise, label: c.name) { s.addNoise(original: $0, noise: $1, timestep: $2) }
        }
    }

    @Test func ddimWithZeroEtaIgnoresNoise() throws {
        let file = try Fixtures.load(TraceFile<DDIMConfig>.self, "ddim")
        let c = try #require(file.cases.first { $0.eta == 0 })
        let s = DDIMScheduler(config: c.config, numInferenceSteps: c.numInferenceSteps, eta: 0)
        let r = c.steps[3]
        let noisy = s.step(modelOutput: tensor(r.modelOutput), stepIndex: 3, sample: tensor(r.sample),
                           noise: Tensor(repeating: 5, shape: fixtureShape))
        let quiet = s.step(modelOutput: tensor(r.modelOutput), stepIndex: 3, sample: tensor(r.sample), noise: nil)
        #expect(noisy.sample == quiet.sample)
        #expect(s.noiseStd(stepIndex: 3) == 0)
    }

    @Test func eulerMatchesDiffusers() throws {
        let file = try Fixtures.load(TraceFile<EulerDiscreteConfig>.self, "euler")
        #expect(file.cases.count == 5)
        for c in file.cases {
            let s = EulerDiscreteScheduler(config: c.config, numInferenceSteps: c.numInferenceSteps)
            #expect(s.timesteps == c.timesteps, "\(c.name): timesteps \(s.timesteps) vs \(c.timesteps)")
            let sigmas = try #require(c.sigmas)
            #expect(relativeError(s.sigmas, sigmas) <= 1e-6, "\(c.name): sigmas \(s.sigmas) vs \(sigmas)")
            #expect(abs(s.initNoiseSigma - c.initNoiseSigma) <= 1e-6 * c.initNoiseSigma, "\(c.name): init sigma")
            checkTrace(s, c.steps, stochastic: false, initial: c.initialSample, label: c.name)
            // Deterministic: given noise is ignored.
            let r = c.steps[1]
            let a = s.step(modelOutput: tensor(r.modelOutput), stepIndex: 1, sample: tensor(r.sample),
                           noise: Tensor(repeating: 3, shape: fixtureShape))
            let b = s.step(modelOutput: tensor(r.modelOutput), stepIndex: 1, sample: tensor(r.sample), noise: nil)
            #expect(a.sample == b.sample)
            #expect((0..<s.stepCount).allSatisfy { s.noiseStd(stepIndex: $0) == 0 })
            checkAddNoise(c.addNoise, label: c.name) { s.addNoise(original: $0, noise: $1, timestep: $2) }
        }
    }

    @Test func flowMatchEulerMatchesDiffusers() throws {
        let file = try Fixtures.load(TraceFile<FlowMatchEulerDiscreteConfig>.self, "flow_euler")
        #expect(file.cases.count == 3)
        for c in file.cases {
            let s = try FlowMatchEulerDiscreteScheduler(config: c.config, numInferenceSteps: c.numInferenceSteps)
            #expect(s.timesteps == c.timesteps, "\(c.name): timesteps \(s.timesteps) vs \(c.timesteps)")
            #expect(s.sigmas == c.sigmas, "\(c.name): sigmas")
            checkTrace(s, c.steps, stochastic: false, initial: c.initialSample, label: c.name)
            #expect((0..<s.stepCount).allSatisfy { s.noiseStd(stepIndex: $0) == 0 })
            checkAddNoise(c.addNoise, label: c.name) { s.addNoise(original: $0, noise: $1, timestep: $2) }
        }
    }

    @Test func flowMatchSDEMatchesDiffusers() throws {
        let file = try Fixtures.load(TraceFile<FlowMatchSDEConfig>.self, "flow_sde")
        #expect(file.cases.count == 3)
        for c in file.cases {
            let s = FlowMatchSDEScheduler(config: c.config, numInferenceSteps: c.numInferenceSteps)
            #expect(s.timesteps == c.timesteps, "\(c.name): timesteps \(s.timesteps) vs \(c.timesteps)")
            #expect(s.sigmas == c.sigmas, "\(c.name): sigmas")
            checkTrace(s, c.steps, stochastic: true, initial: c.initialSample, label: c.name)
            for (i, r) in c.steps.enumerated() {
                let std = try #require(r.std)
                #expect(abs(s.noiseStd(stepIndex: i) - std) <= 1e-5,
                        "\(c.name) step \(i): noiseStd \(s.noiseStd(stepIndex: i)) vs \(std)")
                // The documented closed form σ_next·sqrt(1 − (σ_next·α/(α_next·σ))²).
                let sg = s.sigmas[i], sn = s.sigmas[i + 1]
                let r2 = sn == 0 ? 0 : (sn * (1 - sg)) / ((1 - sn) * sg)
                #expect(abs(s.noiseStd(stepIndex: i) - sn * (1 - r2 * r2).squareRoot()) <= 1e-5)
            }
            #expect(s.noiseStd(stepIndex: s.stepCount - 1) == 0)
            let det = try #require(c.deterministicSteps)
            checkTrace(s, det, stochastic: false, initial: c.initialSample, label: "\(c.name) (noise nil)")
            checkAddNoise(c.addNoise, label: c.name) { s.addNoise(original: $0, noise: $1, timestep: $2) }
        }
    }

    @Test func flowSDEWithoutNoiseIsTheFlowEulerStep() {
        let s = FlowMatchSDEScheduler(config: FlowMatchSDEConfig(flowShift: 3), numInferenceSteps: 6)
        let x = Tensor(shape: [2, 3], scalars: [0.3, -1.2, 0.8, 2.0, -0.1, 0.05])
        let v = Tensor(shape: [2, 3], scalars: [1.1, 0.4, -0.7, 0.2, 0.9, -1.5])
        for i in 0..<s.stepCount {
            let out = s.step(modelOutput: v, stepIndex: i, sample: x, noise: nil).sample
            let euler = x.scaled(1, plus: s.sigmas[i + 1] - s.sigmas[i], times: v)
            #expect(out.maxAbsDifference(euler) <= 1e-5, "step \(i)")
        }
    }
}
