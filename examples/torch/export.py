"""Exports the PyTorch example models to ONNX (generated data, checked in; never edit the .onnx by hand).

Run with Debian's python3 that has torch (CI does not need torch: the .onnx files are committed):

    /usr/bin/python3 examples/torch/export.py

mlp.onnx          Linear(64,128)-ReLU-Linear(128,128)-ReLU-Linear(128,10); input x [batch, 64]
llama_block.onnx  one Llama-style decoder block (RMSNorm, rotary Q/K, causal softmax attention,
                  SiLU-gated MLP), hidden 64, 4 heads; input x [batch, seq, 64]

Both use opset 17 and dynamic batch/seq axes; weights come from torch.manual_seed(0).
"""
import math
import os

import torch
from torch import nn

HERE = os.path.dirname(os.path.abspath(__file__))
OPSET = 17


class RMSNorm(nn.Module):
    def __init__(self, dim, eps=1e-6):
        super().__init__()
        self.eps = eps
        self.weight = nn.Parameter(1 + 0.1 * torch.randn(dim))

    def forward(self, x):
        return x * torch.rsqrt(x.pow(2).mean(-1, keepdim=True) + self.eps) * self.weight


def rotate_half(x):
    x1, x2 = x[..., : x.shape[-1] // 2], x[..., x.shape[-1] // 2 :]
    return torch.cat((-x2, x1), dim=-1)


class LlamaBlock(nn.Module):
    def __init__(self, hidden=64, heads=4, ffn=128, max_seq=64):
        super().__init__()
        self.heads, self.hd = heads, hidden // heads
        self.input_layernorm = RMSNorm(hidden)
        self.post_attention_layernorm = RMSNorm(hidden)
        self.q_proj = nn.Linear(hidden, hidden, bias=False)
        self.k_proj = nn.Linear(hidden, hidden, bias=False)
        self.v_proj = nn.Linear(hidden, hidden, bias=False)
        self.o_proj = nn.Linear(hidden, hidden, bias=False)
        self.gate_proj = nn.Linear(hidden, ffn, bias=False)
        self.up_proj = nn.Linear(hidden, ffn, bias=False)
        self.down_proj = nn.Linear(ffn, hidden, bias=False)
        inv_freq = 1.0 / (10000 ** (torch.arange(0, self.hd, 2).float() / self.hd))
        freqs = torch.outer(torch.arange(max_seq).float(), inv_freq)
        emb = torch.cat((freqs, freqs), dim=-1)
        self.register_buffer("cos_cached", emb.cos(), persistent=False)
        self.register_buffer("sin_cached", emb.sin(), persistent=False)

    def forward(self, x):
        b, s, h = x.shape
        y = self.input_layernorm(x)
        q, k, v = (p(y).view(b, s, self.heads, self.hd).transpose(1, 2) for p in (self.q_proj, self.k_proj, self.v_proj))
        cos, sin = self.cos_cached[:s], self.sin_cached[:s]
        q = q * cos + rotate_half(q) * sin
        k = k * cos + rotate_half(k) * sin
        scores = q @ k.transpose(-1, -2) / math.sqrt(self.hd)
        mask = torch.triu(torch.full((s, s), float("-inf")), diagonal=1)
        attn = torch.softmax(scores + mask, dim=-1) @ v
        x = x + self.o_proj(attn.transpose(1, 2).reshape(b, s, h))
        y = self.post_attention_layernorm(x)
        return x + self.down_proj(nn.functional.silu(self.gate_proj(y)) * self.up_proj(y))


def export(model, x, name, axes):
    model.eval()
    path = os.path.join(HERE, name)
    torch.onnx.export(model, (x,), path, opset_version=OPSET, input_names=["x"], output_names=["y"],
                      dynamic_axes={"x": axes, "y": axes}, do_constant_folding=True)
    print("wrote", os.path.relpath(path, os.path.join(HERE, "..", "..")), os.path.getsize(path), "bytes")


def main():
    torch.manual_seed(0)
    mlp = nn.Sequential(nn.Linear(64, 128), nn.ReLU(), nn.Linear(128, 128), nn.ReLU(), nn.Linear(128, 10))
    export(mlp, torch.randn(2, 64), "mlp.onnx", {0: "batch"})
    export(LlamaBlock(), torch.randn(2, 5, 64), "llama_block.onnx", {0: "batch", 1: "seq"})


if __name__ == "__main__":
    with torch.no_grad():
        main()
