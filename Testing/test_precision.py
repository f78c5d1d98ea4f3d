"""The precision rule: auto takes reduced precision only where the hardware computes it natively.

The CPU checks are PyTorch's own (``torch.cpu._is_*_supported``, ``torch.backends.cpu.get_cpu_capability``,
``torch.ops.mkldnn._is_mkldnn_bf16_supported``); the tests replace them to stand for CPUs this machine
is not, and run the real autocast on this one.
"""

from __future__ import annotations

import logging

import numpy as np
import pytest
import torch
import yaml
from cpu_kinds import AVX2, SAPPHIRE, SKYLAKE, ZEN4

from mrtoct.main import main
from MRtoCTTranslationLib.precision import (
    Precision,
    backward_step,
    check_precision,
    choose_precision,
)
from SpineCoreLib.evaluation.steps import fewest_steps_within


def _fake_cpu(monkeypatch, capability: str, avx512_bf16: bool, amx: bool, onednn_bf16: bool) -> None:
    """Make PyTorch's own CPU checks answer as another CPU would."""
    monkeypatch.setattr(torch.backends.cpu, "get_cpu_capability", lambda: capability)
    monkeypatch.setattr(torch.cpu, "_is_avx512_bf16_supported", lambda: avx512_bf16)
    monkeypatch.setattr(torch.cpu, "_is_amx_tile_supported", lambda: amx)
    monkeypatch.setattr(torch.cpu, "_is_amx_fp16_supported", lambda: False)
    monkeypatch.setattr(torch.ops.mkldnn, "_is_mkldnn_bf16_supported", lambda: onednn_bf16)
    monkeypatch.delenv("ONEDNN_MAX_CPU_ISA", raising=False)
    monkeypatch.delenv("DNNL_MAX_CPU_ISA", raising=False)


@pytest.mark.parametrize(("capability", "avx512_bf16", "amx", "onednn", "expected"), [
    ("AVX2", False, False, False, "fp32"),  # AVX2 only: oneDNN would emulate bf16 (10x or more slower)
    ("AVX512", False, False, True, "fp32"),  # AVX-512 without BF16 (Skylake): emulated, about 2x slower
    ("AVX512", True, False, True, "bf16"),  # AVX-512 BF16 (Zen 4, Cooper Lake)
    ("AVX512", False, True, True, "bf16"),  # AMX tiles (Sapphire Rapids)
    ("DEFAULT", False, False, False, "fp32"),
])
def test_auto_on_the_cpu_takes_bf16_only_where_it_is_native(monkeypatch, capability, avx512_bf16, amx, onednn,
                                                             expected):
    _fake_cpu(monkeypatch, capability, avx512_bf16, amx, onednn)
    prec = choose_precision("auto", "cpu")
    assert (prec.name, prec.native, prec.requested, prec.device_type) == (expected, True, "auto", "cpu")
    assert capability in prec.describe()


def test_a_onednn_cap_below_bf16_counts_as_no_native_bf16(monkeypatch):
    _fake_cpu(monkeypatch, "AVX512", True, False, True)
    monkeypatch.setenv("ONEDNN_MAX_CPU_ISA", "avx512_core")
    assert choose_precision("auto", "cpu").name == "fp32"
    monkeypatch.setenv("ONEDNN_MAX_CPU_ISA", "AVX512_CORE_BF16")
    assert choose_precision("auto", "cpu").name == "bf16"


def test_forced_emulated_bf16_warns_with_the_expected_slowdown(caplog):
    with caplog.at_level(logging.WARNING, logger="MRtoCTTranslationLib.precision"):
        prec = choose_precision("bf16", "cpu", features=AVX2)
    assert prec.name == "bf16" and not prec.native and "emulated" in prec.reason
    (record,) = caplog.records
    assert "bf16 is not native" in record.message and "10x or more" in record.message
    assert "use precision auto or fp32" in record.message
    caplog.clear()
    with caplog.at_level(logging.WARNING, logger="MRtoCTTranslationLib.precision"):
        assert choose_precision("bf16", "cpu", features=SKYLAKE).name == "bf16"
        assert choose_precision("bf16", "cpu", features=ZEN4).native  # native: no warning
        assert choose_precision("fp32", "cpu", features=AVX2).native
    assert len(caplog.records) == 1 and "about 2x slower" in caplog.records[0].message


def test_fp16_on_a_cpu_without_amx_fp16_is_emulated_and_says_so(caplog):
    with caplog.at_level(logging.WARNING, logger="MRtoCTTranslationLib.precision"):
        prec = choose_precision("fp16", "cpu", features=SAPPHIRE)
    assert prec.name == "fp16" and not prec.native and len(caplog.records) == 1


@pytest.mark.parametrize(("major", "expected"), [(9, "bf16"), (8, "bf16"), (7, "fp16"), (6, "fp32")])
def test_auto_on_cuda_follows_the_compute_capability(monkeypatch, major, expected):
    monkeypatch.setattr(torch.cuda, "get_device_capability", lambda device=None: (major, 0))
    monkeypatch.setattr(torch.cuda, "get_device_name", lambda device=None: "a GPU")
    prec = choose_precision("auto", torch.device("cuda", 0))
    assert (prec.name, prec.device_type, prec.native) == (expected, "cuda", True)
    assert f"compute capability {major}.0" in prec.reason


def test_unknown_precisions_are_refused_with_the_choices():
    with pytest.raises(ValueError, match="precision 'fp64' is not one of auto, fp32, bf16, fp16"):
        check_precision("fp64")
    assert check_precision(" BF16 ") == "bf16"


def test_autocast_runs_in_the_chosen_dtype_and_fp32_switches_an_outer_autocast_off():
    conv = torch.nn.Conv3d(2, 2, 3, padding=1)
    x = torch.randn(1, 2, 6, 6, 6)
    bf16 = Precision("bf16", "cpu", "bf16", True, "test")
    fp32 = Precision("fp32", "cpu", "fp32", True, "test")
    with bf16.autocast():
        assert conv(x).dtype == torch.bfloat16
        with fp32.autocast():
            assert conv(x).dtype == torch.float32


def test_fp16_training_steps_through_a_loss_scaler_and_fp32_through_none():
    torch.manual_seed(0)
    net = torch.nn.Linear(4, 1)
    opt = torch.optim.SGD(net.parameters(), lr=0.1)
    fp16 = Precision("fp16", "cpu", "fp16", False, "test")
    scaler = fp16.grad_scaler()
    assert scaler.is_enabled() and not Precision("bf16", "cpu", "auto", True, "t").grad_scaler().is_enabled()
    before = net.weight.detach().clone()
    loss = net(torch.ones(2, 4)).pow(2).mean()
    backward_step(loss, opt, scaler)
    assert not torch.equal(before, net.weight) and scaler.get_scale() > 0
    # the scaled step equals the plain one: the scaler only protects small gradients
    torch.manual_seed(0)
    plain = torch.nn.Linear(4, 1)
    opt2 = torch.optim.SGD(plain.parameters(), lr=0.1)
    backward_step(plain(torch.ones(2, 4)).pow(2).mean(), opt2)
    assert torch.allclose(plain.weight, net.weight, atol=1e-6)


def test_fewest_steps_within_the_tolerance_of_twenty_in_every_group():
    def curve(psnr: list[float], ssim: list[float]) -> dict[int, dict[str, float]]:
        return {n: {"psnr_db": p, "ssim": s} for n, p, s in zip((2, 4, 8, 20, 50), psnr, ssim, strict=True)}

    t2 = curve([25.0, 27.8, 28.0, 28.0, 28.1], [0.90] * 5)
    t1 = curve([26.0, 28.6, 29.0, 29.0, 29.0], [0.90] * 5)
    assert fewest_steps_within({"t2w": t2}) == 4  # 27.8 >= 28.0 - 0.3
    assert fewest_steps_within({"t2w": t2, "t1w": t1}) == 8  # t1w at 4 steps is 0.4 dB short
    blurred = curve([28.5, 28.4, 28.0, 28.0, 28.0], [0.85, 0.895, 0.90, 0.90, 0.90])
    assert fewest_steps_within({"t2w": blurred}) == 4  # 2 steps: better PSNR, but SSIM 0.05 short
    with pytest.raises(ValueError, match="reference 20"):
        fewest_steps_within({"t2w": {2: {"psnr_db": 1.0, "ssim": 1.0}}})


def test_cli_refuses_contradicting_precision_options_in_one_line_before_any_work(tmp_path, capsys):
    mr = tmp_path / "mr.nii.gz"
    import SimpleITK as sitk

    sitk.WriteImage(sitk.GetImageFromArray(np.zeros((4, 4, 4), np.float32)), str(mr))
    out = tmp_path / "out.nii.gz"
    assert main(["translate", "--input", str(mr), "--output", str(out), "--fp32", "--precision", "bf16"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert err == ["mrtoct translate: error: --fp32 contradicts --precision bf16: give one of them"]
    assert not out.exists()
    with pytest.raises(SystemExit) as exc:
        main(["translate", "--input", str(mr), "--output", str(out), "--precision", "fp64"])
    assert exc.value.code == 2 and "invalid choice: 'fp64'" in capsys.readouterr().err


def test_a_config_with_the_retired_amp_key_names_its_replacement(tmp_path, capsys):
    cfg = tmp_path / "train.yaml"
    cfg.write_text(yaml.safe_dump({"amp": True}))
    assert main(["train", "--config", str(cfg)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "'amp' was replaced by precision: auto | fp32 | bf16 | fp16" in err[0]
    cfg.write_text(yaml.safe_dump({"precision": "half"}))
    assert main(["train", "--config", str(cfg)]) == 2
    assert "precision 'half' is not one of auto, fp32, bf16, fp16" in capsys.readouterr().err


def test_training_on_the_cpu_stays_in_fp32_unless_bf16_is_asked_for(monkeypatch):
    """bf16 autocast training on the CPU gave NaN weights in one of a few identical tiny runs (PyTorch
    2.13), so auto trains in fp32 there; sampling keeps bf16, and GPUs keep their reduced precision."""
    auto = choose_precision("auto", "cpu", features=ZEN4, training=True)
    assert auto.name == "fp32" and "training on the CPU stays in fp32" in auto.reason
    assert choose_precision("auto", "cpu", features=ZEN4).name == "bf16"
    assert choose_precision("bf16", "cpu", features=ZEN4, training=True).name == "bf16"
    monkeypatch.setattr(torch.cuda, "get_device_capability", lambda device=None: (8, 0))
    monkeypatch.setattr(torch.cuda, "get_device_name", lambda device=None: "a GPU")
    assert choose_precision("auto", torch.device("cuda", 0), training=True).name == "bf16"


def test_a_diverged_run_stops_and_nan_weights_are_never_written(tmp_path):
    from MRtoCTTranslationLib.models.folder import save_model
    from MRtoCTTranslationLib.precision import check_finite

    bf16 = Precision("bf16", "cpu", "auto", True, "test")
    with pytest.raises(ValueError, match="loss is nan at step 7 in bf16; train again with precision fp32"):
        check_finite(float("nan"), 7, bf16)
    check_finite(0.5, 7, bf16)
    state = {"w": torch.tensor([1.0, float("nan")]), "steps": torch.tensor([3])}
    with pytest.raises(ValueError, match=r"NaN or infinite values \(w\): nothing was written"):
        save_model(tmp_path / "m", state, {"name": "m"})
    assert not (tmp_path / "m").exists()
