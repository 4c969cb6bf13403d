import Foundation
import Testing
import TensorCore
@testable import ModelIO

@Suite struct CheckpointTests {
    @Test func shardedDiffusersCheckpoint() throws {
        let expected = try #require(try Fixture.expected.checkpoints["unet"])
        let ckpt = try SafetensorsCheckpoint(directory: Fixture.pipeline.appendingPathComponent("unet"))
        #expect(ckpt.url.lastPathComponent == "diffusion_pytorch_model.safetensors.index.json")
        #expect(ckpt.displayName == "unet/diffusion_pytorch_model.safetensors.index.json")
        #expect(ckpt.shards.map(\.url.lastPathComponent) == [
            "diffusion_pytorch_model-00001-of-00002.safetensors", "diffusion_pytorch_model-00002-of-00002.safetensors",
        ])
        #expect(ckpt.variant == nil)
        #expect(ckpt.names.count == expected.count)
        #expect(ckpt.names == ckpt.names.sorted())
        #expect(ckpt.metadata["total_size"] != nil)
        for (name, shape) in expected.shapes {
            #expect(ckpt.shape(of: name) == shape)
            #expect(try ckpt.info(named: name).dtype.description == expected.dtypes[name])
        }
        // Every tensor's values and shapes, across both shards.
        #expect(try checkpointHash(ckpt) == expected.fnv1a64)
        // The shard is named in per-key errors; each shard file is opened once.
        let shardNames = Set(ckpt.names.map { ckpt.displayName(containing: $0) })
        #expect(shardNames == ["unet/diffusion_pytorch_model-00001-of-00002.safetensors",
                               "unet/diffusion_pytorch_model-00002-of-00002.safetensors"])
        #expect(Set(ckpt.shards.map { ObjectIdentifier($0) }).count == 2)
    }

    @Test func openingTheIndexOrAShardDirectly() throws {
        let dir = try Fixture.pipeline.appendingPathComponent("unet")
        let viaIndex = try SafetensorsCheckpoint(url: dir.appendingPathComponent("diffusion_pytorch_model.safetensors.index.json"))
        #expect(viaIndex.shards.count == 2)
        let shard = try SafetensorsCheckpoint(url: dir.appendingPathComponent("diffusion_pytorch_model-00002-of-00002.safetensors"))
        #expect(shard.shards.count == 1 && shard.names.count < viaIndex.names.count)
    }

    @Test func plainFileAndVariant() throws {
        let expected = try Fixture.expected.checkpoints
        let vae = try Fixture.pipeline.appendingPathComponent("vae")
        let plain = try SafetensorsCheckpoint(directory: vae)
        #expect(plain.url.lastPathComponent == "diffusion_pytorch_model.safetensors")
        #expect(plain.variant == nil)
        #expect(try checkpointHash(plain) == expected["vae"]!.fnv1a64)
        #expect(try plain.info(named: "encoder.conv_in.weight").dtype == .f32)

        let fp16 = try SafetensorsCheckpoint(directory: vae, variant: "fp16")
        #expect(fp16.url.lastPathComponent == "diffusion_pytorch_model.fp16.safetensors")
        #expect(fp16.variant == "fp16")
        #expect(try checkpointHash(fp16) == expected["vae.fp16"]!.fnv1a64)
        #expect(try fp16.info(named: "encoder.conv_in.weight").dtype == .f16)
        #expect(fp16.names == plain.names)
    }

    @Test func transformersNaming() throws {
        let expected = try #require(try Fixture.expected.checkpoints["text_encoder"])
        let ckpt = try SafetensorsCheckpoint(directory: Fixture.pipeline.appendingPathComponent("text_encoder"))
        #expect(ckpt.url.lastPathComponent == "model.safetensors")
        #expect(ckpt.names.count == expected.count)
        #expect(try checkpointHash(ckpt) == expected.fnv1a64)
    }

    @Test func variantResolution() throws {
        let tmp = try TempDir()
        defer { tmp.cleanUp() }
        let vae = try Fixture.pipeline.appendingPathComponent("vae")
        let fm = FileManager.default
        // Only the variant present: not chosen silently, but the error says how to get it.
        let onlyVariant = tmp.file("only-variant")
        try fm.createDirectory(at: onlyVariant, withIntermediateDirectories: true)
        try fm.copyItem(at: vae.appendingPathComponent("diffusion_pytorch_model.fp16.safetensors"),
                        to: onlyVariant.appendingPathComponent("diffusion_pytorch_model.fp16.safetensors"))
        let e = modelIOError { _ = try SafetensorsCheckpoint(directory: onlyVariant) }
        #expect(e?.description == "\(displayPath(onlyVariant)): no diffusion_pytorch_model.safetensors or model.safetensors (nor a sharded index); found diffusion_pytorch_model.fp16.safetensors — pass the variant (e.g. \"fp16\") to use it")
        #expect(try SafetensorsCheckpoint(directory: onlyVariant, variant: "fp16").variant == "fp16")
        // Variant asked for but absent: the plain weights are used, and `variant` says so.
        let fallback = try SafetensorsCheckpoint(directory: Fixture.pipeline.appendingPathComponent("text_encoder"), variant: "fp16")
        #expect(fallback.variant == nil && fallback.url.lastPathComponent == "model.safetensors")
        // Sharded variant index in diffusers' spelling.
        let shardedVariant = tmp.file("sharded-variant")
        try fm.createDirectory(at: shardedVariant, withIntermediateDirectories: true)
        let unet = try Fixture.pipeline.appendingPathComponent("unet")
        for f in ["diffusion_pytorch_model-00001-of-00002.safetensors", "diffusion_pytorch_model-00002-of-00002.safetensors"] {
            try fm.copyItem(at: unet.appendingPathComponent(f), to: shardedVariant.appendingPathComponent(f))
        }
        try fm.copyItem(at: unet.appendingPathComponent("diffusion_pytorch_model.safetensors.index.json"),
                        to: shardedVariant.appendingPathComponent("diffusion_pytorch_model.safetensors.index.fp16.json"))
        let sv = try SafetensorsCheckpoint(directory: shardedVariant, variant: "fp16")
        #expect(sv.variant == "fp16" && sv.shards.count == 2)
        // Explicit base name.
        let named = try SafetensorsCheckpoint(directory: vae, baseName: "diffusion_pytorch_model", variant: "fp16")
        #expect(named.variant == "fp16")
    }

    @Test func directoryErrors() throws {
        let tmp = try TempDir()
        defer { tmp.cleanUp() }
        let e1 = modelIOError { _ = try SafetensorsCheckpoint(directory: tmp.file("absent")) }
        #expect(e1 == .cannotOpen(path: displayPath(tmp.file("absent")), reason: "no such directory"))
        _ = try tmp.write("pickled/diffusion_pytorch_model.bin", [0])
        let e2 = modelIOError { _ = try SafetensorsCheckpoint(directory: tmp.file("pickled")) }
        #expect(e2?.description.contains("only PyTorch pickle weights (diffusion_pytorch_model.bin)") == true)
        try FileManager.default.createDirectory(at: tmp.file("empty"), withIntermediateDirectories: true)
        let e3 = modelIOError { _ = try SafetensorsCheckpoint(directory: tmp.file("empty")) }
        #expect(e3?.description == "\(tmp.url.lastPathComponent)/empty: no diffusion_pytorch_model.safetensors or model.safetensors (nor a sharded index) in this directory")
    }

    @Test func indexErrors() throws {
        let tmp = try TempDir()
        defer { tmp.cleanUp() }
        let unet = try Fixture.pipeline.appendingPathComponent("unet")
        let shard1 = "diffusion_pytorch_model-00001-of-00002.safetensors"
        try FileManager.default.copyItem(at: unet.appendingPathComponent(shard1), to: tmp.file(shard1))
        func indexError(_ text: String) throws -> ModelIOError? {
            let url = try tmp.write("model.safetensors.index.json", text: text)
            return modelIOError { _ = try SafetensorsCheckpoint(url: url) }
        }
        let name = "\(tmp.url.lastPathComponent)/model.safetensors.index.json"
        #expect(try indexError("{\"weight_map\": {\"conv_in.weight\": \"missing.safetensors\"}}")
            == .invalidIndex(path: name, reason: "shard \"missing.safetensors\" (for \"conv_in.weight\") does not exist"))
        #expect(try indexError("{\"weight_map\": {\"conv_out.weight\": \"\(shard1)\"}}")
            == .invalidIndex(path: name, reason: "weight_map puts \"conv_out.weight\" in \"\(shard1)\", which does not contain it"))
        #expect(try indexError("{\"metadata\": {}}") == .invalidIndex(path: name, reason: "no \"weight_map\" object"))
        #expect(try indexError("{\"weight_map\": {\"a\": 3}}")?.description.contains("is an integer, not a file name") == true)
        guard case .invalidJSON? = try indexError("{\"weight_map\": ") else { Issue.record("expected invalidJSON"); return }
        // A valid one-shard index works.
        let ok = try SafetensorsCheckpoint(url: tmp.write("model.safetensors.index.json",
                                                          text: "{\"weight_map\": {\"conv_in.weight\": \"\(shard1)\"}}"))
        #expect(ok.names == ["conv_in.weight"])
    }
}
