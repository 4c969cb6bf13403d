#!/usr/bin/env bash
# Regenerates Sources/Remote/Generated from Sources/Remote/Proto/grpc_predict_v2.proto (KServe's Open Inference
# Protocol). The generated files are committed; the package build never runs a plugin. Needs protoc (Debian's
# protobuf-compiler) and the two plugins built from the same package versions Package.swift resolves:
#   git clone /path/to/grpc-swift-protobuf && cd grpc-swift-protobuf && git checkout 2.4.1
#   swift build -c release --product protoc-gen-grpc-swift-2 && swift build -c release --product protoc-gen-swift
# Run from the repository root:
#   PLUGINS=/path/to/grpc-swift-protobuf/.build/release tools/serve/generate_proto.sh
set -euo pipefail
: "${PLUGINS:?set PLUGINS to the directory holding protoc-gen-swift and protoc-gen-grpc-swift-2}"
out=Sources/Remote/Generated
mkdir -p "$out"
protoc --proto_path=Sources/Remote/Proto \
  --plugin=protoc-gen-swift="$PLUGINS/protoc-gen-swift" \
  --plugin=protoc-gen-grpc-swift="$PLUGINS/protoc-gen-grpc-swift-2" \
  --swift_out="$out" --swift_opt=Visibility=Internal \
  --grpc-swift_out="$out" --grpc-swift_opt=Visibility=Internal,Server=false,Client=true \
  grpc_predict_v2.proto
