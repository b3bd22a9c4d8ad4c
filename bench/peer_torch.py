"""PyTorch peer for bench/gpu-bench.ts: the same Arctic LSTM / MLP speculator math (H=D=4096, V=128256,
n=3, tied weights, scale_input) in bf16, with the whole 3-step proposal loop captured in one
torch.cuda.CUDAGraph per batch size, as ArcticInference does. ms per proposal = median of the replays,
timed with CUDA events. Writes JSON: {"torch": version, "rows": [{"model", "B", "ms", "min_ms"}]}.

    python3 bench/peer_torch.py --out peer-torch.json [--reps 100] [--fp8] [--only lstm-fp8,mlp-fp8] [--batches 1,32]

--fp8 adds rows "lstm-fp8" / "mlp-fp8": the LM head as ArcticInference's qhead (one per-tensor weight scale
amax/448, dynamic per-token activation scale, torch._scaled_mm, bf16 out; batch padded to 16 for the GEMM).
"""
import argparse
import json
import math
import sys

H = D = 4096
V = 128256
N = 3
EPS = 1e-6


def rms(x, w=None, b=None):
    y = x * torch.rsqrt(x.float().pow(2).mean(-1, keepdim=True) + EPS).to(x.dtype)
    return y if w is None else y * w + b


def alpha(n, d):
    sw = 0.5 ** (0.5 / n)
    return math.sqrt((1 - sw * sw) * (d / 2)) / sw


def fp8_linear(w):
    """x -> x @ w.T through e4m3 weights and activations, scaled as ArcticInference's FP8 LM head."""
    f8 = torch.float8_e4m3fn
    sw = w.abs().max().float() / 448
    wq = (w.float() / sw).clamp(-448, 448).to(f8).t()  # [D, V], column-major as _scaled_mm wants
    sb = sw.reshape(1, 1).expand(1, w.shape[0]).contiguous()

    def lin(x, _w=None):
        b = x.shape[0]
        xf = torch.nn.functional.pad(x.float(), (0, 0, 0, (-b) % 16))
        sa = xf.abs().amax(-1, keepdim=True).clamp(min=1e-12) / 448
        xq = (xf / sa).to(f8)
        return torch._scaled_mm(xq, wq, scale_a=sa, scale_b=sb, out_dtype=torch.bfloat16)[:b]
    return lin


def make_lstm(dev, fp8=False):
    r = lambda *s: (torch.randn(*s, device=dev, dtype=torch.bfloat16) * 0.02)
    p = dict(emb=r(V, D), proj0=r(4 * D, H), proj1=r(4 * D, D), head=r(V, D),
             cw=1 + r(D), cb=r(D), sw=1 + r(D), sb=r(D))
    a = alpha(N, D)
    gelu = torch.nn.functional.gelu
    lin = torch.nn.functional.linear
    head = fp8_linear(p.pop("head")) if fp8 else (lambda x: lin(x, p["head"]))

    def run(hidden, tokens, out):
        state = rms(hidden) / math.sqrt(2)
        cell = None
        tok = tokens
        for i in range(N):
            g = lin(state, p["proj0"] if i == 0 else p["proj1"])
            e = p["emb"][tok]
            pre = g + (a * e).repeat(1, 4)
            f, ig, o, c = pre.chunk(4, -1)
            cand = gelu(rms(c, p["cw"], p["cb"]))
            cell = torch.sigmoid(ig) * cand if cell is None else torch.sigmoid(f) * cell + torch.sigmoid(ig) * cand
            state = torch.sigmoid(o) * gelu(rms(cell, p["sw"], p["sb"]))
            tok = head(state).argmax(-1)
            out[:, i] = tok
    return run


def make_mlp(dev, fp8=False):
    r = lambda *s: (torch.randn(*s, device=dev, dtype=torch.bfloat16) * 0.02)
    p = dict(emb=r(V, D), proj0=r(D, H), proj1=r(D, D), head=r(V, D), lw=1 + r(D), lb=r(D))
    a = alpha(N, D)
    gelu = torch.nn.functional.gelu
    lin = torch.nn.functional.linear
    head = fp8_linear(p.pop("head")) if fp8 else (lambda x: lin(x, p["head"]))

    def run(hidden, tokens, out):
        state = rms(hidden) / math.sqrt(2)
        tok = tokens
        for i in range(N):
            u = lin(state, p["proj0"] if i == 0 else p["proj1"]) + a * p["emb"][tok]
            state = gelu(rms(u, p["lw"], p["lb"]))
            tok = head(state).argmax(-1)
            out[:, i] = tok
    return run


def bench(run, B, dev, reps):
    hidden = torch.randn(B, H, device=dev, dtype=torch.bfloat16)
    tokens = torch.randint(0, V, (B,), device=dev)
    out = torch.empty(B, N, device=dev, dtype=torch.long)
    s = torch.cuda.Stream()
    s.wait_stream(torch.cuda.current_stream())
    with torch.cuda.stream(s):
        for _ in range(3):
            run(hidden, tokens, out)
    torch.cuda.current_stream().wait_stream(s)
    g = torch.cuda.CUDAGraph()
    with torch.cuda.graph(g):
        run(hidden, tokens, out)
    for _ in range(5):
        g.replay()
    times = []
    e0, e1 = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
    for _ in range(reps):
        e0.record()
        g.replay()
        e1.record()
        e1.synchronize()
        times.append(e0.elapsed_time(e1))
    times.sort()
    return times[len(times) // 2], times[0]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--out", required=True)
    ap.add_argument("--reps", type=int, default=100)
    ap.add_argument("--fp8", action="store_true")
    ap.add_argument("--only", default="")
    ap.add_argument("--batches", default="1,32", help="batch sizes, e.g. 1,2,4,8,16,32,64")
    a = ap.parse_args()
    report = {"rows": []}
    try:
        global torch
        import torch
        report["torch"] = torch.__version__
        dev = torch.device("cuda")
        report["device"] = torch.cuda.get_device_name(0)
        with torch.inference_mode():
            variants = [("lstm", make_lstm, False), ("mlp", make_mlp, False)]
            if a.fp8:
                variants += [("lstm-fp8", make_lstm, True), ("mlp-fp8", make_mlp, True)]
            only = [x for x in a.only.split(",") if x]
            for name, make, fp8 in variants:
                if only and name not in only:
                    continue
                try:
                    run = make(dev, fp8)
                    for B in [int(x) for x in a.batches.split(',')]:
                        ms, mn = bench(run, B, dev, max(50, a.reps))
                        report["rows"].append({"model": name, "B": B, "ms": ms, "min_ms": mn})
                        print(f"[peer] torch {name} B={B}: {ms:.3f} ms/proposal (min {mn:.3f})", flush=True)
                    del run
                except Exception as e:  # an fp8 failure (e.g. no _scaled_mm here) keeps the other rows
                    report.setdefault("errors", {})[name] = f"{type(e).__name__}: {e}"
                    print(f"[peer] {name} error: {report['errors'][name]}", file=sys.stderr, flush=True)
                torch.cuda.empty_cache()
    except Exception as e:  # report, don't fail the whole check
        report["error"] = f"{type(e).__name__}: {e}"
        print(f"[peer] error: {report['error']}", file=sys.stderr, flush=True)
    with open(a.out, "w") as f:
        json.dump(report, f, indent=2)


if __name__ == "__main__":
    main()
