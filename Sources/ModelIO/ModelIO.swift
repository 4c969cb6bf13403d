// ModelIO: safetensors, diffusers/transformers config.json, strict weight store.
