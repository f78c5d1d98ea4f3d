"""Conditional denoising diffusion: noise schedule, DDIM sampling, sliding-window denoising."""
