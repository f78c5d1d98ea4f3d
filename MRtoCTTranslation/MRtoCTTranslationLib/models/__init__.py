"""Model folders (safetensors weights + JSON card), their registry and download cache."""
