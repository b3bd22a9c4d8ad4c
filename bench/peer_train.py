"""PyTorch peer for `arcticc train`: the same Arctic LSTM speculator (sum_lstm, tied, scale_input, tie_lstm_embs)
trained the same way (teacher forcing, loss = sum over heads of mean cross-entropy, AdamW lr 1e-3 betas
0.9/0.999 wd 0.1 on matrices, cosine with 5 % warm-up, clip 1.0) under autocast bf16, on the data cache that
`arcticc train` wrote (OUT/data: cache.json, tokens.i32, hidden.bf16), so both see identical rows.
Prints and writes JSON: tokens/s (training rows per second, after 5 warm-up steps), losses.

    python3 bench/peer_train.py --data OUT/data --steps 300 --batch 64 --width 256 --out peer-train.json
    python3 bench/peer_train.py --synthetic 512 --target tests/fixtures/target/pycode-small ...   (random rows of the
        target's shapes, for timing beside bench/train-gpu-check.ts without a data cache)
"""
import argparse, json, math, time
import numpy as np
import torch
import torch.nn.functional as F

ap = argparse.ArgumentParser()
ap.add_argument('--data')
ap.add_argument('--synthetic', type=int, help='random sequences (64 + 256 tokens) instead of a data cache')
ap.add_argument('--target', help='with --synthetic: the target folder (hidden and vocabulary sizes)')
ap.add_argument('--steps', type=int, default=300)
ap.add_argument('--batch', type=int, default=64)
ap.add_argument('--width', type=int, default=256)
ap.add_argument('--n-predict', type=int, default=3)
ap.add_argument('--lr', type=float, default=1e-3)
ap.add_argument('--compile', action='store_true', help='torch.compile the step')
ap.add_argument('--out')
a = ap.parse_args()
if a.synthetic:
    cfg = json.load(open(f'{a.target}/config.json'))
    N, L, P, H, V = a.synthetic, 320, 64, int(cfg['hidden_size']), int(cfg['vocab_size'])
    gen = torch.Generator(device='cuda').manual_seed(0)
    toks = torch.randint(0, V, (N, L), device='cuda', generator=gen)
    hid = torch.randn(N, L, H, device='cuda', generator=gen).to(torch.bfloat16).float()
else:
    meta = json.load(open(f'{a.data}/cache.json'))
    N, L, P, H = meta['count'], meta['seqLen'], meta['promptLen'], meta['hiddenSize']
    toks = torch.from_numpy(np.fromfile(f'{a.data}/tokens.i32', dtype=np.int32).reshape(N, L).astype(np.int64)).cuda()
    hid16 = np.fromfile(f'{a.data}/hidden.bf16', dtype=np.uint16).reshape(N, L, H)
    hid = torch.from_numpy((hid16.astype(np.uint32) << 16).view(np.float32)).cuda()
    V = int(json.load(open(meta['key']['target'] + '/config.json'))['vocab_size'])
n, D = a.n_predict, a.width
R = L - n - P  # rows per sequence: t = P-1 … L-n-2
dev = 'cuda'

def init(*shape):
    return torch.nn.Parameter(torch.randn(*shape, device=dev) / math.sqrt(min(shape)))

params = {
    'emb': init(V, D), 'proj0': init(4 * D, H), 'proj1': init(4 * D, D), 'head': init(V, D),
    'cw': torch.nn.Parameter(torch.ones(D, device=dev)), 'cb': torch.nn.Parameter(torch.zeros(D, device=dev)),
    'sw': torch.nn.Parameter(torch.ones(D, device=dev)), 'sb': torch.nn.Parameter(torch.zeros(D, device=dev)),
}
sw_ = 0.5 ** (0.5 / n)
alpha = math.sqrt((1 - sw_ * sw_) * (D / 2)) / sw_

def rms(x, w=None, b=None, eps=1e-6):
    y = x * torch.rsqrt(x.float().pow(2).mean(-1, keepdim=True) + eps).to(x.dtype)
    return y if w is None else y * w + b

def loss_fn(h, tok, lab):
    p = params
    s = rms(h) / math.sqrt(2)
    c = None
    total, heads = 0, []
    t = tok
    for i in range(n):
        g = F.linear(s, p['proj0'] if i == 0 else p['proj1'])
        e = p['emb'][t]
        pre = g + alpha * torch.cat([e, e, e, e], -1)
        f, ig, o, cp = pre.chunk(4, -1)
        cand = F.gelu(rms(cp, p['cw'], p['cb']))
        c = torch.sigmoid(ig) * cand if c is None else torch.sigmoid(f) * c + torch.sigmoid(ig) * cand
        s = torch.sigmoid(o) * F.gelu(rms(c, p['sw'], p['sb']))
        logits = F.linear(s, p['head'])
        li = F.cross_entropy(logits.float(), lab[:, i])
        heads.append(li.detach())
        total = total + li
        t = lab[:, i]
    return total, heads

decay = [params[k] for k in ('emb', 'proj0', 'proj1', 'head')]
nodecay = [params[k] for k in ('cw', 'cb', 'sw', 'sb')]
opt = torch.optim.AdamW([{'params': decay, 'weight_decay': 0.1}, {'params': nodecay, 'weight_decay': 0.0}], lr=a.lr, betas=(0.9, 0.999), fused=True)
warm = max(1, math.ceil(0.05 * a.steps))
sched = torch.optim.lr_scheduler.LambdaLR(opt, lambda s: (s + 1) / warm if s + 1 <= warm else 0.5 * (1 + math.cos(math.pi * min(1, (s + 1 - warm) / max(1, a.steps - warm)))))
ts = torch.arange(P - 1, L - n - 1, device=dev)

def batch(step):
    g = torch.Generator(device='cpu').manual_seed(step)
    seqs = torch.randint(0, N, (a.batch,), generator=g).to(dev)
    h = hid[seqs][:, ts].reshape(-1, H)
    tok = toks[seqs][:, ts + 1].reshape(-1)
    lab = torch.stack([toks[seqs][:, ts + 2 + k] for k in range(n)], -1).reshape(-1, n)
    return h, tok, lab

def step(h, tok, lab):
    with torch.autocast('cuda', dtype=torch.bfloat16):
        loss, heads = loss_fn(h, tok, lab)
    opt.zero_grad(set_to_none=True)
    loss.backward()
    torch.nn.utils.clip_grad_norm_(list(params.values()), 1.0)
    opt.step()
    sched.step()
    return loss, heads

if a.compile:
    step = torch.compile(step)
losses, t0 = [], None
for s in range(a.steps):
    if s == 5:
        torch.cuda.synchronize(); t0 = time.perf_counter()
    loss, heads = step(*batch(s))
    if s % 20 == 0 or s == a.steps - 1:
        losses.append((s + 1, float(loss)))
torch.cuda.synchronize()
el = time.perf_counter() - t0 if t0 else float('nan')
rows = a.batch * R
res = {'torch': torch.__version__, 'device': torch.cuda.get_device_name(), 'rows_per_step': rows, 'steps': a.steps,
       'tokens_per_second': rows * (a.steps - 5) / el, 'ms_per_step': 1000 * el / (a.steps - 5), 'losses': losses}
print(json.dumps(res))
if a.out:
    json.dump(res, open(a.out, 'w'), indent=1)
