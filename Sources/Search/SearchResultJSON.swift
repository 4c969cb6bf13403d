import Foundation

extension SearchResult {
    /// The result as a JSON-ready dictionary with snake_case keys: method, budget, nfe, forward_passes,
    /// reward_calls, wall_seconds, model_seconds (denoiser + decoder), reward_seconds, overhead_fraction (the rest),
    /// best {id, generation, parent, origin, reward, nfe, state}, population, curve [{nfe, best_reward}], settings,
    /// warnings, interrupted, error (null unless a model or reward call failed), state_shape, sample_shape, and
    /// (when asked) history.
    /// Non-finite rewards (NaN-scored samples) are written as null. `includeSamples: false` leaves out the
    /// final states (images are written as files instead).
    public func jsonObject(includeHistory: Bool = false, includeSamples: Bool = true, extra: [String: Any] = [:]) -> [String: Any] {
        func reward(_ r: Float) -> Any { r.isFinite ? Double(r) : NSNull() }
        func sample(_ s: ScoredSample) -> [String: Any] {
            var o: [String: Any] = ["id": s.id, "generation": s.generation, "origin": s.origin,
                                    "reward": reward(s.reward), "nfe": s.nfe]
            if includeSamples { o["state"] = s.state.map(Double.init) }
            o["parent"] = s.parent ?? NSNull()
            return o
        }
        var o: [String: Any] = [
            "method": method, "budget": budget, "nfe": nfe, "forward_passes": forwardPasses,
            "reward_calls": rewardCalls, "wall_seconds": wallSeconds, "model_seconds": modelSeconds,
            "reward_seconds": rewardSeconds, "overhead_fraction": overheadFraction, "best": sample(best),
            "population": population.map(sample),
            "curve": curve.map { ["nfe": $0.nfe, "best_reward": reward($0.bestReward)] as [String: Any] },
            "settings": settings, "warnings": warnings, "interrupted": interrupted,
            "error": error ?? NSNull(), "state_shape": stateShape, "sample_shape": sampleShape,
        ]
        if includeHistory { o["history"] = history.map(sample) }
        for (k, v) in extra { o[k] = v }
        return o
    }

    /// `jsonObject` serialised, pretty-printed with sorted keys.
    public func jsonData(includeHistory: Bool = false, includeSamples: Bool = true, extra: [String: Any] = [:]) throws -> Data {
        try JSONSerialization.data(withJSONObject: jsonObject(includeHistory: includeHistory, includeSamples: includeSamples, extra: extra),
                                   options: [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes])
    }
}
