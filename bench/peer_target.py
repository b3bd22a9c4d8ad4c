"""PyTorch peer for bench/target-bench.ts: the same Llama checkpoint (bench/make-llama-checkpoint.ts), the same rows.

  hf-compile   Hugging Face LlamaForCausalLM, SDPA, a StaticCache, the decode step under
               torch.compile(mode="reduce-overhead") (CUDA graphs): what PyTorch users run. Tried first, in a
               child process (it segfaulted on the GPU machine with torch 2.11 / transformers 5.17 for the
               fixture model), on --hf-rows only (each shape compiles for minutes otherwise).
  graph        gpt-fast style: our own Llama module on the same safetensors weights (safetensors.torch), bf16,
               merged qkv / gate_up, a static KV cache [L, S, Hkv, Lmax, D], the decode/verify step captured
               with torch.cuda.graph per (B, q, context). Attention: decode/verify as SDPA over the KV heads with
               the G = Hq/Hkv query heads of a group stacked as query rows (GQA without copying the cache; the
               verify rows' causal offset as a boolean mask), prefill as SDPA is_causal over K/V repeated per
               query head (flash attention).
Each decode row is B sequences × q new tokens over `context` cached positions (the cache filled with random
bf16, as bench/target-bench.ts fills ours); ms = median of --reps graph replays timed with CUDA events. Per row
the faster implementation that ran is reported (`impl`). Prefill: B prompts of T tokens in one batched eager
forward, median of 3. Also measured here: the bf16 tensor-core rate (an 8192³ matmul, median of 10) that
target-bench divides prefill FLOPs by, and the 1 GiB device copy bandwidth. And a reference for the token
check: greedy tokens of a short decode with fp32 activations (weights bf16, KV cache bf16: our numerics) and
each step's top-1 margin.

    python3 bench/peer_target.py --model DIR --out FILE [--batches 1,8,32,64] [--qs 1,4] [--contexts 1024,8192]
        [--reps 50] [--prefill-tokens 2048] [--prefill-batches 1,8] [--hf 1] [--hf-rows 1x1x1024] [--hf-timeout 180]
"""
import argparse
import json
import math
import os
import subprocess
import sys
import time

try:
    import torch
except ImportError:  # --help works without it; a run says so below
    torch = None

DEV = 'cuda'


def sync():
    if DEV == 'cuda':
        torch.cuda.synchronize()


class Timer:
    """CUDA events on the GPU, perf_counter on the CPU; ms."""

    def __init__(self):
        self.cuda = DEV == 'cuda'

    def time(self, fn):
        if self.cuda:
            a, b = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
            a.record()
            fn()
            b.record()
            b.synchronize()
            return a.elapsed_time(b)
        t = time.perf_counter()
        fn()
        return (time.perf_counter() - t) * 1e3


def median(xs):
    s = sorted(xs)
    return s[len(s) // 2]


def read_config(d):
    path = os.path.join(d, 'config.json')
    if not os.path.exists(path):
        sys.exit(f'peer_target: {path} is missing (write one with node bench/make-llama-checkpoint.ts {d})')
    return json.load(open(path))


def load_state_dict(d):
    from safetensors.torch import load_file
    index = os.path.join(d, 'model.safetensors.index.json')
    files = sorted(set(json.load(open(index))['weight_map'].values())) if os.path.exists(index) else ['model.safetensors']
    sd = {}
    for f in files:
        p = os.path.join(d, f)
        if not os.path.exists(p):
            sys.exit(f'peer_target: shard {p} is missing')
        sd.update(load_file(p, device=DEV))
    return sd


def llama3_inv_freq(c):
    """Hugging Face's _compute_llama3_parameters (and the default rope), in fp32."""
    D = c.get('head_dim') or c['hidden_size'] // c['num_attention_heads']
    r = c.get('rope_parameters') or c.get('rope_scaling') or {}
    theta = r.get('rope_theta', c.get('rope_theta', 10000.0))
    inv = 1.0 / (theta ** (torch.arange(0, D, 2, dtype=torch.int64).float() / D))
    if r.get('rope_type', r.get('type', 'default')) != 'llama3':
        return inv
    factor, lo, hi, old = r['factor'], r['low_freq_factor'], r['high_freq_factor'], r['original_max_position_embeddings']
    low_wavelen, high_wavelen = old / lo, old / hi
    wavelen = 2 * math.pi / inv
    inv_l = torch.where(wavelen > low_wavelen, inv / factor, inv)
    smooth = (old / wavelen - lo) / (hi - lo)
    smoothed = (1 - smooth) * inv_l / factor + smooth * inv_l
    medium = ~(wavelen < high_wavelen) * ~(wavelen > low_wavelen)
    return torch.where(medium, smoothed, inv_l)


class GraphLlama:
    def __init__(self, c, sd, slots, max_len):
        self.L, self.H, self.Hq, self.Hk = c['num_hidden_layers'], c['hidden_size'], c['num_attention_heads'], c['num_key_value_heads']
        self.D = c.get('head_dim') or self.H // self.Hq
        self.G = self.Hq // self.Hk
        self.V = c['vocab_size']
        self.eps = c['rms_norm_eps']
        self.emb = sd.pop('model.embed_tokens.weight')
        self.head = sd.pop('lm_head.weight', self.emb)
        self.norm = sd.pop('model.norm.weight')
        self.layers = []
        for i in range(self.L):
            p = f'model.layers.{i}.'
            g = lambda n: sd.pop(p + n)
            self.layers.append(dict(
                ln1=g('input_layernorm.weight'), ln2=g('post_attention_layernorm.weight'),
                qkv=torch.cat([g('self_attn.q_proj.weight'), g('self_attn.k_proj.weight'), g('self_attn.v_proj.weight')]),
                o=g('self_attn.o_proj.weight'),
                gu=torch.cat([g('mlp.gate_proj.weight'), g('mlp.up_proj.weight')]), down=g('mlp.down_proj.weight')))
        self.max_len = max_len
        self.k = torch.empty(self.L, slots, self.Hk, max_len, self.D, device=DEV, dtype=torch.bfloat16)
        self.v = torch.empty_like(self.k)
        inv = llama3_inv_freq(c).to(DEV)
        f = torch.outer(torch.arange(max_len, device=DEV).float(), inv)
        self.cos32, self.sin32 = torch.cat([f, f], -1).cos(), torch.cat([f, f], -1).sin()
        self.cos, self.sin = self.cos32.to(torch.bfloat16), self.sin32.to(torch.bfloat16)

    def fill_random(self):
        """the cache as target-bench fills ours: random values of magnitude [2^-3, 1)"""
        for t in (self.k, self.v):
            for i in range(self.L):
                t[i].uniform_(0.125, 1.0).mul_(torch.randint_like(t[i], 0, 2).mul_(2).sub_(1))

    def rms(self, x, w):
        xf = x.float()
        return (xf * torch.rsqrt(xf.pow(2).mean(-1, keepdim=True) + self.eps)).to(x.dtype) * w

    def rope(self, x, cos, sin):  # x [B, h, T, D]; cos/sin [T, D]
        x1, x2 = x[..., : self.D // 2], x[..., self.D // 2:]
        return x * cos + torch.cat([-x2, x1], -1) * sin

    def forward(self, tok, start, last_only):
        """tok [B, T] at positions start … start+T−1 of cache rows 0 … B−1 (static: one graph per shape)."""
        B, T = tok.shape
        D, Hq, Hk, G = self.D, self.Hq, self.Hk, self.G
        x = self.emb[tok]
        cos, sin = self.cos[start:start + T], self.sin[start:start + T]
        n = start + T
        if T > 1 and start > 0:  # verify rows: query (g, t) sees positions ≤ start + t
            t_of_row = torch.arange(G * T, device=DEV) % T
            mask = torch.arange(n, device=DEV).view(1, -1) <= (start + t_of_row).view(-1, 1)
        for i, w in enumerate(self.layers):
            h = self.rms(x, w['ln1'])
            q, k, v = (h @ w['qkv'].t()).split([Hq * D, Hk * D, Hk * D], -1)
            q = self.rope(q.view(B, T, Hq, D).transpose(1, 2), cos, sin)
            k = self.rope(k.view(B, T, Hk, D).transpose(1, 2), cos, sin)
            self.k[i, :B, :, start:n] = k
            self.v[i, :B, :, start:n] = v.view(B, T, Hk, D).transpose(1, 2)
            kc, vc = self.k[i, :B, :, :n], self.v[i, :B, :, :n]
            if start == 0:  # prefill: causal flash attention over K/V repeated per query head
                a = torch.nn.functional.scaled_dot_product_attention(q, kc.repeat_interleave(G, 1), vc.repeat_interleave(G, 1), is_causal=T > 1)
            else:  # decode/verify: a group's G query heads as query rows of its KV head
                qg = q.reshape(B, Hk, G * T, D)
                a = torch.nn.functional.scaled_dot_product_attention(qg, kc, vc, attn_mask=mask if T > 1 else None).view(B, Hq, T, D)
            x = x + a.transpose(1, 2).reshape(B, T, Hq * D) @ w['o'].t()
            h = self.rms(x, w['ln2'])
            g, u = (h @ w['gu'].t()).chunk(2, -1)
            x = x + (torch.nn.functional.silu(g) * u) @ w['down'].t()
        x = self.rms(x[:, -1:] if last_only else x, self.norm)
        return (x @ self.head.t()).argmax(-1)

    def reference(self, prompt, steps):  # called under torch.no_grad()
        """greedy tokens with fp32 activations (bf16 weights upcast per matmul, bf16 KV: our numerics), top-1 margins"""
        L, D, Hq, Hk, G = self.L, self.D, self.Hq, self.Hk, self.G
        kc = torch.zeros(L, Hk, len(prompt) + steps + 1, D, device=DEV, dtype=torch.bfloat16)
        vc = torch.zeros_like(kc)

        def rms(x, w):
            return x * torch.rsqrt(x.pow(2).mean(-1, keepdim=True) + self.eps) * w.float()

        def rope(x, pos):
            c, s = self.cos32[pos], self.sin32[pos]
            x1, x2 = x[..., : D // 2], x[..., D // 2:]
            return x * c + torch.cat([-x2, x1], -1) * s

        def step(toks, p0):
            T = len(toks)
            pos = torch.arange(p0, p0 + T, device=DEV)
            x = self.emb[torch.tensor(toks, device=DEV)].float()
            for i, w in enumerate(self.layers):
                h = rms(x, w['ln1'])
                q, k, v = (h @ w['qkv'].float().t()).split([Hq * D, Hk * D, Hk * D], -1)
                q = rope(q.view(T, Hq, D).transpose(0, 1), pos)
                k = rope(k.view(T, Hk, D).transpose(0, 1), pos)
                kc[i, :, p0:p0 + T] = k.to(torch.bfloat16)
                vc[i, :, p0:p0 + T] = v.view(T, Hk, D).transpose(0, 1).to(torch.bfloat16)
                kk, vv = kc[i, :, :p0 + T].float().repeat_interleave(G, 0), vc[i, :, :p0 + T].float().repeat_interleave(G, 0)
                s = (q @ kk.transpose(1, 2)) / math.sqrt(D)
                s = s.masked_fill(torch.arange(p0 + T, device=DEV).view(1, 1, -1) > pos.view(1, -1, 1), float('-inf'))
                a = torch.softmax(s, -1) @ vv
                x = x + a.transpose(0, 1).reshape(T, Hq * D) @ w['o'].float().t()
                h = rms(x, w['ln2'])
                g, u = (h @ w['gu'].float().t()).chunk(2, -1)
                x = x + (torch.nn.functional.silu(g) * u) @ w['down'].float().t()
            logits = rms(x[-1:], self.norm) @ self.head.float().t()
            top = logits[0].topk(2)
            return int(top.indices[0]), float(top.values[0] - top.values[1])

        toks, margins = [], []
        t, m = step(prompt, 0)
        toks.append(t)
        margins.append(m)
        for i in range(steps):
            t, m = step([toks[-1]], len(prompt) + i)
            toks.append(t)
            margins.append(m)
        return toks, margins


def graph_step(model, B, q, context):
    tok = torch.randint(0, model.V, (B, q), device=DEV)
    if DEV != 'cuda':
        return lambda: model.forward(tok, context, False)
    s = torch.cuda.Stream()
    s.wait_stream(torch.cuda.current_stream())
    with torch.cuda.stream(s):
        for _ in range(2):
            model.forward(tok, context, False)
    torch.cuda.current_stream().wait_stream(s)
    g = torch.cuda.CUDAGraph()
    with torch.cuda.graph(g):
        out = model.forward(tok, context, False)
    keep = (tok, out)  # the graph reads them: they must outlive it
    return lambda: (g.replay(), keep)


def tensor_core_tflops():
    n = 8192 if DEV == 'cuda' else 512
    a = torch.randn(n, n, device=DEV, dtype=torch.bfloat16)
    b = torch.randn(n, n, device=DEV, dtype=torch.bfloat16)
    tm = Timer()
    for _ in range(3):
        a @ b
    ms = median([tm.time(lambda: a @ b) for _ in range(10)])
    return dict(tflops=2 * n ** 3 / (ms / 1e3) / 1e12, ms=ms, what=f'torch.matmul bf16 {n}x{n}x{n}, median of 10')


def copy_bandwidth():
    n = 1 << 30 if DEV == 'cuda' else 1 << 26
    a = torch.empty(n, dtype=torch.uint8, device=DEV).fill_(0x5a)
    b = torch.empty_like(a)
    tm = Timer()
    for _ in range(3):
        b.copy_(a)
    ms = median([tm.time(lambda: b.copy_(a)) for _ in range(10)])
    return dict(gbps_read_plus_write=2 * n / (ms / 1e3) / 1e9, ms=ms, bytes=n)


def hf_child(a):
    """the HF compile attempt, in its own process (a segfault must not take the peer down)"""
    from transformers import LlamaForCausalLM, StaticCache
    import transformers
    out = dict(transformers=transformers.__version__, rows=[])
    try:
        try:
            m = LlamaForCausalLM.from_pretrained(a.model, dtype=torch.bfloat16, attn_implementation='sdpa')
        except TypeError:  # transformers < 4.56 names it torch_dtype
            m = LlamaForCausalLM.from_pretrained(a.model, torch_dtype=torch.bfloat16, attn_implementation='sdpa')
        m = m.to(DEV).eval()
    except Exception as e:
        out['error'] = f'loading {a.model} with LlamaForCausalLM.from_pretrained: {type(e).__name__}: {str(e).splitlines()[0] if str(e) else ""}'
        json.dump(out, open(a.child_out, 'w'))
        sys.exit(1)
    V = m.config.vocab_size
    for spec in a.hf_rows.split(','):
        B, q, ctx = (int(x) for x in spec.split('x'))
        row = dict(B=B, q=q, context=ctx, impl='hf-compile')
        cache = None
        try:
            try:
                cache = StaticCache(config=m.config, max_batch_size=B, max_cache_len=ctx + q, device=DEV, dtype=torch.bfloat16)
            except TypeError:
                cache = StaticCache(config=m.config, max_cache_len=ctx + q)
            with torch.no_grad():
                # the context: a real prefill through the base model (no [B, ctx, V] logits)
                m.model(input_ids=torch.randint(0, V, (B, ctx), device=DEV), past_key_values=cache, cache_position=torch.arange(ctx, device=DEV), use_cache=True)
                ids = torch.randint(0, V, (B, q), device=DEV)
                pos = torch.arange(ctx, ctx + q, device=DEV)
                step = torch.compile(lambda i, p: m(i, past_key_values=cache, cache_position=p, use_cache=True).logits.argmax(-1), mode='reduce-overhead', fullgraph=True)
                t0 = time.perf_counter()
                for _ in range(3):
                    step(ids, pos)
                sync()
                row['compile_s'] = time.perf_counter() - t0
                tm = Timer()
                row['ms'] = median([tm.time(lambda: step(ids, pos)) for _ in range(a.reps)])
        except Exception as e:  # an API or compile failure: recorded, the other rows go on
            row['error'] = f'{type(e).__name__}: {str(e).splitlines()[0] if str(e) else ""}'
        out['rows'].append(row)
        print(json.dumps(row), flush=True)
        cache = step = None
        torch.cuda.empty_cache()
    json.dump(out, open(a.child_out, 'w'))


def run_hf(a):
    child_out = a.out + '.hf.json'
    cmd = [sys.executable, __file__, '--model', a.model, '--out', a.out, '--hf-child', '--child-out', child_out, '--hf-rows', a.hf_rows, '--reps', str(a.reps)]
    t0 = time.perf_counter()
    try:
        p = subprocess.run(cmd, timeout=a.hf_timeout)
    except subprocess.TimeoutExpired:
        return dict(ok=False, error=f'timed out after {a.hf_timeout} s (raise --hf-timeout)', rows=[])
    res = json.load(open(child_out)) if os.path.exists(child_out) else dict(rows=[])
    if os.path.exists(child_out):
        os.remove(child_out)
    res['seconds'] = time.perf_counter() - t0
    if p.returncode != 0:
        why = f'killed by signal {-p.returncode}' + (' (segfault)' if p.returncode == -11 else '') if p.returncode < 0 else f'exit {p.returncode}'
        res.update(ok=False, error=f'the HF torch.compile child {why}' + (f': {res["error"]}' if res.get('error') else ''))
    else:
        res['ok'] = True
    return res


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument('--model', required=True)
    ap.add_argument('--out', required=True)
    ap.add_argument('--batches', default='1,8,32,64')
    ap.add_argument('--qs', default='1,4')
    ap.add_argument('--contexts', default='1024,8192')
    ap.add_argument('--reps', type=int, default=50)
    ap.add_argument('--prefill-tokens', type=int, default=2048)
    ap.add_argument('--prefill-batches', default='1,8')
    ap.add_argument('--hf', type=int, default=1, help='1: try the HF torch.compile peer first (in a child process)')
    ap.add_argument('--hf-rows', default='1x1x1024', help='BxQxCONTEXT,… rows for the HF peer')
    ap.add_argument('--hf-timeout', type=int, default=180)
    ap.add_argument('--ref-prompt', type=int, default=32)
    ap.add_argument('--ref-steps', type=int, default=16)
    ap.add_argument('--device', default='cuda')
    ap.add_argument('--hf-child', action='store_true', help=argparse.SUPPRESS)
    ap.add_argument('--child-out', help=argparse.SUPPRESS)
    # TARGET_ARGS (bench/gpu-check.sh) go to target-bench and here: options only target-bench knows are ignored
    a, ignored = ap.parse_known_args()
    if ignored:
        print(f'peer_target: ignoring {" ".join(ignored)} (target-bench options)', flush=True)
    global DEV
    DEV = a.device
    if torch is None:
        sys.exit('peer_target: PyTorch is not installed (pip install torch safetensors; transformers for the HF peer)')
    if a.hf_child:
        return hf_child(a)
    ints = lambda s: [int(x) for x in s.split(',') if x and int(x) > 0]
    batches, qs, contexts, pre_b = ints(a.batches), ints(a.qs), ints(a.contexts), ints(a.prefill_batches)
    # the HF child first: it needs the GPU memory this process takes below
    hf = run_hf(a) if a.hf and DEV == 'cuda' else dict(ok=False, error='skipped (--hf 0 or not on CUDA)', rows=[])
    print(json.dumps(dict(hf={k: v for k, v in hf.items() if k != 'rows'})), flush=True)
    c = read_config(a.model)
    result = dict(torch=torch.__version__, gpu=torch.cuda.get_device_name() if DEV == 'cuda' else 'cpu', model=a.model, hf=hf, rows=[], prefill=[])
    result['copy'] = copy_bandwidth()
    result['tensor_core'] = tensor_core_tflops()
    print(json.dumps(dict(copy=result['copy'], tensor_core=result['tensor_core'])), flush=True)
    t0 = time.perf_counter()
    sd = load_state_dict(a.model)
    slots = max(batches + pre_b)
    max_len = max(max(contexts) + max(qs), a.prefill_tokens) + 1
    model = GraphLlama(c, sd, slots, max_len)
    result['load_s'] = time.perf_counter() - t0
    with torch.no_grad():
        prompt = [int(x) for x in torch.randint(0, model.V, (a.ref_prompt,), generator=torch.Generator().manual_seed(11))]
        toks, margins = model.reference(prompt, a.ref_steps - 1)
        result['reference'] = dict(prompt=prompt, tokens=toks, margins=margins, what='greedy, fp32 activations, bf16 weights and KV cache')
        print(json.dumps(dict(reference_margins_min=min(margins))), flush=True)
        model.fill_random()
        tm = Timer()
        for ctx in contexts:
            for B in batches:
                for q in qs:
                    row = dict(B=B, q=q, context=ctx, impl='graph')
                    try:
                        run = graph_step(model, B, q, ctx)
                        ms = [tm.time(run) for _ in range(a.reps)]
                        row.update(ms=median(ms), min_ms=min(ms))
                        del run
                    except Exception as e:
                        row['error'] = f'{type(e).__name__}: {str(e).splitlines()[0] if str(e) else ""}'
                    h = next((r for r in hf['rows'] if (r['B'], r['q'], r['context']) == (B, q, ctx) and 'ms' in r), None)
                    row['graph_ms'] = row.get('ms')
                    if h and ('ms' not in row or h['ms'] < row['ms']):
                        row.update(ms=h['ms'], impl='hf-compile')
                    result['rows'].append(row)
                    print(json.dumps(row), flush=True)
        T = a.prefill_tokens
        for B in pre_b:
            row = dict(B=B, T=T, impl='eager-batched')
            try:
                tok = torch.randint(0, model.V, (B, T), device=DEV)
                model.forward(tok, 0, True)
                ms = median([tm.time(lambda: model.forward(tok, 0, True)) for _ in range(3)])
                row.update(ms=ms, tok_s=B * T / (ms / 1e3))
            except Exception as e:
                row['error'] = f'{type(e).__name__}: {str(e).splitlines()[0] if str(e) else ""}'
            result['prefill'].append(row)
            print(json.dumps(row), flush=True)
    impls = sorted({r['impl'] for r in result['rows'] if 'ms' in r})
    result['impl'] = '+'.join(impls) if impls else None
    json.dump(result, open(a.out, 'w'), indent=1)


if __name__ == '__main__':
    main()
