#!/usr/bin/env bash
# Where the host time of tfjs WebGPU goes on the GPU machine (run like bench/gpu-run.sh, .gpu carried):
# raw WebGPU dispatch costs (bench/micro-raw.ts), a V8 CPU profile of FGSM on 100 and CW steps on 900,
# and the same micro-workloads with the experimental kernels and with other tfjs flags. Writes $OUT/*.jsonl,
# $OUT/prof/*.cpuprofile.
set -uo pipefail
OUT=${OUT:-/tmp/out}; mkdir -p "$OUT/prof"
. bench/gpu-setup.sh
cp .gpu/build.txt "$OUT/" 2>/dev/null
nvidia-smi --query-gpu=name,driver_version,memory.total,clocks.sm,clocks.max.sm --format=csv > "$OUT/nvidia-smi.csv" 2>&1
run() {
  local name=$1; shift
  env MNIST_DIR=.gpu/mnist DAWN_BACKEND=vulkan BENCH_WORKLOADS=none CW_STEPS=50 BENCH_OUT="$OUT/$name.jsonl" "$@" \
    timeout "${DIAG_TIMEOUT:-100}" /tmp/node ${NODE_FLAGS:-} .gpu/bench.mjs > /dev/null 2> "$OUT/$name.err"
  echo "$name rc=$?"; tail -2 "$OUT/$name.err"; grep -v '"kind":"env"' "$OUT/$name.jsonl" | cut -c1-220
}
NODE_FLAGS="--cpu-prof --cpu-prof-dir=$OUT/prof" run base BENCH_RAW=1 BENCH_MICRO=forward-1,fgsm-100,cw-step-900,jacobian-1,op-add-tensor,op-add-number
for v in ${DIAG_VARIANTS:-}; do run "$v" $(cat "bench/diag/$v.env" 2>/dev/null); done
gzip -9 "$OUT"/prof/*.cpuprofile 2>/dev/null; ls -la "$OUT/prof"
