"""Training of translation models on a manifest of paired MR/CT (one GPU, many, or the CPU)."""
