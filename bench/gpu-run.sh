#!/usr/bin/env bash
# Runs on the GPU machine from the repository root, with .gpu/ (bench/gpu-prepare.sh) carried along.
# Writes $OUT/webgpu.jsonl (tfjs WebGPU through Dawn/Vulkan) and $OUT/torch.jsonl (PyTorch eager, same card).
set -uo pipefail
OUT=${OUT:-/tmp/out}; mkdir -p "$OUT"
. bench/gpu-setup.sh
cp .gpu/build.txt "$OUT/" 2>/dev/null
echo "VK_DRIVER_FILES=${VK_DRIVER_FILES:-}"
(timeout ${TORCH_TIMEOUT:-90} python3 .gpu/gpu_reference.py > "$OUT/torch.jsonl" 2> "$OUT/torch.err"; echo "torch rc=$?")
MNIST_DIR=.gpu/mnist DAWN_BACKEND=vulkan BENCH_OUT="$OUT/webgpu.jsonl" timeout ${WEBGPU_TIMEOUT:-420} /tmp/node .gpu/bench.mjs > /dev/null 2> "$OUT/webgpu.err"
echo "webgpu rc=$?"
tail -5 "$OUT/webgpu.err"
cat "$OUT/torch.jsonl"; cut -c1-400 "$OUT/webgpu.jsonl"
