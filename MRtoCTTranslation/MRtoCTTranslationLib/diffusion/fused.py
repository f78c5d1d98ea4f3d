"""Inference forwards for MONAI's DiffusionModelUNet blocks: the same function in fewer passes over memory.

On a CPU the denoiser's convolutions are compute-bound, but everything between them (GroupNorm, SiLU,
the timestep addition, the residual addition) streams whole activations through memory; on 2 cores
those passes took about a quarter of an evaluation (``mrtoct bench`` prints the breakdown). The
forwards here remove passes without changing what is computed:

- the timestep embedding is added through the first convolution's bias (one pass fewer) when every
  sample of the batch has the same timestep, which sampling always has;
- SiLU runs in place on GroupNorm's fresh output, and the residual is added in place into the second
  convolution's fresh output (no new tensors to allocate and fault in);
- under bf16 autocast GroupNorm runs on the bf16 activations (with float accumulation inside
  PyTorch's kernel) instead of autocast's float32 copy, so norm, SiLU and the next convolution's input
  stay at half the bytes;
- the bottleneck's attention output keeps the channels-last layout of the convolutions around it
  (MONAI's mid block makes it contiguous, which costs two reorders);
- where a window's bottleneck holds more than ``POOL_KEYS_ABOVE`` tokens (the 2 mm model's 64x64x16
  windows: 1024, the 1 mm model's 96x96x32: 4608), the attention's keys and values come from the
  features averaged over 2x2x2 voxels: eight times fewer keys. With 8-channel heads, attention over N
  tokens costs N^2 exponentials whatever the channels: at 4608 tokens it took 21 % (fp32) to 37 %
  (bf16) of an evaluation, at 1024 tokens 7 % to 12 %. Averaging before the key and value projections
  equals averaging the keys and values (they are linear), and where features are constant over each
  2x2x2 block it is exact (eight equal keys share the softmax as one). On held-out phantom cases the
  synthetic CT's MAE moved by less than 0.01 HU with either model (``docs/speed.md``). This one is
  an approximation, so tiny bottlenecks keep the full attention.

The blocks switch class in place (``fuse_for_inference``), so parameter names, state dicts and
training are untouched; with gradients enabled, or off the CPU, they run MONAI's own forward.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from monai.networks.blocks.spatialattention import SpatialAttentionBlock
from monai.networks.nets.diffusion_model_unet import AttnMidBlock, DiffusionUNetResnetBlock
from torch import nn

__all__ = ["POOL_KEYS_ABOVE", "FusedAttentionBlock", "FusedMidBlock", "FusedResnetBlock", "fuse_for_inference",
           "norm_silu"]

POOL_KEYS_ABOVE = 512  # bottleneck tokens per window above which keys and values are 2x2x2 averages


def norm_silu(norm: nn.GroupNorm, x: torch.Tensor) -> torch.Tensor:
    """SiLU(GroupNorm(x)) in x's own dtype, the SiLU in place on the norm's new tensor."""
    with torch.autocast("cpu", enabled=False):
        y = F.group_norm(x, norm.num_groups, norm.weight, norm.bias, norm.eps)
    return F.silu(y, inplace=True)


def _fast_path(x: torch.Tensor) -> bool:
    return x.device.type == "cpu" and not torch.is_grad_enabled()


class FusedResnetBlock(DiffusionUNetResnetBlock):
    """DiffusionUNetResnetBlock with the timestep folded into conv1's bias and in-place SiLU and residual."""

    def forward(self, x: torch.Tensor, emb: torch.Tensor) -> torch.Tensor:
        if not _fast_path(x) or self.upsample is not None or self.downsample is not None:
            return super().forward(x, emb)
        h = norm_silu(self.norm1, x)
        temb = self.time_emb_proj(F.silu(emb))
        conv = self.conv1.conv
        if bool((temb == temb[:1]).all()):
            bias = temb[0] if conv.bias is None else conv.bias + temb[0]
            h = conv._conv_forward(h, conv.weight, bias)
        else:
            h = conv(h) + temb.reshape(*temb.shape, *([1] * self.spatial_dims))
        h = self.conv2(norm_silu(self.norm2, h))
        return h.add_(self.skip_connection(x))


class FusedMidBlock(AttnMidBlock):
    """AttnMidBlock whose attention output keeps its (channels-last) layout."""

    def forward(self, hidden_states: torch.Tensor, temb: torch.Tensor, context: torch.Tensor | None = None
                ) -> torch.Tensor:
        if not _fast_path(hidden_states):
            return super().forward(hidden_states, temb, context)
        h = self.resnet_1(hidden_states, temb)
        return self.resnet_2(self.attention(h), temb)


def _plain_attention(a: nn.Module) -> bool:
    """MONAI's SABlock as DiffusionModelUNet builds it: separate projections, no mask, relative positions,
    causality, dtype cast or dropout (the only attention the pooled keys are written for)."""
    return (not a.use_combined_linear and a.use_flash_attention and not a.causal and a.attention_dtype is None
            and a.rel_positional_embedding is None and a.dropout_rate == 0.0)


class FusedAttentionBlock(SpatialAttentionBlock):
    """SpatialAttentionBlock whose keys and values are 2x2x2 averages on large 3D bottlenecks."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        shape = x.shape
        tokens = shape[2:].numel()
        if (not _fast_path(x) or len(shape) != 5 or tokens <= POOL_KEYS_ABOVE or any(n % 2 for n in shape[2:])
                or not _plain_attention(self.attn)):
            return super().forward(x)
        a = self.attn
        normed = self.norm(x)
        queries = normed.reshape(*shape[:2], -1).transpose(1, 2)
        pooled = F.avg_pool3d(normed, 2)
        keys = pooled.reshape(*shape[:2], -1).transpose(1, 2)
        q, k, v = (a.input_rearrange(f(t)) for f, t in ((a.to_q, queries), (a.to_k, keys), (a.to_v, keys)))
        out = a.out_proj(a.out_rearrange(F.scaled_dot_product_attention(q, k, v, scale=a.scale)))
        return out.transpose(1, 2).reshape(shape).add_(x)


_FUSED = {DiffusionUNetResnetBlock: FusedResnetBlock, AttnMidBlock: FusedMidBlock,
          SpatialAttentionBlock: FusedAttentionBlock}


def fuse_for_inference(net: nn.Module) -> nn.Module:
    """Switch every MONAI resnet, attention and mid block of ``net`` to its fused forward (in place)."""
    for module in net.modules():
        fused = _FUSED.get(type(module))
        if fused is not None:
            module.__class__ = fused
    return net
