# Sourced by bench/gpu-run.sh and bench/gpu-diag.sh on the GPU machine: unpacks the Vulkan/EGL loader
# packages, Node and Dawn from .gpu/ (bench/gpu-prepare.sh) and finds the NVIDIA Vulkan driver.
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
