import Foundation
import Sampling
import StableDiffusion
import Testing

@Suite struct MemoryPlanTests {
    static let repository = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()

    @Test func sizesParseInPowersOf1024() {
        #expect(MemoryPlan.parseSize("16G") == 16 << 30)
        #expect(MemoryPlan.parseSize("512m") == 512 << 20)
        #expect(MemoryPlan.parseSize("1.5GiB") == 3 << 29)
        #expect(MemoryPlan.parseSize("2048") == 2048)
        #expect(MemoryPlan.parseSize("10 MB") == 10 << 20)
        for bad in ["", "G", "-1G", "0", "lots", "1e30T", "nan"] { #expect(MemoryPlan.parseSize(bad) == nil, "\(bad)") }
        #expect(MemoryPlan.format(3 << 29) == "1.5 GiB")
        #expect(MemoryPlan.format(320 << 20) == "320 MiB")
        #expect(MemoryPlan.format(12) == "12 B")
    }

    static let estimate = MemoryEstimate(weights: 100 << 20, perModelRow: 4 << 20, perDecodedRow: 8 << 20, state: 1024, sample: 49152)

    @Test func aHugeBudgetIsRefusedNamingTheBudget() {
        let plan = MemoryPlan.search(Self.estimate, budget: 999_999_999_999, maxBatch: 8, decodeBatch: 8)
        #expect(throws: MemoryPlanError.self) { try plan.check(limit: 20 << 30, limitSource: "available") }
        do { try plan.check(limit: 20 << 30, limitSource: "available") } catch {
            #expect(error.description.contains("scored samples"))
            #expect(error.description.contains("lower --budget"))
            #expect(error.description.contains("20 GiB available"))
        }
        // The default plan fits easily.
        #expect(throws: Never.self) {
            try MemoryPlan.search(Self.estimate, budget: 320, maxBatch: 8, decodeBatch: 8).check(limit: 1 << 30, limitSource: "available")
        }
    }

    @Test func aHugeBatchIsRefusedNamingMaxBatchAndOverflowSaturates() {
        let plan = MemoryPlan.search(Self.estimate, budget: 320, maxBatch: 100_000, decodeBatch: 8)
        do { try plan.check(limit: 20 << 30, limitSource: "available"); Issue.record("not refused") } catch {
            #expect(error.description.contains("lower --max-batch"))
        }
        let huge = MemoryPlan.search(Self.estimate, budget: Int.max, maxBatch: Int.max, decodeBatch: Int.max)
        #expect(huge.total == Int.max)
    }

    @Test func availableMemoryIsReadable() throws {
        let bytes = try #require(MemoryPlan.availableBytes())
        #expect(bytes > 1 << 26)
    }

    /// The Stable Diffusion estimate: weights are the component files; a guidance pair doubles a model row;
    /// activations grow with the image area.
    @Test func stableDiffusionEstimateFollowsTheRequest() throws {
        let dir = Self.repository.appendingPathComponent("models/shapes-sd-small")
        let pipeline = try StableDiffusionPipeline(directory: dir)
        let guided = try pipeline.memoryEstimate(for: GenerationRequest(prompt: "a red circle", guidance: 1.5))
        let plain = try pipeline.memoryEstimate(for: GenerationRequest(prompt: "a red circle", guidance: 1))
        let big = try pipeline.memoryEstimate(for: GenerationRequest(prompt: "a red circle", guidance: 1,
                                                                     width: 2 * pipeline.defaultSize, height: 2 * pipeline.defaultSize))
        let files = MemoryEstimate.weightFiles(in: ["unet", "vae", "text_encoder"].map { dir.appendingPathComponent($0) })
        #expect(guided.weights == files && files > 1 << 20)
        #expect(guided.perModelRow == 2 * plain.perModelRow)
        #expect(big.perModelRow == 4 * plain.perModelRow)
        #expect(big.perDecodedRow == 4 * plain.perDecodedRow)
        #expect(plain.state == 4 * 4 * (pipeline.defaultSize / pipeline.vaeScaleFactor) * (pipeline.defaultSize / pipeline.vaeScaleFactor))
        #expect(plain.sample == 4 * 3 * pipeline.defaultSize * pipeline.defaultSize)
    }
}
