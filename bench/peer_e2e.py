"""PyTorch peers for bench/e2e.ts, on the same GPU, model and prompts (tests/fixtures/target):

  hf-plain        Hugging Face generate, bf16, eager, dynamic cache, greedy, batch 1
  hf-prompt-lookup  the same with prompt_lookup_num_tokens=3 (HF's n-gram speculation; batch 1 only)
  torch-graph     the fastest plain decode loop we could write: gpt-fast style static KV cache, the whole
                  decode step (all layers, head, argmax) captured in one torch.cuda.CUDAGraph per batch size,
                  bf16 weights and activations, prefill eager per request

tok/s per request = generated tokens / wall time of that request's generation (prefill included), and in
total = all generated tokens / wall time of the whole batch. Every request generates exactly max_new tokens
(EOS ignored, as bench/e2e.ts does). Also writes the llama3 RoPE inverse frequencies transformers computes
for a Llama-3.1-8B config (a reference for our rope-tables test).

    python3 bench/peer_e2e.py --model tests/fixtures/target/pycode-small --workloads tests/fixtures/target/data/workloads-dev.json \
        --out peer-e2e.json [--hf-prompts 8] [--max-new 256] [--concurrency 1,8,32]
"""
import argparse
import json
import time

import torch

DEV = 'cuda'


def sync():
    if DEV == 'cuda':
        torch.cuda.synchronize()


def load(path):
    from transformers import LlamaForCausalLM
    m = LlamaForCausalLM.from_pretrained(path, torch_dtype=torch.bfloat16).to(DEV).eval()
    m.generation_config.eos_token_id = None
    m.generation_config.pad_token_id = 0
    return m


def hf_rows(model, prompts, max_new, lookup):
    rows = []
    for p in prompts:
        ids = torch.tensor([p], device=DEV)
        kw = dict(max_new_tokens=max_new, min_new_tokens=max_new, do_sample=False)
        if lookup:
            kw['prompt_lookup_num_tokens'] = 3
        sync()
        t0 = time.perf_counter()
        out = model.generate(ids, **kw)
        sync()
        dt = time.perf_counter() - t0
        n = out.shape[1] - len(p)
        rows.append(n / dt)
    return rows


class GraphLlama:
    """Static-cache Llama decode in bf16, one CUDA graph per batch size (gpt-fast's recipe)."""

    def __init__(self, model, max_len, max_batch):
        c = model.config
        self.c = c
        self.L, self.H, self.Hq, self.Hk = c.num_hidden_layers, c.hidden_size, c.num_attention_heads, c.num_key_value_heads
        self.D = getattr(c, 'head_dim', None) or self.H // self.Hq
        sd = {k: v for k, v in model.state_dict().items()}
        self.emb = sd['model.embed_tokens.weight']
        self.head = sd.get('lm_head.weight', self.emb)
        self.norm = sd['model.norm.weight']
        self.layers = []
        for i in range(self.L):
            p = f'model.layers.{i}.'
            g = lambda n: sd[p + n]
            self.layers.append(dict(
                ln1=g('input_layernorm.weight'), ln2=g('post_attention_layernorm.weight'),
                qkv=torch.cat([g('self_attn.q_proj.weight'), g('self_attn.k_proj.weight'), g('self_attn.v_proj.weight')]),
                o=g('self_attn.o_proj.weight'),
                gu=torch.cat([g('mlp.gate_proj.weight'), g('mlp.up_proj.weight')]), down=g('mlp.down_proj.weight')))
        self.eps = c.rms_norm_eps
        self.max_len = max_len
        self.k = torch.zeros(self.L, max_batch, self.Hk, max_len, self.D, device=DEV, dtype=torch.bfloat16)
        self.v = torch.zeros_like(self.k)
        inv = model.model.rotary_emb.inv_freq.float()
        t = torch.arange(max_len, device=DEV).float()
        f = torch.outer(t, inv)
        self.cos = torch.cat([f, f], -1).cos().to(torch.bfloat16)
        self.sin = torch.cat([f, f], -1).sin().to(torch.bfloat16)
        self.graphs = {}

    def rms(self, x, w):
        xf = x.float()
        return (xf * torch.rsqrt(xf.pow(2).mean(-1, keepdim=True) + self.eps)).to(x.dtype) * w

    def rope(self, x, pos):  # x [B, h, T, D], pos [B, T]
        cos, sin = self.cos[pos].unsqueeze(1), self.sin[pos].unsqueeze(1)
        x1, x2 = x[..., : self.D // 2], x[..., self.D // 2:]
        return x * cos + torch.cat([-x2, x1], -1) * sin

    def forward(self, tok, pos, rows):
        """tok, pos [B, T]; rows [B] cache rows; writes K/V at pos; attends positions ≤ pos."""
        B, T = tok.shape
        x = self.emb[tok]
        ar = torch.arange(self.max_len, device=DEV)
        mask = (ar.view(1, 1, 1, -1) <= pos.view(B, 1, T, 1))
        for i, w in enumerate(self.layers):
            h = self.rms(x, w['ln1'])
            qkv = h @ w['qkv'].t()
            q, k, v = qkv.split([self.Hq * self.D, self.Hk * self.D, self.Hk * self.D], -1)
            q = self.rope(q.view(B, T, self.Hq, self.D).transpose(1, 2), pos)
            k = self.rope(k.view(B, T, self.Hk, self.D).transpose(1, 2), pos)
            v = v.view(B, T, self.Hk, self.D).transpose(1, 2)
            bi = rows.view(B, 1).expand(B, T)
            self.k[i][bi, :, pos] = k.transpose(1, 2)
            self.v[i][bi, :, pos] = v.transpose(1, 2)
            kc, vc = self.k[i][rows], self.v[i][rows]
            a = torch.nn.functional.scaled_dot_product_attention(q, kc, vc, attn_mask=mask, enable_gqa=True)
            x = x + a.transpose(1, 2).reshape(B, T, -1) @ w['o'].t()
            h = self.rms(x, w['ln2'])
            g, u = (h @ w['gu'].t()).chunk(2, -1)
            x = x + (torch.nn.functional.silu(g) * u) @ w['down'].t()
        x = self.rms(x, self.norm)
        return (x[:, -1] @ self.head.t()).argmax(-1)

    def step_graph(self, B):
        if DEV != 'cuda':  # a CPU check of the loop's logic: no graph, the same forward each step
            tok = torch.zeros(B, 1, dtype=torch.long, device=DEV)
            pos = torch.zeros(B, 1, dtype=torch.long, device=DEV)
            rows = torch.arange(B, device=DEV)
            out = torch.zeros(B, dtype=torch.long, device=DEV)

            class Eager:
                def replay(_):
                    out.copy_(self.forward(tok, pos, rows))
            return Eager(), tok, pos, out
        if B not in self.graphs:
            tok = torch.zeros(B, 1, dtype=torch.long, device=DEV)
            pos = torch.zeros(B, 1, dtype=torch.long, device=DEV)
            rows = torch.arange(B, device=DEV)
            s = torch.cuda.Stream()
            s.wait_stream(torch.cuda.current_stream())
            with torch.cuda.stream(s):
                for _ in range(2):
                    self.forward(tok, pos, rows)
            torch.cuda.current_stream().wait_stream(s)
            g = torch.cuda.CUDAGraph()
            with torch.cuda.graph(g):
                out = self.forward(tok, pos, rows)
            # every tensor the graph reads must outlive it: a dropped `rows` is reused by the allocator
            self.graphs[B] = (g, tok, pos, out, rows)
        return self.graphs[B][:4]

    @torch.no_grad()
    def generate(self, prompts, max_new):
        """all prompts at once (concurrency = len(prompts)); returns (tokens, seconds)."""
        B = len(prompts)
        g, tok, pos, out = self.step_graph(B)
        sync()
        t0 = time.perf_counter()
        first = []
        for r, p in enumerate(prompts):
            t = torch.tensor([p], device=DEV)
            ps = torch.arange(len(p), device=DEV).view(1, -1)
            first.append(self.forward(t, ps, torch.tensor([r], device=DEV)))
        tok.copy_(torch.stack(first).view(B, 1))
        pos.copy_(torch.tensor([[len(p)] for p in prompts], device=DEV))
        outs = [tok.clone()]
        for _ in range(max_new - 1):
            g.replay()
            tok.copy_(out.view(B, 1))
            pos.add_(1)
            outs.append(tok.clone())
        res = torch.cat(outs, 1).tolist()
        sync()
        return res, time.perf_counter() - t0


def rope_llama3_reference():
    from transformers import LlamaConfig
    from transformers.modeling_rope_utils import ROPE_INIT_FUNCTIONS
    c = LlamaConfig(hidden_size=4096, num_attention_heads=32, num_key_value_heads=8, head_dim=128, max_position_embeddings=131072,
                    rope_theta=500000.0, rope_scaling=dict(rope_type='llama3', factor=8.0, low_freq_factor=1.0, high_freq_factor=4.0,
                                                           original_max_position_embeddings=8192))
    inv, scale = ROPE_INIT_FUNCTIONS['llama3'](c, 'cpu')
    return dict(config=dict(rope_theta=500000.0, head_dim=128, factor=8.0, low_freq_factor=1.0, high_freq_factor=4.0,
                            original_max_position_embeddings=8192), inv_freq=inv.float().tolist(), attention_scaling=float(scale))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument('--model', required=True)
    ap.add_argument('--workloads', required=True)
    ap.add_argument('--out', required=True)
    ap.add_argument('--hf-prompts', type=int, default=8)
    ap.add_argument('--max-new', type=int, default=256)
    ap.add_argument('--concurrency', default='1,8,32')
    ap.add_argument('--device', default='cuda')
    ap.add_argument('--prompts', type=int, default=0, help='only the first N prompts of each workload (0 = all)')
    ap.add_argument('--only', default='hf,graph', help='which peers: hf, graph')
    a = ap.parse_args()
    global DEV
    DEV = a.device
    w = json.load(open(a.workloads))
    mixed = [p for pair in zip(w['code']['prompts'], w['repeat']['prompts']) for p in pair]
    loads = {'code': w['code']['prompts'], 'repeat': w['repeat']['prompts'], 'mixed': mixed}
    if a.prompts:
        loads = {k: v[: a.prompts] for k, v in loads.items()}
    model = load(a.model)
    result = dict(torch=torch.__version__, gpu=torch.cuda.get_device_name() if DEV == 'cuda' else 'cpu', max_new=a.max_new, rows=[])
    try:
        import transformers
        result['transformers'] = transformers.__version__
    except Exception:
        pass
    for name, prompts in (loads.items() if 'hf' in a.only else []):
        if name == 'code':
            hf_rows(model, [loads['code'][0][:16]], 8, False)  # warm-up
        for peer, lookup in (('hf-plain', False), ('hf-prompt-lookup', True)):
            r = hf_rows(model, prompts[: a.hf_prompts], a.max_new, lookup)
            row = dict(peer=peer, workload=name, concurrency=1, prompts=len(r), tok_s_per_request=sum(r) / len(r), tok_s_total=sum(r) / len(r))
            result['rows'].append(row)
            print(json.dumps(row), flush=True)
    conc = [int(c) for c in a.concurrency.split(',')]
    gl = GraphLlama(model, max_len=max(len(p) for p in mixed) + a.max_new + 8, max_batch=max(conc))
    if 'graph' in a.only:
        gl.generate([loads['code'][0]], 8)  # warm-up and capture B=1
        # sanity check of the loop: its greedy tokens against HF generate's (both bf16) on one prompt
        p0 = loads['code'][0]
        mine, _ = gl.generate([p0], 64)
        ref = model.generate(torch.tensor([p0], device=DEV), max_new_tokens=64, min_new_tokens=64, do_sample=False)[0, len(p0):].tolist()
        same = next((i for i, (x, y) in enumerate(zip(mine[0], ref)) if x != y), 64)
        result['graph_loop_check'] = dict(prefix_equal_to_hf=same, of=64)
        print(json.dumps(result['graph_loop_check']), flush=True)
    for name, prompts in (loads.items() if 'graph' in a.only else []):
        for c in conc:
            per, tot_tok, tot_s = [], 0, 0.0
            for s in range(0, len(prompts), c):
                chunk = prompts[s:s + c]
                if len(chunk) < c:
                    break
                toks, secs = gl.generate(chunk, a.max_new)
                per.append(a.max_new / secs)
                tot_tok += a.max_new * len(chunk)
                tot_s += secs
            row = dict(peer='torch-graph', workload=name, concurrency=c, prompts=tot_tok // a.max_new,
                       tok_s_per_request=sum(per) / len(per), tok_s_total=tot_tok / tot_s, ms_per_step=1000 * tot_s / (a.max_new * len(per)))
            result['rows'].append(row)
            print(json.dumps(row), flush=True)
    result['rope_llama3'] = rope_llama3_reference()
    json.dump(result, open(a.out, 'w'), indent=1)


if __name__ == '__main__':
    main()
