"""The fused inference forwards compute what MONAI's blocks compute, and leave training alone."""

from __future__ import annotations

import copy

import pytest
import torch
from monai.networks.nets.diffusion_model_unet import AttnMidBlock, DiffusionUNetResnetBlock

from MRtoCTTranslationLib.diffusion.fused import (
    FusedMidBlock,
    FusedResnetBlock,
    fuse_for_inference,
    norm_silu,
)
from MRtoCTTranslationLib.diffusion.networks import NetworkConfig, build_network, for_inference


def _pair(seed: int = 0):
    cfg = NetworkConfig(channels=(8, 16), norm_num_groups=4)
    torch.manual_seed(seed)
    plain = build_network(cfg).eval()
    for p in plain.parameters():  # MONAI zero-initialises conv2 and the output: make every path count
        torch.nn.init.normal_(p, std=0.2)
    return plain, fuse_for_inference(copy.deepcopy(plain))


def test_every_monai_block_is_switched_and_the_parameters_keep_their_names():
    plain, fused = _pair()
    kinds = {type(m) for m in fused.modules()}
    assert FusedResnetBlock in kinds and FusedMidBlock in kinds
    assert DiffusionUNetResnetBlock not in kinds and AttnMidBlock not in kinds
    assert list(fused.state_dict()) == list(plain.state_dict())


@pytest.mark.parametrize("timesteps", [[500, 500], [10, 900]])  # one timestep (bias path) and two (addition path)
def test_fused_forward_equals_monai_in_float32(timesteps):
    plain, fused = _pair()
    for_inference(fused, 3)  # channels-last as well, as the translator runs it
    x, c = torch.randn(2, 1, 16, 12, 8), torch.randn(2, 1, 16, 12, 8)
    t = torch.tensor(timesteps)
    with torch.inference_mode():
        a, b = plain(x, c, t), fused(x, c, t)
    assert a.abs().mean() > 0.1  # not a trivially zero network
    assert float((a - b).abs().max()) < 1e-4 * float(a.abs().max())


def test_fused_forward_in_bf16_autocast_stays_within_bf16_rounding():
    plain, fused = _pair(1)
    x, c, t = torch.randn(2, 1, 16, 12, 8), torch.randn(2, 1, 16, 12, 8), torch.tensor([300, 300])
    with torch.inference_mode():
        ref = plain(x, c, t)
        with torch.autocast("cpu", dtype=torch.bfloat16):
            lo_plain, lo_fused = plain(x, c, t).float(), fused(x, c, t).float()
    err_plain, err_fused = float((lo_plain - ref).abs().max()), float((lo_fused - ref).abs().max())
    assert err_fused < 2 * err_plain + 1e-3  # the same size of error as MONAI's own bf16 path


def test_with_gradients_the_fused_blocks_run_monai_forward():
    plain, fused = _pair(2)
    x, c, t = torch.randn(1, 1, 16, 12, 8), torch.randn(1, 1, 16, 12, 8), torch.tensor([700])
    a, b = plain(x, c, t), fused(x, c, t)
    assert torch.equal(a, b) and b.requires_grad
    b.sum().backward()
    assert all(p.grad is not None for p in fused.parameters() if p.requires_grad)


def test_norm_silu_matches_groupnorm_then_silu():
    norm = torch.nn.GroupNorm(2, 6)
    torch.nn.init.normal_(norm.weight)
    x = torch.randn(2, 6, 5, 4, 3)
    with torch.inference_mode():
        assert torch.allclose(norm_silu(norm, x), torch.nn.functional.silu(norm(x)), atol=1e-6)
        with torch.autocast("cpu", dtype=torch.bfloat16):  # bf16 in stays bf16 (autocast would upcast)
            assert norm_silu(norm, x.bfloat16()).dtype == torch.bfloat16


def _attention_pair(channels: int = 16):
    from monai.networks.blocks.spatialattention import SpatialAttentionBlock

    from MRtoCTTranslationLib.diffusion.fused import FusedAttentionBlock

    torch.manual_seed(3)
    plain = SpatialAttentionBlock(3, channels, num_head_channels=8, norm_num_groups=4, use_flash_attention=True).eval()
    for p in plain.parameters():
        torch.nn.init.normal_(p, std=0.3)
    fused = copy.deepcopy(plain)
    fused.__class__ = FusedAttentionBlock
    return plain, fused


def test_pooled_keys_are_exact_where_features_are_constant_over_2x2x2_blocks():
    from MRtoCTTranslationLib.diffusion.fused import POOL_KEYS_ABOVE

    plain, fused = _attention_pair()
    coarse = torch.randn(2, 16, 12, 12, 4)  # 12x12x4 blocks of 2x2x2: 4608 tokens, the 1 mm bottleneck
    x = coarse.repeat_interleave(2, 2).repeat_interleave(2, 3).repeat_interleave(2, 4)
    assert x.shape[2:].numel() > POOL_KEYS_ABOVE
    with torch.inference_mode():
        a, b = plain(x), fused(x)
        noisy = x + torch.randn_like(x)  # not block-constant: now an approximation, so it must differ
        c, d = plain(noisy), fused(noisy)
    assert float((a - b).abs().max()) < 1e-4
    assert float((c - d).abs().max()) > 1e-3


def test_tiny_bottlenecks_keep_the_full_attention():
    plain, fused = _attention_pair()
    x = torch.randn(2, 16, 8, 8, 4)  # 256 tokens
    with torch.inference_mode():
        assert float((plain(x) - fused(x)).abs().max()) < 1e-5
