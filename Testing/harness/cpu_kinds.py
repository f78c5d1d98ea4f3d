"""The CPU kinds users have, as ``precision.CPUFeatures``, for tests that decide per CPU: AVX2 only
(bf16 emulated), AVX-512 without BF16 (Skylake-SP), AVX-512 BF16 (Zen 4) and AMX (Sapphire Rapids)."""

from MRtoCTTranslationLib.precision import CPUFeatures

AVX2 = CPUFeatures("AVX2", avx512_bf16=False, amx_tile=False, amx_fp16=False, onednn_bf16=False, onednn_isa_cap="ALL")
SKYLAKE = CPUFeatures("AVX512", avx512_bf16=False, amx_tile=False, amx_fp16=False, onednn_bf16=True,
                      onednn_isa_cap="ALL")
ZEN4 = CPUFeatures("AVX512", avx512_bf16=True, amx_tile=False, amx_fp16=False, onednn_bf16=True, onednn_isa_cap="ALL")
SAPPHIRE = CPUFeatures("AVX512", avx512_bf16=True, amx_tile=True, amx_fp16=False, onednn_bf16=True,
                       onednn_isa_cap="ALL")
