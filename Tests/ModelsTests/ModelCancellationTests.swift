import Foundation
import ModelIO
import Models
import TensorCore
import Testing

/// A stop flag raised after a given number of polls, counting every poll.
final class PollCounter: @unchecked Sendable {
    private let lock = NSLock()
    private var polls = 0
    let stopAfter: Int

    init(stopAfter: Int) { self.stopAfter = stopAfter }

    var count: Int { lock.withLock { polls } }
    var check: CancellationCheck {
        CancellationCheck { [self] in lock.withLock { polls += 1; return polls > stopAfter } }
    }
}

/// Long model calls poll their cancellation check between blocks and inside their attentions, and a stop
/// request at any poll ends the call with the cancellation error (never with an output computed in part).
@Suite struct ModelCancellationTests {
    @Test func unetStopsAtEveryPoll() throws {
        let unet = try UNet2DConditionModel(directory: SDFixtures.url("unet-sd1"))
        let io = try SDFixtures.io("unet-sd1")
        let sample = try io.tensor(named: "sample"), context = try io.tensor(named: "encoder_hidden_states")
        let timesteps = try io.tensor(named: "timestep").scalars
        let c = unet.config
        // At least: every resnet, every attention block (before it and inside), and once before the output.
        let resnets = c.layersPerBlock.reduce(0, +) + 2 + c.layersPerBlock.map { $0 + 1 }.reduce(0, +)

        let full = PollCounter(stopAfter: .max)
        let out = try unet(sample, timesteps: timesteps, context: context, cancellation: full.check)
        #expect(full.count > resnets)
        #expect(out.maxAbsDifference(try unet(sample, timesteps: timesteps, context: context)) == 0)
        for k in 0..<full.count {
            let stop = PollCounter(stopAfter: k)
            #expect(throws: CancellationCheck.Cancelled.self, "stop after \(k) polls") {
                try unet(sample, timesteps: timesteps, context: context, cancellation: stop.check)
            }
        }
    }

    @Test func fluxTransformerStopsAtEveryPoll() throws {
        let model = try FluxTransformer2DModel(directory: FluxFixtures.url("transformer-guidance"))
        let i = try FluxFixtures.inputs("guidance")
        func run(_ check: CancellationCheck) throws(FluxTransformerError) -> Tensor {
            try model(i.hidden, encoderHiddenStates: i.context, pooledProjections: i.pooled, timestep: i.timestep,
                      guidance: i.guidance, txtIds: i.txtIds, imgIds: i.imgIds, cancellation: check)
        }
        let full = PollCounter(stopAfter: .max)
        #expect(try run(full.check).maxAbsDifference(try run(.never)) == 0)
        #expect(full.count > model.config.numLayers + model.config.numSingleLayers)
        for k in 0..<full.count {
            let stop = PollCounter(stopAfter: k)
            #expect(throws: FluxTransformerError.cancelled, "stop after \(k) polls") { try run(stop.check) }
        }
    }
}
