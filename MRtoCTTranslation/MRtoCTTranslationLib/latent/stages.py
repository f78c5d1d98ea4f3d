"""One optimisation step of each training stage (Kim & Park, WACV 2024, Fig. 3).

- ``autoencoder``: L1 reconstruction of source and target, KL, least-squares PatchGAN (Isola et al.
  2017; Mao et al. 2017) on the reconstructions, plus the SPADE generator's latent translation and
  cycle consistency, trained together (scaled by ``joint_spade_weight``: on this project's CPU
  budget they slowed reconstruction, see Testing/configs/latent_demo_train.yaml). No
  perceptual loss (its pretrained backbones cannot be fetched offline).
- ``spade``: the autoencoder frozen; latent translation L1 and cycle consistency.
- ``diffusion``: autoencoder and SPADE frozen; the UNet's loss on the target latent (DDIM
  parametrisations of ``diffusion/schedule.py`` or rectified flow).

The last two stages work on latents encoded once (``cache.py``).

Cycle consistency: the target-like latent is decoded, re-encoded and switched back to the source
modality; it must give the source latent again.
"""

from __future__ import annotations

import torch
from torch import nn
from torch.nn import functional as F

from ..diffusion.pix2pix import lsgan_loss
from ..diffusion.schedule import CosineSchedule
from ..precision import backward_step
from .autoencoder import kl_loss
from .config import LossConfig
from .data import PairBatch
from .flow import flow_interpolate, flow_target
from .networks import LatentNetworks


def image_discriminator(cfg: LossConfig, patch_size: list[int]) -> nn.Module:
    """Unconditional 3D PatchGAN on images (any modality), as many stride-2 layers as the patch allows."""
    import math

    from monai.networks.nets import PatchDiscriminator

    layers = max(1, min(cfg.discriminator_layers, int(math.log2(min(patch_size))) - 2))
    return PatchDiscriminator(spatial_dims=3, num_layers_d=layers, channels=cfg.discriminator_channels,
                              in_channels=1, out_channels=1, norm="INSTANCE")


def translation_losses(nets: LatentNetworks, mu_s: torch.Tensor, mu_t: torch.Tensor,
                       batch: PairBatch) -> tuple[torch.Tensor, torch.Tensor]:
    """(translation L1, cycle L1) of the SPADE generator; gradients reach whatever is not frozen."""
    like = nets.spade(mu_s, batch.target_index)
    translate = F.l1_loss(like, mu_t)
    back, _ = nets.autoencoder.encode(nets.autoencoder.decode(like))
    cycle = F.l1_loss(nets.spade(back, batch.source_index), mu_s.detach())
    return translate, cycle


def autoencoder_step(nets: LatentNetworks, disc: nn.Module, batch: PairBatch, cfg: LossConfig, stage_step: int,
                     opt: torch.optim.Optimizer, opt_d: torch.optim.Optimizer,
                     scaler: torch.amp.GradScaler | None = None) -> dict[str, float]:
    """Autoencoder and SPADE generator together; then the discriminator, once it has joined."""
    x = torch.cat([batch.source, batch.target])
    recon, mu, sigma = nets.autoencoder(x)
    rec = F.l1_loss(recon, x)
    kl = kl_loss(mu, sigma)
    loss = rec + cfg.kl_weight * kl
    translate = cycle = torch.zeros(())
    if cfg.joint_spade_weight > 0:  # ALDM trains SPADE with the autoencoder; 0 leaves that to the SPADE stage
        mu_s, mu_t = mu.chunk(2)
        translate, cycle = translation_losses(nets, mu_s, mu_t.detach(), batch)
        loss = loss + cfg.joint_spade_weight * (cfg.translate_weight * translate + cfg.cycle_weight * cycle)
    use_adv = cfg.adversarial_weight > 0 and stage_step >= cfg.adversarial_start
    adv = torch.zeros(())
    if use_adv:
        adv = lsgan_loss(disc(recon), True)
        loss = loss + cfg.adversarial_weight * adv
    opt.zero_grad(set_to_none=True)
    backward_step(loss, opt, scaler)
    out = {"loss": loss.item(), "recon_l1": rec.item(), "kl": kl.item(), "translate_l1": translate.item(),
           "cycle_l1": cycle.item()}
    if use_adv:
        d_loss = 0.5 * (lsgan_loss(disc(x), True) + lsgan_loss(disc(recon.detach()), False))
        opt_d.zero_grad(set_to_none=True)
        backward_step(d_loss, opt_d, scaler)
        out |= {"adv_g": adv.item(), "adv_d": d_loss.item()}
    return out


def spade_step(nets: LatentNetworks, batch: PairBatch, cfg: LossConfig, opt: torch.optim.Optimizer,
               scaler: torch.amp.GradScaler | None = None) -> dict[str, float]:
    """SPADE generator only, on cached latents (the autoencoder's parameters are frozen by the caller)."""
    translate, cycle = translation_losses(nets, batch.source, batch.target, batch)
    loss = cfg.translate_weight * translate + cfg.cycle_weight * cycle
    opt.zero_grad(set_to_none=True)
    backward_step(loss, opt, scaler)
    return {"loss": loss.item(), "translate_l1": translate.item(), "cycle_l1": cycle.item()}


def diffusion_step(nets: LatentNetworks, batch: PairBatch, cfg: LossConfig, schedule: CosineSchedule, scale: float,
                   opt: torch.optim.Optimizer, scaler: torch.amp.GradScaler | None = None) -> dict[str, float]:
    """The UNet's loss on a noised target latent, conditioned on [source, SPADE(source, target)] and the
    target class; latents are multiplied by ``scale`` (unit variance)."""
    with torch.no_grad():
        like = nets.spade(batch.source, batch.target_index)
    z_src, z_like, z_tgt = batch.source * scale, like * scale, batch.target * scale
    noise = torch.randn_like(z_tgt)
    b = z_tgt.shape[0]
    prediction = nets.arch.unet.prediction
    if prediction == "flow":
        t = torch.rand(b, device=z_tgt.device)
        x_t = flow_interpolate(z_tgt, noise, t)
        want = flow_target(z_tgt, noise)
        tt = t * nets.arch.unet.train_timesteps
    else:
        tt = torch.randint(0, schedule.num_steps, (b,), device=z_tgt.device)
        x_t = schedule.add_noise(z_tgt, noise, tt)
        want = schedule.target(prediction, z_tgt, noise, tt)
    pred = nets.unet(x_t, z_src, z_like, tt, batch.target_index).float()
    loss = F.mse_loss(pred, want) if cfg.diffusion_loss == "l2" else F.l1_loss(pred, want)
    opt.zero_grad(set_to_none=True)
    backward_step(loss, opt, scaler)
    return {"loss": loss.item()}
