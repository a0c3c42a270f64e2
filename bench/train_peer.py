#!/usr/bin/python3
"""PyTorch peer of mimic's LoRA training benchmark (bench/train_side_by_side.sh runs it).

Trains the same LoRA as `bench_train --only lora` on the same shapes: a qwen2 decoder of random
weights (Qwen2.5-0.5B shape by default: width 896, 24 layers, 14/2 heads, ff 4864, q/k/v biases,
tied embeddings), LoRA rank 16 (alpha 32) on all seven matrices (q, k, v, o, gate, up, down), one
packed sequence of T tokens made of 4 samples that never attend to each other, the loss on every
row but each sample's last, AdamW on the LoRA tensors only. The frozen base is float32, or bfloat16
with --dtype bf16 (autocast: the LoRA tensors and AdamW stay float32, the matrices run in bf16 where
oneDNN has bf16 kernels). A benchmark peer only: nothing in mimic depends on PyTorch.

Prints one `RESULT what=torch-f32 tokens_per_s=... rss_mib=... step_s=...` line (peak RSS of the
whole process, the interpreter and torch included).
"""
import argparse
import math
import resource
import sys
import time

try:
    import torch
except ImportError:
    sys.exit("train_peer.py: PyTorch is missing; on Debian: "
             "apt-get install -y python3-torch libopenblas0-openmp")


class Lin(torch.nn.Module):
    """y = x W^T (+ b) + s B(A x): W and b frozen, A and B trainable (PEFT's init: A Kaiming
    uniform, B zero)."""

    def __init__(self, n_in, n_out, rank, alpha, bias, dtype):
        super().__init__()
        self.w = torch.nn.Parameter(torch.randn(n_out, n_in, dtype=dtype) * 0.02,
                                    requires_grad=False)
        self.b = (torch.nn.Parameter(torch.zeros(n_out, dtype=dtype), requires_grad=False)
                  if bias else None)
        bound = 1.0 / math.sqrt(n_in)
        self.a = torch.nn.Parameter(torch.empty(rank, n_in).uniform_(-bound, bound))
        self.bb = torch.nn.Parameter(torch.zeros(n_out, rank))
        self.s = alpha / rank

    def forward(self, x):
        y = torch.nn.functional.linear(x, self.w, self.b)
        return y + self.s * torch.nn.functional.linear(torch.nn.functional.linear(x, self.a),
                                                       self.bb)


def rms(x, w, eps=1e-6):
    return x * torch.rsqrt(x.pow(2).mean(-1, keepdim=True) + eps) * w


class Layer(torch.nn.Module):
    def __init__(self, a, dtype):
        super().__init__()
        E, F, hd = a.width, a.ff, a.width // a.heads
        self.nh, self.nkv, self.hd = a.heads, a.kv_heads, hd
        r, al = a.rank, a.alpha
        self.q = Lin(E, a.heads * hd, r, al, True, dtype)
        self.k = Lin(E, a.kv_heads * hd, r, al, True, dtype)
        self.v = Lin(E, a.kv_heads * hd, r, al, True, dtype)
        self.o = Lin(a.heads * hd, E, r, al, False, dtype)
        self.gate = Lin(E, F, r, al, False, dtype)
        self.up = Lin(E, F, r, al, False, dtype)
        self.down = Lin(F, E, r, al, False, dtype)
        self.n1 = torch.nn.Parameter(torch.ones(E, dtype=dtype), requires_grad=False)
        self.n2 = torch.nn.Parameter(torch.ones(E, dtype=dtype), requires_grad=False)

    def forward(self, x, cos, sin, mask):
        T = x.shape[0]
        h = rms(x, self.n1)
        q = self.q(h).view(T, self.nh, self.hd).transpose(0, 1)
        k = self.k(h).view(T, self.nkv, self.hd).transpose(0, 1)
        v = self.v(h).view(T, self.nkv, self.hd).transpose(0, 1)
        q, k = rope(q, cos, sin), rope(k, cos, sin)
        g = self.nh // self.nkv
        k = k.repeat_interleave(g, dim=0)
        v = v.repeat_interleave(g, dim=0)
        s = (q @ k.transpose(1, 2)) / math.sqrt(self.hd) + mask
        att = (torch.softmax(s.float(), dim=-1).to(v.dtype) @ v).transpose(0, 1).reshape(T, -1)
        x = x + self.o(att)
        h = rms(x, self.n2)
        return x + self.down(torch.nn.functional.silu(self.gate(h)) * self.up(h))


def rope(x, cos, sin):  # NEOX pairing (qwen2): halves rotated together
    half = x.shape[-1] // 2
    x0, x1 = x[..., :half], x[..., half:]
    return torch.cat([x0 * cos - x1 * sin, x0 * sin + x1 * cos], dim=-1)


class Model(torch.nn.Module):
    def __init__(self, a, dtype):
        super().__init__()
        self.embd = torch.nn.Parameter(torch.randn(a.vocab, a.width, dtype=dtype) * 0.02,
                                       requires_grad=False)
        self.layers = torch.nn.ModuleList([Layer(a, dtype) for _ in range(a.layers)])
        self.norm = torch.nn.Parameter(torch.ones(a.width, dtype=dtype), requires_grad=False)

    def forward(self, tok, cos, sin, mask):
        x = self.embd[tok]
        for layer in self.layers:
            x = layer(x, cos, sin, mask)
        return torch.nn.functional.linear(rms(x, self.norm), self.embd)  # tied lm head


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--dtype", choices=["f32", "bf16"], default="f32")
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--seq", type=int, default=512)
    p.add_argument("--steps", type=int, default=3)
    p.add_argument("--vocab", type=int, default=151936)
    p.add_argument("--width", type=int, default=896)
    p.add_argument("--layers", type=int, default=24)
    p.add_argument("--heads", type=int, default=14)
    p.add_argument("--kv-heads", type=int, default=2)
    p.add_argument("--ff", type=int, default=4864)
    p.add_argument("--rank", type=int, default=16)
    p.add_argument("--alpha", type=float, default=32.0)
    a = p.parse_args()
    torch.set_num_threads(a.threads)
    torch.manual_seed(1)
    bf16 = a.dtype == "bf16"
    dtype = torch.bfloat16 if bf16 else torch.float32
    T = a.seq
    m = Model(a, dtype)
    lora = [t for t in m.parameters() if t.requires_grad]
    opt = torch.optim.AdamW(lora, lr=1e-4, weight_decay=0.01)
    # One packed sequence of 4 samples (as bench_train packs it): block-diagonal causal mask,
    # positions restarting at each sample, no target on a sample's last row.
    per = T // 4
    seg = [min(t // per * per, T - 1) for t in range(T)]
    pos = torch.tensor([t - seg[t] for t in range(T)], dtype=torch.float32)
    tok = torch.randint(0, a.vocab, (T,))
    tgt = tok.roll(-1).clone()
    for t in range(T):
        if t == T - 1 or seg[t + 1] != seg[t]:
            tgt[t] = -100
    hd = a.width // a.heads
    inv = 1e6 ** (-torch.arange(0, hd, 2, dtype=torch.float32) / hd)  # rope base 1e6 (Qwen2.5)
    ang = pos[:, None] * inv[None, :]
    cos, sin = ang.cos().to(dtype), ang.sin().to(dtype)
    segt = torch.tensor(seg)
    ok = (segt[:, None] == segt[None, :]) & (torch.arange(T)[None, :] <= torch.arange(T)[:, None])
    mask = torch.zeros(T, T).masked_fill(~ok, float("-inf")).to(dtype)
    times = []
    for step in range(a.steps + 1):  # step 0 warms up
        t0 = time.perf_counter()
        opt.zero_grad(set_to_none=True)
        with torch.autocast("cpu", dtype=torch.bfloat16, enabled=bf16):
            logits = m(tok, cos, sin, mask)
        loss = torch.nn.functional.cross_entropy(logits.float(), tgt, ignore_index=-100)
        loss.backward()
        opt.step()
        if step > 0:
            times.append(time.perf_counter() - t0)
    step_s = sum(times) / len(times)
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0
    print("torch %s %s, %d threads: %.1f tokens/s, %.2f s a step, peak RSS %.0f MiB, loss %.3f" %
          (torch.__version__, a.dtype, torch.get_num_threads(), T / step_s, step_s, rss,
           loss.item()))
    print("RESULT what=torch-%s tokens_per_s=%.2f rss_mib=%.0f step_s=%.2f" %
          (a.dtype, T / step_s, rss, step_s))


if __name__ == "__main__":
    main()
