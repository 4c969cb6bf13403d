import Foundation
import ModelIO
import Models
import TensorCore

/// One model of `evosearch bench models`; the list mirrors `CASES` in tools/bench/torch_models.py.
public struct ModelBenchCase: Sendable {
    public enum Kind: Sendable { case unet, vae, text, flux, wan }
    /// A ceiling on ours/PyTorch (ratio of medians), with an optional stretch goal.
    public struct Target: Sendable {
        public var max: Double
        public var stretch: Double?
    }
    public var name: String
    public var kind: Kind
    /// Committed under Tests/ModelsTests/Fixtures/sd (else built with random weights by the tools script).
    public var fixture: Bool
    /// SD 2.1-sized (fewer timed runs, no untimed forward per block).
    public var large: Bool
    public var target: Target?
    /// The safetensors variant the tools script saves a random-weight model in (`fp16`, or `bf16` for Flux and Wan).
    public var variant: String? = "fp16"
    /// A component of an embedded model as committed (`shapes-flux-small/transformer`, under models/), instead
    /// of a fixture or a random-weight model.
    public var embedded: String? = nil

    static let smallUNet = Target(max: 0.25, stretch: nil)
    public static let all: [ModelBenchCase] = [
        ModelBenchCase(name: "unet-sd1", kind: .unet, fixture: true, large: false, target: smallUNet),
        ModelBenchCase(name: "unet-sd2", kind: .unet, fixture: true, large: false, target: smallUNet),
        ModelBenchCase(name: "unet-heads", kind: .unet, fixture: true, large: false, target: smallUNet),
        ModelBenchCase(name: "vae-small", kind: .vae, fixture: true, large: false, target: nil),
        ModelBenchCase(name: "vae-three", kind: .vae, fixture: true, large: false, target: nil),
        ModelBenchCase(name: "text-quickgelu", kind: .text, fixture: true, large: false, target: nil),
        ModelBenchCase(name: "text-gelu", kind: .text, fixture: true, large: false, target: nil),
        ModelBenchCase(name: "small-unet", kind: .unet, fixture: false, large: false, target: smallUNet),
        ModelBenchCase(name: "sd21-unet", kind: .unet, fixture: false, large: true, target: Target(max: 1.0, stretch: 0.9)),
        ModelBenchCase(name: "sd21-text", kind: .text, fixture: false, large: true, target: nil),
        ModelBenchCase(name: "sd-vae", kind: .vae, fixture: false, large: true, target: nil),
        ModelBenchCase(name: "flux-blocks", kind: .flux, fixture: false, large: true, target: Target(max: 0.9, stretch: nil),
                       variant: "bf16"),
        ModelBenchCase(name: "shapes-flux-small", kind: .flux, fixture: false, large: false, target: Target(max: 0.5, stretch: nil),
                       variant: nil, embedded: "shapes-flux-small/transformer"),
        ModelBenchCase(name: "shapes-wan-small", kind: .wan, fixture: false, large: false, target: nil,
                       variant: nil, embedded: "shapes-wan-small/transformer"),
        ModelBenchCase(name: "shapes-wan-large", kind: .wan, fixture: false, large: false, target: nil,
                       variant: nil, embedded: "shapes-wan-large/transformer"),
        ModelBenchCase(name: "wan-blocks", kind: .wan, fixture: false, large: true, target: Target(max: 0.9, stretch: nil),
                       variant: "bf16"),
    ]

    /// Loads the model in `dir` and returns one forward pass on the inputs in `io` (UNet: ε; VAE: decode; text:
    /// last hidden state; Flux: the transformer's velocity for the packed tokens; Wan: the transformer's velocity for
    /// the latents). With `widenWeights` (UNets)
    /// every layer weight is widened to float32 at load instead of staying in its stored precision — the
    /// reference for what keeping f16 weights costs.
    public func makeForward(dir: URL, variant: String?, io: SafetensorsFile, widenWeights: Bool = false) throws -> () throws -> Tensor {
        switch kind {
        case .unet:
            let config = try UNet2DConditionConfig(ConfigFile.load(dir.appendingPathComponent("config.json")))
            let checkpoint = try SafetensorsCheckpoint(directory: dir, baseName: "diffusion_pytorch_model", variant: variant)
            let store = WeightStore(widenWeights ? WidenedWeights(checkpoint) : checkpoint as any WeightSource)
            let unet = try UNet2DConditionModel(config: config, weights: store)
            try store.finish()
            let sample = try io.tensor(named: "sample"), context = try io.tensor(named: "encoder_hidden_states")
            let timesteps = try io.tensor(named: "timestep").scalars
            return { try unet(sample, timesteps: timesteps, context: context) }
        case .vae:
            let vae = try AutoencoderKL(directory: dir, variant: variant)
            let latents = try io.tensor(named: "latents")
            return { vae.decode(latents) }
        case .text:
            let model = try CLIPTextModel(directory: dir, variant: variant)
            let t = try io.tensor(named: "input_ids")
            let ids = (0..<t.shape[0]).map { t.row($0).scalars.map { Int($0) } }
            return { try model(ids).lastHiddenState }
        case .flux:
            let model = try FluxTransformer2DModel(directory: dir, variant: variant)
            let hidden = try io.tensor(named: "hidden_states"), context = try io.tensor(named: "encoder_hidden_states")
            let pooled = try io.tensor(named: "pooled_projections"), timestep = try io.tensor(named: "timestep").scalars
            let guidance = io.contains("guidance") ? try io.tensor(named: "guidance").scalars : nil
            let txtIds = try io.tensor(named: "txt_ids"), imgIds = try io.tensor(named: "img_ids")
            return {
                try model(hidden, encoderHiddenStates: context, pooledProjections: pooled, timestep: timestep,
                          guidance: guidance, txtIds: txtIds, imgIds: imgIds)
            }
        case .wan:
            let model = try WanTransformer3DModel(directory: dir, variant: variant)
            let hidden = try io.tensor(named: "hidden_states"), context = try io.tensor(named: "encoder_hidden_states")
            let timestep = try io.tensor(named: "timestep").scalars
            return { try model(hiddenStates: hidden, timestep: timestep, encoderHiddenStates: context) }
        }
    }

    /// "2×4×32×32, ctx 77×1024" from the inputs file's header.
    public func inputDescription(_ io: SafetensorsFile) -> String {
        func dims(_ n: String) -> [Int] { (try? io.info(named: n).shape) ?? [] }
        switch kind {
        case .unet:
            let c = dims("encoder_hidden_states")
            return dims("sample").map(String.init).joined(separator: "×") + (c.count == 3 ? ", ctx \(c[1])×\(c[2])" : "")
        case .vae: return dims("latents").map(String.init).joined(separator: "×") + " latent"
        case .text: return dims("input_ids").map(String.init).joined(separator: "×") + " tokens"
        case .flux, .wan:
            let c = dims("encoder_hidden_states")
            return dims("hidden_states").map(String.init).joined(separator: "×") + (c.count == 3 ? ", ctx \(c[1])×\(c[2])" : "")
        }
    }
}

/// A weight source whose layer weights come widened to float32 (an f32 copy made at load), for comparing the
/// speed of kernels that read stored f16/bf16 weights with the speed on f32 weights.
public struct WidenedWeights: WeightSource {
    let base: any WeightSource
    public init(_ base: any WeightSource) { self.base = base }
    public var displayName: String { base.displayName }
    public var names: [String] { base.names }
    public func shape(of name: String) -> [Int]? { base.shape(of: name) }
    public func tensor(named name: String) throws -> Tensor { try base.tensor(named: name) }
    public func storedTensor(named name: String) throws -> StoredTensor { StoredTensor(try base.tensor(named: name)) }
    public func displayName(containing name: String) -> String { base.displayName(containing: name) }
}
