"""The diffusion engine on tiny shapes: schedule algebra, the DDIM loop, sliding windows,
intensity mappings, and whole-image translation with a small untrained network."""

from __future__ import annotations

import numpy as np
import pytest
import SimpleITK as sitk
import torch

from MRtoCTTranslationLib.diffusion.ddim import ddim_sample, ddim_timesteps
from MRtoCTTranslationLib.diffusion.networks import NetworkConfig, build_network
from MRtoCTTranslationLib.diffusion.schedule import PREDICTIONS, CosineSchedule
from MRtoCTTranslationLib.diffusion.sliding import gaussian_weight, sliding_apply
from MRtoCTTranslationLib.options import TranslationOptions
from MRtoCTTranslationLib.precision import choose_precision
from MRtoCTTranslationLib.results import Cancelled
from SpineCoreLib.intensity import CTMapping, MRMapping

FP32 = choose_precision("fp32", "cpu")
SCHED = CosineSchedule()


def test_cosine_schedule_runs_from_signal_to_noise():
    a = SCHED.alphas_cumprod
    assert a[0] > 0.999 and a[-1] < 1e-4 and torch.all(a[1:] <= a[:-1])


@pytest.mark.parametrize("prediction", PREDICTIONS)
@pytest.mark.parametrize("t", [0, 10, 500, 999])
def test_prediction_modes_convert_exactly(prediction, t):
    g = torch.Generator().manual_seed(t)
    x0, eps = torch.randn(1, 1, 4, 4, 4, generator=g, dtype=torch.float64), torch.randn(1, 1, 4, 4, 4, generator=g, dtype=torch.float64)
    tt = torch.tensor([t])
    x_t = SCHED.add_noise(x0, eps, tt)
    out = SCHED.target(prediction, x0, eps, tt)
    x0_hat, eps_hat = SCHED.split(prediction, out, x_t, t)
    assert torch.allclose(x0_hat, x0, atol=1e-6 if t < 999 or prediction != "noise" else 1e-2)
    assert torch.allclose(eps_hat, eps, atol=1e-5 if t > 0 or prediction == "noise" else 1e-1)


def test_timesteps_start_at_the_last_training_step():
    ts = ddim_timesteps(1000, 20)
    assert ts[0] == 999 and ts[-1] == 0 and len(ts) == 20 and ts == sorted(ts, reverse=True)
    assert ddim_timesteps(1000, 1) == [999]


@pytest.mark.parametrize("prediction", PREDICTIONS)
def test_ddim_with_an_oracle_denoiser_returns_the_clean_image(prediction):
    x0 = torch.linspace(-1, 2, 64).reshape(1, 1, 4, 4, 4).double()

    def oracle(x_t: torch.Tensor, t: int) -> torch.Tensor:
        a = float(SCHED.alpha_bar(t))
        eps = (x_t - a**0.5 * x0) / (1 - a) ** 0.5
        return SCHED.target(prediction, x0, eps, torch.tensor([t]))

    noise = torch.randn(x0.shape, generator=torch.Generator().manual_seed(0), dtype=torch.float64)
    out = ddim_sample(oracle, noise, SCHED, prediction, steps=10, eta=0.0)
    assert torch.allclose(out, x0, atol=1e-6)


def test_ddim_reports_progress_clips_to_the_valid_range_and_cancels():
    seen = []
    out = ddim_sample(lambda x, t: torch.full_like(x, 5.0), torch.zeros(1, 1, 2, 2, 2), SCHED, "image", steps=5,
                      clip=(-1.024, 3.071), progress=lambda n, total: seen.append((n, total)))
    assert seen == [(n, 5) for n in range(1, 6)] and float(out.max()) == pytest.approx(3.071)
    calls = []

    def cancelled() -> bool:
        calls.append(1)
        return len(calls) > 3

    with pytest.raises(Cancelled):
        ddim_sample(lambda x, t: x, torch.zeros(1, 1, 2, 2, 2), SCHED, "image", steps=10, cancelled=cancelled)


def test_sliding_window_blending_equals_whole_volume_for_a_local_operator():
    x = torch.randn(1, 2, 20, 17, 9, generator=torch.Generator().manual_seed(1))

    def fn(w: torch.Tensor) -> torch.Tensor:
        return (w[:, :1] * 3 - w[:, 1:]) ** 2  # pointwise: windows cannot change it

    whole = fn(x)
    tiled = sliding_apply(fn, x, (8, 8, 4), overlap=0.5)
    assert torch.allclose(whole, tiled, atol=1e-5)
    assert float(gaussian_weight((8, 8, 4)).min()) > 0


def test_batched_windows_give_the_same_blend_with_fewer_calls():
    """Three windows a call (the last call holds what is left) blend exactly as one window a call; the
    network sees windows stacked on the batch axis, each batch element of the input as its own row."""
    x = torch.randn(2, 2, 20, 17, 9, generator=torch.Generator().manual_seed(2))
    calls: list[int] = []

    def fn(w: torch.Tensor) -> torch.Tensor:
        calls.append(w.shape[0])
        return torch.tanh(w[:, :1] * 2 + w[:, 1:]) + w.mean(dim=(1, 2, 3, 4), keepdim=True)[:, :1]

    one = sliding_apply(fn, x, (8, 8, 4), overlap=0.5)
    n_windows = len(calls)
    calls.clear()
    three = sliding_apply(fn, x, (8, 8, 4), overlap=0.5, batch=3)
    assert torch.equal(one, three)
    assert calls == [6] * (n_windows // 3) + ([2 * (n_windows % 3)] if n_windows % 3 else [])


def test_intensity_mappings():
    rng = np.random.default_rng(0)
    mr = rng.gamma(2.0, 100.0, (20, 20, 20)).astype(np.float32)
    mapped = MRMapping().forward(mr)
    assert -1.2 < np.percentile(mapped[mr > 0.05 * np.percentile(mr, 99.9)], 1) < -0.8
    with pytest.raises(ValueError, match="constant"):
        MRMapping().forward(np.ones((4, 4, 4)))
    with pytest.raises(ValueError, match="NaN"):
        MRMapping().forward(np.full((4, 4, 4), np.nan))
    ct = CTMapping()
    hu = np.array([-2000, -1024, 0, 1000, 3071, 5000], dtype=np.float32)
    assert np.allclose(ct.inverse(ct.forward(hu)), np.clip(hu, -1024, 3071))
    assert ct.valid_range == (-1.024, 3.071)


def _tiny_model(prediction: str = "image", kind: str = "diffusion", spatial_dims: int = 3, card: dict | None = None):
    from pathlib import Path

    from MRtoCTTranslationLib.image_models import image_model
    from MRtoCTTranslationLib.models.card import ModelCard

    torch.manual_seed(0)
    cfg = NetworkConfig(kind=kind, spatial_dims=spatial_dims, channels=(4, 8), norm_num_groups=2, prediction=prediction)
    net = build_network(cfg).eval()
    with torch.no_grad():  # MONAI zero-initialises the output layer; give every weight a value
        for p in net.parameters():
            p.add_(torch.randn_like(p) * 0.05)
    # no schema_version: read as a schema-1 card, so the defaults of older cards are exercised too
    fields = {"name": "tiny", "architecture": cfg.to_json(), "input_modality": "MR", "output_modality": "CT",
              "spacing_mm": 4.0, "intensity": {}, "weights_sha256": "", **(card or {})}
    return image_model(Path("."), ModelCard.from_json(fields), cfg, net, MRMapping(), CTMapping(), SCHED, 4.0,
                       torch.device("cpu"))


def _mr_image() -> sitk.Image:
    rng = np.random.default_rng(2)
    arr = (rng.random((6, 12, 10)) * 500).astype(np.float32)
    img = sitk.GetImageFromArray(arr)
    img.SetSpacing((2.0, 3.0, 5.0))
    img.SetOrigin((10.0, -4.0, 7.0))
    img.SetDirection((0, 0, 1, 1, 0, 0, 0, 1, 0))  # a sagittal-like permutation
    return img


def test_translate_image_keeps_the_input_geometry_and_is_deterministic():
    from MRtoCTTranslationLib.translator import translate_image

    model, img = _tiny_model(), _mr_image()
    before = sitk.GetArrayFromImage(img).copy()
    a = translate_image(model, img, TranslationOptions(steps=3, eta=0.0, seed=5, precision="fp32"))
    b = translate_image(model, img, TranslationOptions(steps=3, eta=0.0, seed=5, precision="fp32"))
    c = translate_image(model, img, TranslationOptions(steps=3, eta=1.0, seed=6, samples=2, precision="fp32"))
    for r in (a, c):
        assert r.image.GetSize() == img.GetSize() and r.image.GetOrigin() == img.GetOrigin()
        assert r.image.GetDirection() == img.GetDirection() and r.image.GetSpacing() == img.GetSpacing()
        assert r.image.GetPixelID() == sitk.sitkInt16
    assert np.array_equal(sitk.GetArrayFromImage(a.image), sitk.GetArrayFromImage(b.image))
    assert not np.array_equal(sitk.GetArrayFromImage(a.image), sitk.GetArrayFromImage(c.image))
    assert c.std is not None and float(sitk.GetArrayFromImage(c.std).max()) > 0 and a.std is None
    assert a.image_iso.GetSpacing() == (4.0, 4.0, 4.0)
    assert np.array_equal(sitk.GetArrayFromImage(img), before)


@pytest.mark.parametrize("bad,needle", [("2d", "2D"), ("vector", "vector"), ("nan", "NaN"), ("constant", "constant")])
def test_translate_refuses_bad_input(bad, needle):
    from MRtoCTTranslationLib.translator import translate_image

    model = _tiny_model()
    if bad == "2d":
        img = sitk.GetImageFromArray(np.ones((8, 8), np.float32))
    elif bad == "vector":
        img = sitk.GetImageFromArray(np.ones((4, 8, 8, 3), np.float32), isVector=True)
    else:
        arr = np.ones((4, 8, 8), np.float32)
        if bad == "nan":
            arr[0, 0, 0] = np.nan
        img = sitk.GetImageFromArray(arr)
    with pytest.raises(ValueError, match=needle):
        translate_image(model, img, TranslationOptions(steps=2))


def test_a_model_that_outputs_nan_is_refused_not_written_as_numbers():
    from MRtoCTTranslationLib.translator import translate_image

    model = _tiny_model(kind="pix2pix")
    with torch.no_grad():
        next(model.net.parameters()).fill_(float("nan"))
    with pytest.raises(ValueError, match="NaN or infinite values in fp32: its weights do not work on this input"):
        translate_image(model, _mr_image(), TranslationOptions(precision="fp32"))


def test_an_unknown_network_kind_is_named():
    with pytest.raises(ValueError, match="unknown model kind"):
        build_network(NetworkConfig(kind="gan"))


@pytest.mark.parametrize("kind", ["diffusion", "pix2pix"])
def test_channels_last_inference_equals_the_contiguous_network(kind):
    """for_inference switches 3D weights to channels-last for speed; the outputs must not change."""
    from MRtoCTTranslationLib.diffusion.networks import for_inference

    cfg = NetworkConfig(kind=kind, channels=(4, 8), norm_num_groups=2)
    torch.manual_seed(0)
    plain = build_network(cfg).eval()
    fast = build_network(cfg)
    fast.load_state_dict(plain.state_dict())
    for_inference(fast, 3)
    assert not fast.training
    conv = next(m for m in fast.modules() if isinstance(m, torch.nn.Conv3d))
    assert conv.weight.is_contiguous(memory_format=torch.channels_last_3d)
    x, c, t = torch.randn(1, 1, 16, 12, 8), torch.randn(1, 1, 16, 12, 8), torch.tensor([500])
    with torch.inference_mode():
        args = (x, c, t) if kind == "diffusion" else (c,)
        a, b = plain(*args), fast(*args)
    assert b.shape == a.shape and float((a - b).abs().max()) < 1e-4


def test_windows_default_to_the_card_and_older_cards_keep_their_behaviour():
    base = _tiny_model()
    mr = np.random.default_rng(3).standard_normal((16, 16, 16)).astype(np.float32)
    trained = _tiny_model(card={"inference_defaults": {"window": [8, 8, 8], "overlap": 0.5}})
    assert trained.window == (8, 8, 8) and trained.overlap == 0.5

    def run(m, **kw):
        return m.sample(mr, TranslationOptions(steps=2, seed=1, **kw), 0, FP32)

    default = run(trained)
    assert np.array_equal(default, run(base, window=(8, 8, 8), overlap=0.5))
    assert not np.array_equal(default, run(base, window=(16, 16, 16)))  # one window: other GroupNorm statistics
    old = _tiny_model(card={"inference_defaults": {"window": [128, 128, 32]}})  # written before overlap was
    assert old.window == (128, 128, 32) and old.overlap == 0.25
    assert np.array_equal(run(old), run(base, window=(16, 16, 16)))


def test_2d_models_window_in_slice_and_refuse_a_3d_window():
    mr = np.random.default_rng(4).standard_normal((16, 16, 3)).astype(np.float32)
    old = _tiny_model(spatial_dims=2, card={"inference_defaults": {"window": [128, 128, 32]}})
    assert old.window == ()  # a 3-size window on a 2D card predates 2D windows: whole slices
    new = _tiny_model(spatial_dims=2, card={"inference_defaults": {"window": [8, 8], "overlap": 0.5}})
    whole, tiled = (m.sample(mr, TranslationOptions(steps=2, seed=1), 0, FP32) for m in (old, new))
    assert whole.shape == tiled.shape == mr.shape and not np.array_equal(whole, tiled)
    assert np.array_equal(tiled, old.sample(mr, TranslationOptions(steps=2, seed=1, window=(8, 8), overlap=0.5), 0, FP32))
    with pytest.raises(ValueError, match="needs 2"):
        old.sample(mr, TranslationOptions(steps=2, window=(8, 8, 8)), 0, FP32)
