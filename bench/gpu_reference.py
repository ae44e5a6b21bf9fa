"""PyTorch eager reference for bench/micro.ts, on the same GPU in the same call.

The same LeNet-size CNN as mnist-lenet (32c5 relu pool2, 64c5 relu pool2, fc200 relu, fc10; random
weights: only the time matters), the same five workloads, medians over repeated runs with
torch.cuda.synchronize() before each clock read. One JSON object per line on stdout.
"""
import json
import statistics
import sys
import time

import torch
import torch.nn as nn
import torch.nn.functional as F


def lenet():
    return nn.Sequential(
        nn.Conv2d(1, 32, 5), nn.ReLU(), nn.MaxPool2d(2),
        nn.Conv2d(32, 64, 5), nn.ReLU(), nn.MaxPool2d(2),
        nn.Flatten(), nn.Linear(1024, 200), nn.ReLU(), nn.Linear(200, 10),
    )


def timed(fn, warm, runs):
    for _ in range(warm):
        fn()
    torch.cuda.synchronize()
    out = []
    for _ in range(runs):
        t0 = time.perf_counter()
        fn()
        torch.cuda.synchronize()
        out.append((time.perf_counter() - t0) * 1e3)
    return out


def emit(workload, times, unit, per=1, flop=None):
    t = [v / per for v in times]
    med = statistics.median(t)
    row = {"kind": "torch", "workload": workload, "runs": len(times), "medianMs": round(med, 4),
           "minMs": round(min(t), 4), "maxMs": round(max(t), 4), "unit": unit}
    if flop:
        row["tflops"] = round(flop / (med * 1e-3) / 1e12, 3)
    print(json.dumps(row), flush=True)


def main():
    dev = torch.device("cuda")
    torch.manual_seed(0)
    print(json.dumps({"kind": "torch-env", "torch": torch.__version__, "gpu": torch.cuda.get_device_name(0)}), flush=True)
    model = lenet().to(dev).eval()
    for p in model.parameters():
        p.requires_grad_(False)
    runs = int(sys.argv[1]) if len(sys.argv) > 1 else 50

    x1 = torch.rand(1, 1, 28, 28, device=dev)
    emit("forward-1", timed(lambda: model(x1).cpu(), 10, runs), "ms per forward of 1 image, logits copied to the host")

    x100 = torch.rand(100, 1, 28, 28, device=dev)
    y100 = torch.randint(0, 10, (100,), device=dev)

    def fgsm():
        x = x100.clone().requires_grad_(True)
        loss = F.cross_entropy(model(x), y100, reduction="sum")
        (g,) = torch.autograd.grad(loss, x)
        return (x100 + 0.25 * g.sign()).clamp(0, 1).cpu()

    emit("fgsm-100", timed(fgsm, 10, runs), "ms per FGSM on 100 images, adversarials copied to the host")

    eye = torch.eye(10, device=dev)

    def jacobian():
        x = x1.expand(10, 1, 28, 28).clone().requires_grad_(True)
        (g,) = torch.autograd.grad((model(x) * eye).sum(), x)
        return g.cpu()

    emit("jacobian-1", timed(jacobian, 10, runs), "ms per 10x784 Jacobian of the logits of 1 image (one batched backward), copied to the host")

    # One CW-L2 Adam step on 900 images (tanh box, f6 on the logits, Adam moments), no host copy per step.
    n = 900
    x0 = torch.rand(n, 1, 28, 28, device=dev)
    w = torch.atanh((x0 * 2 - 1) * (1 - 1e-6)).clone()
    m = torch.zeros_like(w)
    v = torch.zeros_like(w)
    onehot = F.one_hot(torch.randint(0, 10, (n,), device=dev), 10).float()
    c = torch.full((n,), 1e-2, device=dev)

    def cw_step():
        nonlocal w, m, v
        wv = w.clone().requires_grad_(True)
        a = (torch.tanh(wv) + 1) / 2
        l2 = ((a - x0) ** 2).flatten(1).sum(1)
        z = model(a)
        real = (z * onehot).sum(1)
        other = (z - onehot * 1e10).max(1).values
        loss = (l2 + c * torch.clamp(other - real, min=0)).sum()
        (g,) = torch.autograd.grad(loss, wv)
        m = 0.9 * m + 0.1 * g
        v = 0.999 * v + 0.001 * g * g
        w = w - 0.01 * m / (v.sqrt() + 1e-8)

    steps = 20
    emit("cw-step-900", timed(lambda: [cw_step() for _ in range(steps)], 2, max(5, runs // 5)),
         f"ms per CW-L2 Adam step on 900 images ({steps} per sync)", per=steps)

    for tf32 in (False, True):
        torch.backends.cuda.matmul.allow_tf32 = tf32
        a = torch.randn(2048, 2048, device=dev)
        b = torch.randn(2048, 2048, device=dev)
        chain = 10
        emit("matmul-2048" + ("-tf32" if tf32 else ""), timed(lambda: [a @ b for _ in range(chain)], 3, max(5, runs // 5)),
             f"ms per 2048^2 fp32 matmul{' (TF32 allowed)' if tf32 else ''}", per=chain, flop=2 * 2048 ** 3)
    torch.backends.cuda.matmul.allow_tf32 = False

    t = torch.zeros(78400, device=dev)
    y = torch.full((78400,), 1e-3, device=dev)
    chain = 200
    emit("op-add-tensor", timed(lambda: [t.add(y) for _ in range(chain)], 3, max(5, runs // 5)), "ms per add, 78,400 elements, tensor operand", per=chain)
    emit("op-add-number", timed(lambda: [t.add(1e-3) for _ in range(chain)], 3, max(5, runs // 5)), "ms per add, 78,400 elements, Python number", per=chain)


if __name__ == "__main__":
    main()
