import Rewards
import Sampling
import ShapesWorld
import Flux
import StableDiffusion
import Wan

/// What this build ships: the pipeline families the command line opens by `model_index.json`'s class name, and
/// the rewards it knows by name. Adding a family is one line here (and its module).
public enum Catalog {
    public static let pipelines = PipelineRegistry([StableDiffusionPipeline.self, FluxPipeline.self, WanPipeline.self])
    public static let rewards = RewardRegistry.standard.adding([ShapesVerifierReward.registryEntry, ShapesVideoVerifierReward.registryEntry])
}
