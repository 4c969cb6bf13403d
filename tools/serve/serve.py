"""Serves the denoiser network of a diffusers pipeline directory, or a CLIP-family reward model, with MLServer over
the Open Inference Protocol.

    python3 tools/serve/serve.py --pipeline models/shapes-sd-small [--name shapes-sd-small]
        [--host 127.0.0.1] [--grpc-port 8081] [--http-port 8080]
    python3 tools/serve/serve.py --pipeline models/shapes-sd-small --component decoder   # its VAE decoder
    python3 tools/serve/serve.py --reward models/shapes-clip [--reward-kind clip|clipscore|pickscore] [--name …]

Binds 127.0.0.1 unless --host says otherwise. A port of 0 picks a free one. As soon as the ports are chosen (before
the model loads), prints one JSON line {"grpc_port": …, "http_port": …} on standard output, then runs until SIGINT/SIGTERM (which end it at
once: the server keeps no state) or, with --exit-with-parent, until its standard input closes (the parent that
started it exited, however it ended). The model loads in
the server's own process (no worker pool) and its metrics endpoint is off, so several servers can share a machine.
Then: evosearch search --denoiser-endpoint grpc://127.0.0.1:PORT/NAME … (or --reward-endpoint for a reward).
"""

import argparse
import asyncio
import json
import os
import signal
import socket
import sys
import threading


def free_port(host):
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind((host, 0))
        return s.getsockname()[1]


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    hosted = parser.add_mutually_exclusive_group(required=True)
    hosted.add_argument("--pipeline", help="diffusers pipeline directory: serve its denoiser network")
    hosted.add_argument("--reward", help="CLIP model directory (transformers' layout): serve it as a reward")
    parser.add_argument("--component", default="denoiser", choices=["denoiser", "decoder"],
                        help="with --pipeline: serve its denoiser network (default) or its VAE decoder")
    parser.add_argument("--reward-kind", default="clip", choices=["clip", "clipscore", "pickscore"],
                        help="with --reward: the score (as evosearch's rewards of these names)")
    parser.add_argument("--name", help="model name clients ask for (default: the directory's name)")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--grpc-port", type=int, default=8081)
    parser.add_argument("--http-port", type=int, default=8080)
    parser.add_argument("--exit-with-parent", action="store_true", help="exit when standard input closes")
    args = parser.parse_args()

    directory = os.path.abspath(args.pipeline or args.reward)
    name = args.name or os.path.basename(directory.rstrip("/"))
    grpc_port = args.grpc_port or free_port(args.host)
    http_port = args.http_port or free_port(args.host)
    print(json.dumps({"grpc_port": grpc_port, "http_port": http_port, "model": name}), flush=True)
    os.dup2(2, 1)  # the server's own logging goes to standard error; standard output carries only the line above

    if args.exit_with_parent:
        threading.Thread(target=lambda: (sys.stdin.buffer.read(), os._exit(0)), daemon=True).start()

    sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
    from mlserver import MLServer

    class ReferenceServer(MLServer):
        # MLServer's own handlers wait for a graceful stop that can hang with clients still connected.
        def _add_signal_handlers(self):
            loop = asyncio.get_event_loop()
            for sig in (signal.SIGINT, signal.SIGTERM):
                loop.add_signal_handler(sig, lambda: os._exit(0))
    from mlserver.settings import ModelParameters, ModelSettings, Settings

    settings = Settings(host=args.host, grpc_port=grpc_port, http_port=http_port, parallel_workers=0,
                        metrics_endpoint=None, load_models_at_startup=True, debug=False,
                        grpc_max_message_length=1 << 30)
    if args.pipeline:
        model = ModelSettings(name=name, implementation="denoiser_runtime.DiffusersDenoiserRuntime",
                              parameters=ModelParameters(uri=directory, extra={"component": args.component}))
    else:
        model = ModelSettings(name=name, implementation="reward_runtime.CLIPRewardRuntime",
                              parameters=ModelParameters(uri=directory, extra={"kind": args.reward_kind}))
    asyncio.run(ReferenceServer(settings).start(models_settings=[model]))


if __name__ == "__main__":
    main()
