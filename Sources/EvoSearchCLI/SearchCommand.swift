import ArgumentParser
import Catalog
import Foundation
import Remote
import Reports
import Rewards
import Sampling
import Schedulers
import Search
import ShapesWorld
import TensorCore

/// `evosearch search`: the main job. Searches a diffusers pipeline's denoising trajectory (any registered family) with any method
/// for images a reward prefers, shows progress, and leaves best.png, top-k PNGs, one contact sheet per
/// generation, result.json and a self-contained report.html in `--output-dir`.
///
/// Every argument is checked (method options against the step count and budget, reward names and their model
/// directories, model directory, output directory) before any weights are loaded; each problem is a one-line
/// error. Ctrl-C or SIGTERM stops at the next model call and still writes the whole directory, marked interrupted;
/// a lock file refuses a second run into the same directory, and an earlier result.json is removed before the run.
struct SearchCommand: ParsableCommand {
    /// The reward used when `--reward` is not given (for image and video models), once it is registered.
    static let defaultReward = "shapes-verifier"
    static let defaultVideoReward = "shapes-video-verifier"
    static let defaultPrompt = ShapesPromptSuite.defaultSearchPrompt
    static let defaultVideoPrompt = "a red circle to the left of a blue square, both moving down"

    static let configuration = CommandConfiguration(
        commandName: "search",
        abstract: "Search over a diffusion or flow pipeline's denoising trajectory (Stable Diffusion, FLUX.1, Wan 2.1) for images or videos a reward prefers.",
        discussion: """
        --model and --reward-model take a directory or an embedded model name (\(EmbeddedModels.names.joined(separator: ", "))), \
        looked up in $EVOSEARCH_MODELS, ./models and the repository's models/. The sampler defaults to DDIM with \
        η = 1, whose per-step noise is what EvoSearch mutates at intermediate steps. Rewards: \
        \(Catalog.rewards.names.joined(separator: ", ")) or weighted sums of them (see --reward); model-based ones load \
        --reward-model once, before the search, and embed --prompt once. Writes to --output-dir: best.png, \
        top-1.png … top-K.png, generation-<g>.png (each generation's population with rewards), result.json (settings, \
        accounting, every scored sample with its lineage, the reward-vs-NFE curve) and report.html (one self-contained \
        page). Progress goes to standard error: one updating line on a terminal, else a line per second and per \
        generation. Ctrl-C or SIGTERM stops cleanly and still writes everything found so far (exit 130 / 143); a second \
        run into the same --output-dir while one runs is refused. With --denoiser-endpoint the denoiser network runs \
        on Open Inference Protocol servers (tools/serve): each batch is split across the endpoints by their speed; \
        failed requests are retried, then moved to another endpoint; when none can serve, the search stops and writes \
        what it found (exit 1). --reward-endpoint does the same for the reward: decoded images and the prompt go to \
        the served reward model (tools/serve --reward), one score per image comes back. Video models (Wan 2.1) take a         reward that scores videos (\(defaultVideoReward), the default for them) or an image reward averaged over         --frame-average K frames; best.png and top-K.png are then animated PNGs, best.mp4 is written when ffmpeg is         installed, and the contact sheets show frame strips.
        """)

    @Option(name: .long, help: "Pipeline directory (diffusers layout) or embedded model name.")
    var model: String = "shapes-sd-small"
    @Option(name: .long, help: ArgumentHelp("The prompt. Default: \"\(SearchCommand.defaultPrompt)\" for image models, \"\(SearchCommand.defaultVideoPrompt)\" for video models."))
    var prompt: String?
    @Option(name: .long, help: "Negative prompt.")
    var negativePrompt: String = ""
    @OptionGroup var method: MethodOptions
    @Option(name: .long, help: ArgumentHelp(rewardHelp + " Default: \(SearchCommand.defaultReward) (when this build has it)."))
    var reward: String?
    @Option(name: .long, help: ArgumentHelp(rewardModelHelp + " DIR may be an embedded model name (e.g. shapes-clip)."))
    var rewardModel: [String] = []
    @Option(name: .long, help: ArgumentHelp("Video models: score each video with an image reward (e.g. clip) on K evenly spaced frames, first and last included, and take the mean.", valueName: "K"))
    var frameAverage: Int?
    @Option(name: .long, parsing: .unconditional, help: "Compute budget in NFE (one guided UNet evaluation of one latent). Default: 16 rollouts (16 × --steps).")
    var budget: Int?
    @OptionGroup(title: "Sampler") var sampler: SamplerOptions
    @OptionGroup var memory: MemoryOptions
    @Option(name: .long, parsing: .unconditional, help: "Seed of every random stream of the search.")
    var seed: UInt64 = 0
    @Option(name: .long, help: ArgumentHelp("Largest batch per model call, or auto: the fastest per sample, timed on the model at start-up within what --max-memory allows (8 for a search too short to be worth timing, or with a zscore() reward). The result does not depend on it, except through a zscore() reward, which standardises over each batch.", valueName: "n|auto"))
    var maxBatch: MaxBatch = .auto
    @Option(name: .long, help: "Output directory.")
    var outputDir: String = "out/search"
    @Option(name: .long, parsing: .unconditional, help: "How many of the best images to write as top-1.png … top-K.png.")
    var keepTop: Int = 4
    @Flag(name: .long, help: "No progress output.")
    var quiet = false
    @Option(name: .long, help: ArgumentHelp("Run the denoiser network on an Open Inference Protocol (KServe v2) gRPC server instead of locally; repeat to split each batch across several serving the same weights. Prompt encoding, guidance, the sampler and decoding stay local.", valueName: "grpc://HOST:PORT/MODEL"))
    var denoiserEndpoint: [String] = []
    @Option(name: .long, help: ArgumentHelp("Score with a reward model on an Open Inference Protocol (KServe v2) gRPC server (tools/serve/serve.py --reward DIR) instead of --reward/--reward-model: each call sends the decoded images and the prompt; repeat to split the scoring across several servers. The reward is named served:MODEL in the results.", valueName: "grpc://HOST:PORT/MODEL"))
    var rewardEndpoint: [String] = []
    @Option(name: .long, help: ArgumentHelp("Decode samples with the pipeline's VAE decoder on an Open Inference Protocol (KServe v2) gRPC server (tools/serve/serve.py --pipeline DIR --component decoder): final latents go out, images come back; repeat to split the decoding across several servers. Image pipelines (Stable Diffusion, FLUX.1).", valueName: "grpc://HOST:PORT/MODEL"))
    var decoderEndpoint: [String] = []
    @Option(name: .long, parsing: .unconditional, help: "Deadline of one remote denoiser, decoder or reward request, in seconds.")
    var endpointTimeout: Double = RemotePolicy().requestTimeout
    @Option(name: .long, help: "Attempts of a remote request on one endpoint before it moves to the next.")
    var endpointAttempts: Int = RemotePolicy().attemptsPerEndpoint

    /// What the checks resolved, ready to load.
    struct Plan {
        var prompt: String
        var kind: SampleKind
        var reward: String
        var budget: Int
        var strategy: any SearchStrategy
        var modelDirectory: URL
        var rewardModels: [String]
        var sampler: SearchSampler
        var endpoints: [InferenceEndpoint] = []
        var rewardEndpoints: [InferenceEndpoint] = []
        var decoderEndpoints: [InferenceEndpoint] = []
        var remotePolicy = RemotePolicy()
    }

    /// Every check that needs no weights; throws the first problem as a one-line `CLIError`.
    func plan() throws -> Plan {
        // What the model makes decides the default prompt and reward; reading model_index.json loads nothing.
        let resolver = EmbeddedModels()
        let modelDirectory = try resolver.resolvePipeline(model)
        let kind: SampleKind
        do { kind = try Catalog.pipelines.family(of: modelDirectory).kind } catch { throw CLIError("--model \(model): \(error)") }
        let prompt = self.prompt ?? (kind == .video ? Self.defaultVideoPrompt : Self.defaultPrompt)
        if let k = frameAverage {
            guard kind == .video else { throw CLIError("--frame-average: \(model) makes images; the option is for video models") }
            guard k >= 1 else { throw CLIError("--frame-average: \(k) must be at least 1 frame") }
        }
        let rewardEndpoints = try Self.endpoints(rewardEndpoint, option: "--reward-endpoint")
        if !rewardEndpoints.isEmpty, reward != nil || !rewardModel.isEmpty {
            throw CLIError("--reward-endpoint: the served model is the reward; give either --reward-endpoint or --reward/--reward-model, not both")
        }
        if !rewardEndpoints.isEmpty, prompt.isEmpty {
            throw CLIError("--reward-endpoint: the served reward compares images with the prompt, which is empty; pass a non-empty --prompt")
        }
        let rewardSpec: String
        if let first = rewardEndpoints.first { rewardSpec = "served:\(first.model)" } else if let reward { rewardSpec = reward } else {
            let name = kind == .video && frameAverage == nil ? Self.defaultVideoReward : Self.defaultReward
            guard Catalog.rewards.entry(name) != nil else {
                throw CLIError("--reward: the default \(name) is not in this build; choose one of \(Catalog.rewards.names.joined(separator: ", "))")
            }
            rewardSpec = name
        }
        let parsed: RewardRegistry.Spec?
        do { parsed = rewardEndpoints.isEmpty ? try Catalog.rewards.parse(rewardSpec) : nil } catch { throw CLIError("--reward: \(error.description)") }

        let sampler = self.sampler.forSearch()
        let steps = sampler.steps
        if case .fixed(let n) = maxBatch, n < 1 { throw CLIError("--max-batch: \(n) must be at least 1, or auto") }
        if keepTop < 0 { throw CLIError("--keep-top: \(keepTop) must be 0 or more") }
        let budget = self.budget ?? 16 * steps
        if budget < 1 { throw CLIError("--budget: \(budget) must be positive") }

        // Method options against the step count and the budget.
        let strategy = try method.strategy(stepCount: steps, budget: budget)
        do {
            try requireAtLeastOneRollout(stepCount: steps, budget: budget)
            try strategy.validate(stepCount: steps, budget: budget)
        } catch { throw CLIError(error.description) }

        // Reward models are directories or embedded names.
        let rewardModels = try resolver.resolveRewardModels(rewardModel, rewardNames: Catalog.rewards.names)
        let models: RewardModels
        do { models = try RewardModels(arguments: rewardModels, registry: Catalog.rewards) } catch { throw CLIError("--reward-model: \(error.description)") }
        for entry in parsed?.entries ?? [] where entry.needsModel && models.directory(for: entry.name) == nil {
            throw CLIError("--reward \(entry.name) needs --reward-model DIR (a directory or an embedded model such as shapes-clip)")
        }

        let endpoints = try Self.endpoints(denoiserEndpoint, option: "--denoiser-endpoint")
        let decoderEndpoints = try Self.endpoints(decoderEndpoint, option: "--decoder-endpoint")
        guard endpointTimeout > 0, endpointTimeout.isFinite else { throw CLIError("--endpoint-timeout: \(endpointTimeout) must be a positive number of seconds") }
        guard endpointAttempts >= 1 else { throw CLIError("--endpoint-attempts: \(endpointAttempts) must be at least 1") }

        try Self.checkOutputDirectory(outputDir)
        return Plan(prompt: prompt, kind: kind, reward: rewardSpec, budget: budget, strategy: strategy, modelDirectory: modelDirectory, rewardModels: rewardModels,
                    sampler: sampler, endpoints: endpoints, rewardEndpoints: rewardEndpoints, decoderEndpoints: decoderEndpoints,
                    remotePolicy: RemotePolicy(requestTimeout: endpointTimeout, attemptsPerEndpoint: endpointAttempts))
    }

    /// The endpoints of a repeatable `option`; the first that does not parse is a one-line error naming the option.
    static func endpoints(_ texts: [String], option: String) throws -> [InferenceEndpoint] {
        try texts.map { text in
            do throws(InferenceEndpointError) { return try InferenceEndpoint(parsing: text) } catch {
                throw CLIError("\(option) \(error.description)")
            }
        }
    }

    /// Creates `path` (and its parents) if needed and proves it writable by creating and removing a probe file;
    /// a one-line error names the part of the path that is in the way.
    static func checkOutputDirectory(_ path: String) throws {
        let fm = FileManager.default
        var ancestor = URL(fileURLWithPath: path).standardizedFileURL
        while !fm.fileExists(atPath: ancestor.path), ancestor.path != "/" { ancestor = ancestor.deletingLastPathComponent() }
        if !EmbeddedModels.isDirectory(ancestor) {
            throw CLIError("--output-dir \(path): \(ancestor.path) is a file, not a directory; choose another output directory")
        }
        do { try fm.createDirectory(atPath: path, withIntermediateDirectories: true) } catch {
            throw CLIError("--output-dir \(path): cannot create it (\(error.localizedDescription)); choose a writable location")
        }
        let probe = URL(fileURLWithPath: path).appendingPathComponent(".evosearch-write-check-\(getpid())")
        guard fm.createFile(atPath: probe.path, contents: Data()) else {
            throw CLIError("--output-dir \(path): the directory is not writable; choose a writable location")
        }
        try? fm.removeItem(at: probe)
    }

    func run() throws {
        // Signals are caught from the start: one during loading still ends with the settings written, marked
        // interrupted (the search then stops before its first model call).
        let interrupt = InterruptFlag()
        let plan = try plan()
        let claim: OutputDirectoryClaim
        do { claim = try OutputDirectoryClaim(URL(fileURLWithPath: outputDir)) } catch { throw CLIError("--output-dir: \(error.description)") }
        defer { claim.release() }
        let prompt = plan.prompt
        let pipeline = try loadPipeline(plan.modelDirectory.path)
        let request = plan.sampler.request(prompt: prompt, negativePrompt: negativePrompt)
        let estimate: MemoryEstimate
        do { estimate = try pipeline.memoryEstimate(for: request) } catch { throw cliError(error) }
        func memoryPlan(_ batch: Int) -> MemoryPlan { .search(estimate, budget: plan.budget, maxBatch: batch, decodeBatch: batch) }
        // auto: the largest batch the probe may try halves until its plan fits; the smallest is checked as usual.
        var largestBatch = BatchSizeProbe().largest
        if case .fixed(let n) = maxBatch { largestBatch = n }
        while case .auto = maxBatch, largestBatch > 1, (try? memory.check(memoryPlan(largestBatch))) == nil { largestBatch /= 2 }
        try memory.check(memoryPlan(largestBatch))
        var trajectory: any Trajectory
        var network: RemoteNetwork? = nil
        if plan.endpoints.isEmpty {
            do { trajectory = try pipeline.makeTrajectory(request) } catch { throw cliError(error) }
        } else {
            do { (trajectory, network) = try RemotePipeline.trajectory(pipeline, request: request, endpoints: plan.endpoints, policy: plan.remotePolicy) }
            catch let error as RemoteModelError { throw CLIError("--denoiser-endpoint \(error.description)") }
            catch { throw cliError(error) }
        }
        var decoderNetwork: RemoteNetwork? = nil
        if !plan.decoderEndpoints.isEmpty {
            do {
                let served = try RemotelyDecodedTrajectory(trajectory, endpoints: plan.decoderEndpoints, policy: plan.remotePolicy)
                decoderNetwork = served.network
                trajectory = served
            } catch { throw CLIError("--decoder-endpoint \(error)") }
        }
        let scorer: any Reward
        var rewardNetwork: RemoteNetwork? = nil
        if plan.rewardEndpoints.isEmpty {
            scorer = try buildReward(plan.reward, modelArguments: plan.rewardModels, prompt: prompt)
        } else {
            let served: RemoteNetwork
            do { served = try RemoteNetwork(endpoints: plan.rewardEndpoints, signature: .reward, policy: plan.remotePolicy) }
            catch { throw CLIError("--reward-endpoint \(error)") }
            rewardNetwork = served
            scorer = RemoteReward(served, prompt: prompt)
        }
        let reward: any Reward
        do { reward = try FrameAveragedReward.fitted(scorer, to: plan.kind == .video ? .videos : .images, frameAverage: frameAverage) }
        catch { throw CLIError("--reward: \(error.description)") }
        let setupWarnings = sampler.warnings + pipeline.promptWarnings(for: request)
        for w in setupWarnings { FileHandle.standardError.write(Data("warning: \(w)\n".utf8)) }

        var batch = largestBatch, batchNote: String?
        if case .auto = maxBatch {
            if reward.dependsOnBatch {
                // Its scores depend on the batch: no timing, so the result stays the same on any machine.
                batch = min(BatchSizeProbe().fallback, largestBatch)
                batchNote = "auto: \(batch), not timed: the z-scored reward depends on the batch"
            } else {
                do {
                    let probe = try BatchSizeProbe(largest: largestBatch).run(trajectory, budget: plan.budget, seed: seed)
                    batch = probe.batch
                    batchNote = "auto: " + probe.summary
                } catch { throw CLIError("--max-batch auto: timing the model failed (\(error)); give --max-batch N to skip the timing") }
            }
            if !quiet, let batchNote { FileHandle.standardError.write(Data("max batch \(batchNote)\n".utf8)) }
        }
        let memoryPlan = memoryPlan(batch)

        let printer = ProgressPrinter(quiet: quiet)
        printer.start(budget: plan.budget)
        var result: SearchResult
        do {
            result = try plan.strategy.search(trajectory, reward: reward, budget: plan.budget,
                                              options: SearchOptions(seed: seed, maxBatch: batch, progress: { printer.report($0) },
                                                                     isCancelled: { interrupt.isRaised },
                                                                     spent: { printer.spent(nfe: $0, budget: $1) }))
        } catch { throw CLIError(error.description) }
        printer.finish(interrupted: result.interrupted)
        result.warnings = setupWarnings + result.warnings

        let shape = trajectory.sampleShape
        let size = (width: shape.last ?? 0, height: shape.dropLast().last ?? 0, frames: shape.count == 4 ? shape[0] : 1)
        let output = SearchOutput(result: result, decode: { try trajectory.decode($0) }, decodeBatch: batch, prompt: prompt,
                                  parameters: reportParameters(plan: plan, size: size, batch: batch, batchNote: batchNote),
                                  keepTop: keepTop, json: jsonSettings(plan: plan, batch: batch, batchNote: batchNote).merging(["memory_estimate_bytes": memoryPlan.total]) { a, _ in a },
                                  mp4: MP4Writer.available())
        let files: [String]
        do { files = try output.write(to: URL(fileURLWithPath: outputDir)) } catch { throw CLIError("--output-dir: \(error.description)") }

        print("\(result.method): best \(plan.reward) \(format(result.best.reward)) after \(result.nfe)/\(plan.budget) NFE (\(result.forwardPasses) model passes), \(result.rewardCalls) reward calls, \(String(format: "%.1f", result.wallSeconds)) s")
        print(String(format: "%.0f NFE/s; %.1f%% of the wall time outside model and reward calls (model %.2f s, reward %.2f s)",
                     Double(result.nfe) / max(result.wallSeconds, 1e-9), 100 * result.overheadFraction, result.modelSeconds, result.rewardSeconds))
        for s in [network, decoderNetwork, rewardNetwork].flatMap({ $0?.statistics ?? [] }) {
            let wire = s.serverSeconds > 0 ? String(format: ", %.1f ms per row on the wire", 1000 * max(s.seconds - s.serverSeconds, 0) / Double(max(s.rows, 1))) : ""
            print("\(s.endpoint): \(s.rows) rows in \(s.requests) requests, \(String(format: "%.2f", s.seconds)) s\(wire)\(s.failedAttempts > 0 ? ", \(s.failedAttempts) failed attempts" : "")\(s.down ? ", down" : "")")
        }
        for w in result.warnings { print("warning: \(w)") }
        print("wrote \(files.count) files to \(outputDir): open \(outputDir)/report.html")
        if let error = result.error { throw CLIError("the search stopped: \(error); what was found is in \(outputDir)") }
        if result.interrupted { throw ExitCode(interrupt.exitStatus ?? 130) }
    }

    /// The command's settings for result.json (the method's derived settings are in the result itself).
    func jsonSettings(plan: Plan, batch: Int, batchNote: String?) -> [String: Any] {
        ["prompt": plan.prompt, "frame_average": frameAverage.map { $0 as Any } ?? NSNull(), "negative_prompt": negativePrompt, "model": model, "model_directory": plan.modelDirectory.path,
         "reward": plan.reward, "reward_model": plan.rewardModels, "seed": seed, "steps": plan.sampler.steps,
         "guidance": Double(plan.sampler.guidance), "eta": Double(plan.sampler.eta), "scheduler": plan.sampler.schedulerName,
         "max_batch": batch, "max_batch_choice": batchNote ?? "given", "denoiser_endpoints": plan.endpoints.map(\.description),
         "reward_endpoints": plan.rewardEndpoints.map(\.description), "decoder_endpoints": plan.decoderEndpoints.map(\.description)]
    }

    /// The report's settings table, before the method's own settings.
    func reportParameters(plan: Plan, size: (width: Int, height: Int, frames: Int), batch: Int, batchNote: String?) -> [ReportParameter] {
        var out = [ReportParameter("model", model == plan.modelDirectory.path ? model : "\(model) (\(plan.modelDirectory.path))")]
        if !negativePrompt.isEmpty { out.append(ReportParameter("negative prompt", negativePrompt)) }
        out += [ReportParameter("method", method.method.rawValue),
                ReportParameter("reward", plan.reward + (frameAverage.map { ", mean over \($0) frames" } ?? ""))]
        if !plan.rewardModels.isEmpty { out.append(ReportParameter("reward model", plan.rewardModels.joined(separator: ", "))) }
        out += [
            ReportParameter("budget", "\(plan.budget) NFE"), ReportParameter("seed", "\(seed)"),
            ReportParameter("steps", "\(plan.sampler.steps)"),
            ReportParameter("sampler", "\(plan.sampler.schedulerName), η = \(plan.sampler.eta)"),
            ReportParameter("guidance", "\(plan.sampler.guidance)"),
            plan.kind == .video ? ReportParameter("video size", "\(size.frames) frames of \(size.width)×\(size.height)")
                : ReportParameter("image size", "\(size.width)×\(size.height)"),
            ReportParameter("max batch", batchNote.map { "\(batch) (\($0))" } ?? "\(batch)"),
        ]
        if !plan.endpoints.isEmpty {
            out.append(ReportParameter("denoiser endpoints", plan.endpoints.map(\.description).joined(separator: ", ")))
        }
        if !plan.decoderEndpoints.isEmpty {
            out.append(ReportParameter("decoder endpoints", plan.decoderEndpoints.map(\.description).joined(separator: ", ")))
        }
        if !plan.rewardEndpoints.isEmpty {
            out.append(ReportParameter("reward endpoints", plan.rewardEndpoints.map(\.description).joined(separator: ", ")))
        }
        return out
    }
}
