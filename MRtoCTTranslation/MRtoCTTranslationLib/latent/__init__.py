"""Adaptive latent diffusion (Kim & Park, WACV 2024): one model translates an MR into CT or another
MR contrast.

One autoencoder compresses every modality 4x per axis; a switchable SPADE generator turns source
latents into target-like latents (one set of modulation heads per target modality); a latent
diffusion UNet, conditioned on [source latent, target-like latent] and the target's class, samples
the target latent, which the decoder turns into the target image. Training runs three stages from
one config (``kind: latent``): autoencoder, SPADE, diffusion.
"""
