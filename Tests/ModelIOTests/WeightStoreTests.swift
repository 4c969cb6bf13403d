import Foundation
import Testing
import TensorCore
@testable import ModelIO

@Suite struct WeightStoreTests {
    private func unetStore() throws -> WeightStore {
        try WeightStore(directory: Fixture.pipeline.appendingPathComponent("unet"))
    }

    @Test func takingEverythingFinishes() throws {
        let store = try unetStore()
        let ckpt = try #require(store.source as? SafetensorsCheckpoint)
        for key in store.keys {
            let t = try store.take(key, shape: #require(ckpt.shape(of: key)))
            #expect(t == (try ckpt.tensor(named: key)))
        }
        #expect(store.unusedKeys.isEmpty)
        try store.finish()
    }

    @Test func scopesPrefixKeysAndShareTheLedger() throws {
        let store = try unetStore()
        let attn = store.scope("mid_block").scope("attentions.0")
        #expect(attn.prefix == "mid_block.attentions.0.")
        #expect(attn.fullKey("proj_in.weight") == "mid_block.attentions.0.proj_in.weight")
        #expect(attn.keys.contains("proj_in.weight"))
        #expect(attn.shape(of: "proj_in.weight") == [8, 8, 1, 1])
        let w = try attn.take("proj_in.weight", shape: [8, 8, 1, 1])
        // 1×1 conv as a linear layer.
        let lin = try attn.take("proj_in.weight", reshapedTo: [8, 8])
        #expect(lin.shape == [8, 8] && lin.scalars == w.scalars)
        #expect(!store.unusedKeys.contains("mid_block.attentions.0.proj_in.weight"))
        // finish() on a scope checks only its keys.
        let convIn = store.scope("conv_in")
        _ = try convIn.take("weight", shape: [4, 4, 3, 3])
        _ = try convIn.take("bias", shape: [4])
        try convIn.finish()
        #expect(throws: ModelIOError.self) { try store.finish() }
        #expect(store.scope("").prefix == "" && store.scope("a.").prefix == "a.")
    }

    @Test func missingWeightMessage() throws {
        let store = try unetStore()
        let e = modelIOError { _ = try store.scope("mid_block.attentions.0").take("proj_in.weigth", shape: [8, 8, 1, 1]) }
        #expect(e?.description == "unet/diffusion_pytorch_model.safetensors.index.json: missing weight \"mid_block.attentions.0.proj_in.weigth\" (did you mean \"mid_block.attentions.0.proj_in.weight\"?)")
        // Nothing near: no suggestion clause.
        let far = modelIOError { _ = try store.take("completely.different.key.name.here", shape: [1]) }
        #expect(far == .missingWeight(path: "unet/diffusion_pytorch_model.safetensors.index.json",
                                      key: "completely.different.key.name.here", suggestions: []))
        #expect(try store.takeIfPresent("conv_in.nothing", shape: [1]) == nil)
    }

    @Test func prefixedCheckpointSuggestsTheFullName() throws {
        let store = WeightStore(InMemoryWeights(["model.diffusion_model.conv_in.weight": Tensor([1, 2])], displayName: "sd.safetensors"))
        let e = modelIOError { _ = try store.take("conv_in.weight", shape: [2]) }
        #expect(e?.description == "sd.safetensors: missing weight \"conv_in.weight\" (did you mean \"model.diffusion_model.conv_in.weight\"?)")
    }

    @Test func shapeMismatchMessage() throws {
        let store = try unetStore()
        let ckpt = try #require(store.source as? SafetensorsCheckpoint)
        let shard = ckpt.displayName(containing: "conv_in.weight")
        let e = modelIOError { _ = try store.take("conv_in.weight", shape: [8, 4, 3, 3]) }
        #expect(e == .shapeMismatch(path: shard, key: "conv_in.weight", stored: [4, 4, 3, 3], expected: [8, 4, 3, 3]))
        #expect(e?.description == "\(shard): \"conv_in.weight\" has shape [4, 4, 3, 3], the config implies [8, 4, 3, 3]")
        #expect(throws: ModelIOError.self) { _ = try store.take("conv_in.weight", reshapedTo: [4, 4, 8]) }
        #expect(throws: ModelIOError.self) { _ = try store.takeIfPresent("conv_in.bias", shape: [5]) }
        // A failed take does not count as use.
        #expect(store.unusedKeys.contains("conv_in.weight"))
    }

    @Test func unusedWeightsMessage() throws {
        let weights = InMemoryWeights([
            "a.weight": Tensor([1]), "a.bias": Tensor([2]), "b.weight": Tensor([3]),
            "c.weight": Tensor([4]), "position_ids": Tensor([0, 1]),
        ], displayName: "text_encoder/model.safetensors")
        let store = WeightStore(weights)
        _ = try store.take("a.weight", shape: [1])
        _ = try store.take("a.weight", shape: [1]) // tied weights may be taken twice
        store.ignore("position_ids", "not.there")
        let e = modelIOError { try store.finish() }
        #expect(e?.description == "text_encoder/model.safetensors: 3 weights were not used: \"a.bias\", \"b.weight\", \"c.weight\"")
        store.ignoreAll { $0.hasSuffix(".bias") }
        #expect(store.unusedKeys == ["b.weight", "c.weight"])
        _ = try store.take("b.weight")
        let one = modelIOError { try store.finish() }
        #expect(one?.description == "text_encoder/model.safetensors: 1 weight was not used: \"c.weight\"")
    }

    @Test func unusedListIsShortened() throws {
        let store = try unetStore()
        _ = try store.take("conv_in.weight")
        let e = modelIOError { try store.finish() }
        guard case .unusedWeights(_, let keys)? = e else { Issue.record("expected unusedWeights"); return }
        #expect(keys.count == 207 && keys == keys.sorted())
        #expect(e!.description.hasPrefix("unet/diffusion_pytorch_model.safetensors.index.json: 207 weights were not used: \"conv_in.bias\", "))
        #expect(e!.description.hasSuffix(", … (202 more)"))
    }

    @Test func concurrentTakes() async throws {
        let store = try unetStore()
        let keys = store.keys
        await withTaskGroup(of: Void.self) { group in
            for chunk in stride(from: 0, to: keys.count, by: 16) {
                group.addTask { for k in keys[chunk..<min(chunk + 16, keys.count)] { _ = try? store.take(k) } }
            }
        }
        try store.finish()
    }
}
