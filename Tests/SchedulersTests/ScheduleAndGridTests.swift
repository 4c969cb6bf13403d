import Foundation
import Testing
import TensorCore
@testable import Schedulers

private struct ScheduleFile: Decodable {
    struct Entry: Decodable {
        private let fixtureConfig: FixtureConfig<DDIMConfig>
        var config: DDIMConfig { fixtureConfig.value }
        let betas: [Float]
        let alphasCumprod: [Float]
        enum CodingKeys: String, CodingKey { case fixtureConfig = "config", betas, alphasCumprod = "alphas_cumprod" }
    }
    let schedules: [Entry]
}

private struct GridFile: Decodable {
    struct Grid: Decodable {
        let n: Int
        let timesteps: [Float]
        let sigmas: [Float]?
    }
    /// One scheduler configuration and its grids for many step counts; `make` builds our scheduler for n.
    struct Family: Decodable {
        let kind: String
        let grids: [Grid]
        let make: @Sendable (Int) throws -> any DenoisingScheduler
        let sigmasOf: @Sendable (Int) throws -> [Float]?

        enum CodingKeys: String, CodingKey { case kind, config, grids }

        init(from decoder: any Decoder) throws {
            let c = try decoder.container(keyedBy: CodingKeys.self)
            kind = try c.decode(String.self, forKey: .kind)
            grids = try c.decode([Grid].self, forKey: .grids)
            switch kind {
            case "ddim":
                let config = try c.decode(FixtureConfig<DDIMConfig>.self, forKey: .config).value
                make = { DDIMScheduler(config: config, numInferenceSteps: $0) }
                sigmasOf = { _ in nil }
            case "ddpm":
                let config = try c.decode(FixtureConfig<DDPMConfig>.self, forKey: .config).value
                make = { DDPMScheduler(config: config, numInferenceSteps: $0) }
                sigmasOf = { _ in nil }
            case "euler":
                let config = try c.decode(FixtureConfig<EulerDiscreteConfig>.self, forKey: .config).value
                make = { EulerDiscreteScheduler(config: config, numInferenceSteps: $0) }
                sigmasOf = { EulerDiscreteScheduler(config: config, numInferenceSteps: $0).sigmas }
            case "flow_euler":
                let config = try c.decode(FixtureConfig<FlowMatchEulerDiscreteConfig>.self, forKey: .config).value
                make = { try FlowMatchEulerDiscreteScheduler(config: config, numInferenceSteps: $0) }
                sigmasOf = { try FlowMatchEulerDiscreteScheduler(config: config, numInferenceSteps: $0).sigmas }
            case "flow_sde":
                let config = try c.decode(FixtureConfig<FlowMatchSDEConfig>.self, forKey: .config).value
                make = { FlowMatchSDEScheduler(config: config, numInferenceSteps: $0) }
                sigmasOf = { FlowMatchSDEScheduler(config: config, numInferenceSteps: $0).sigmas }
            default:
                throw DecodingError.dataCorruptedError(forKey: .kind, in: c, debugDescription: "unknown kind \(kind)")
            }
        }
    }
    let grids: [Family]
}

/// Largest distance in units in the last place between corresponding values (Int.max on count mismatch).
func ulpDistance(_ a: [Float], _ b: [Float]) -> Int {
    guard a.count == b.count else { return .max }
    var worst = 0
    for (x, y) in zip(a, b) where x != y {
        guard x.isFinite, y.isFinite, x.sign == y.sign else { return .max }
        worst = max(worst, abs(Int(x.magnitude.bitPattern) - Int(y.magnitude.bitPattern)))
    }
    return worst
}

@Suite("training schedules and timestep grids")
struct ScheduleAndGridTests {
    @Test func noiseSchedulesAreBitExact() throws {
        let file = try Fixtures.load(ScheduleFile.self, "noise_schedules")
        #expect(file.schedules.map(\.config.betaSchedule) == [.linear, .scaledLinear, .squaredcosCapV2])
        for e in file.schedules {
            let s = e.config.noiseSchedule
            #expect(s.trainTimesteps == 1000)
            let betaMismatches = zip(s.betas, e.betas).filter { $0 != $1 }.count
            let cumprodMismatches = zip(s.alphasCumprod, e.alphasCumprod).filter { $0 != $1 }.count
            #expect(betaMismatches == 0, "\(e.config.betaSchedule): \(betaMismatches) betas differ")
            #expect(cumprodMismatches == 0, "\(e.config.betaSchedule): \(cumprodMismatches) ᾱ differ")
            #expect(relativeError(s.alphasCumprod, e.alphasCumprod) <= 1e-6)
        }
    }

    @Test func floatInitMeansTheDecimal() {
        let a = DiffusionNoiseSchedule(trainTimesteps: 1000, betaStart: Float(0.00085), betaEnd: Float(0.012),
                                       betaSchedule: .scaledLinear)
        let b = DiffusionNoiseSchedule(trainTimesteps: 1000, betaStartDecimal: 0.00085, betaEndDecimal: 0.012,
                                       betaSchedule: .scaledLinear)
        #expect(a == b)
        let linear = DiffusionNoiseSchedule()
        #expect(linear.betas.first == Float(0.0001) && linear.betas.last == Float(0.02))
        #expect(linear.alphas.count == 1000 && linear.alphasCumprod.count == 1000)
        #expect(zip(linear.alphasCumprod, linear.alphasCumprod.dropFirst()).allSatisfy { $0 > $1 })
    }

    @Test func timestepGridsMatchDiffusers() throws {
        let file = try Fixtures.load(GridFile.self, "grids")
        #expect(file.grids.count == 13)
        var compared = 0
        for family in file.grids {
            for g in family.grids {
                let s = try family.make(g.n)
                #expect(s.timesteps == g.timesteps, "\(family.kind) n=\(g.n): \(s.timesteps) vs \(g.timesteps)")
                #expect(s.stepCount == g.timesteps.count)
                if let expected = g.sigmas {
                    let sigmas = try #require(try family.sigmasOf(g.n))
                    // Flow sigmas are bit-exact. Euler's go through torch's float32 sqrt, which on this CPU
                    // build is not correctly rounded (about 1 value in 5 is 1 ulp off), so allow 2 ulp there (interpolating between two such values).
                    let allowed = family.kind == "euler" ? 2 : 0
                    let ulps = ulpDistance(sigmas, expected)
                    #expect(ulps <= allowed, "\(family.kind) n=\(g.n): sigmas \(ulps) ulp apart")
                }
                compared += 1
            }
        }
        #expect(compared > 300)
    }
}
