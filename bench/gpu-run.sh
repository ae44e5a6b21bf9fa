#!/usr/bin/env bash
# Runs on the GPU machine from the repository root, with .gpu/ (bench/gpu-prepare.sh) carried along.
# Writes $OUT/webgpu.jsonl (tfjs WebGPU through Dawn/Vulkan) and $OUT/torch.jsonl (PyTorch eager, same card).
set -uo pipefail
OUT=${OUT:-/tmp/out}; mkdir -p "$OUT"
for f in .gpu/*.deb; do dpkg -x "$f" /; done; ldconfig
python3 -c "import lzma,shutil,sys
for s,d in (('.gpu/node.xz','/tmp/node'),('.gpu/dist/linux-x64/dawn.node.xz','.gpu/dist/linux-x64/dawn.node')):
    shutil.copyfileobj(lzma.open(s),open(d,'wb'))"
chmod +x /tmp/node
nvidia-smi --query-gpu=name,driver_version,memory.total,clocks.sm,clocks.max.sm --format=csv > "$OUT/nvidia-smi.csv" 2>&1
if [ -z "${VK_DRIVER_FILES:-}" ]; then
  icd=$(ls /usr/local/nvidia/share/vulkan/icd.d/nvidia_icd.json /usr/share/vulkan/icd.d/nvidia_icd*.json /etc/vulkan/icd.d/nvidia_icd*.json 2>/dev/null | head -1)
  [ -n "$icd" ] && export VK_DRIVER_FILES=$icd
fi
echo "VK_DRIVER_FILES=${VK_DRIVER_FILES:-}"
(timeout ${TORCH_TIMEOUT:-90} python3 .gpu/gpu_reference.py > "$OUT/torch.jsonl" 2> "$OUT/torch.err"; echo "torch rc=$?")
MNIST_DIR=.gpu/mnist DAWN_BACKEND=vulkan BENCH_OUT="$OUT/webgpu.jsonl" timeout ${WEBGPU_TIMEOUT:-420} /tmp/node .gpu/bench.mjs > /dev/null 2> "$OUT/webgpu.err"
echo "webgpu rc=$?"
tail -5 "$OUT/webgpu.err"
cat "$OUT/torch.jsonl"; cut -c1-400 "$OUT/webgpu.jsonl"
