"""Latent diffusion with switchable SPADE (Kim & Park, WACV 2024): networks, samplers, the three-stage
trainer through ``mrtoct train``, model folders and ``mrtoct translate --target`` on tiny shapes."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import SimpleITK as sitk
import torch
import yaml
from safetensors.torch import load_file

from mrtoct.main import main
from MRtoCTTranslationLib.diffusion.schedule import CosineSchedule
from MRtoCTTranslationLib.latent.architecture import (
    AutoencoderConfig,
    LatentArchitecture,
    SpadeConfig,
    UNetConfig,
)
from MRtoCTTranslationLib.latent.autoencoder import LatentAutoencoder, kl_loss
from MRtoCTTranslationLib.latent.config import LatentTrainConfig, is_latent_config
from MRtoCTTranslationLib.latent.flow import rectified_flow_sample
from MRtoCTTranslationLib.latent.modalities import Modality
from MRtoCTTranslationLib.latent.networks import LatentNetworks
from MRtoCTTranslationLib.latent.spade import SPADEGenerator
from MRtoCTTranslationLib.options import TranslationOptions
from MRtoCTTranslationLib.results import Cancelled
from SpineCoreLib.phantom import PhantomOptions, generate_cohort

pytestmark = pytest.mark.slow  # `make quick` leaves it out: it translates, trains or serves

MODALITIES = {"ct": "ct_mrworld", "t1w": "mr_t1w", "t2w": "mr_t2w", "pdw": "mr_pdw", "stir": "mr_stir"}
TINY_AE = AutoencoderConfig(channels=(4, 8, 8), latent_channels=4, num_res_blocks=1, norm_num_groups=2)
TINY_SPADE = SpadeConfig(widths=(8,), hidden=8)


def _tiny_arch(prediction: str = "v", keys: list[str] | None = None) -> LatentArchitecture:
    unet = UNetConfig(channels=(8, 16), attention_levels=(False, False), num_res_blocks=1, norm_num_groups=4,
                      num_head_channels=8, prediction=prediction)
    return LatentArchitecture(keys or ["ct", "t1w", "t2w"], TINY_AE, TINY_SPADE, unet)


def _jitter(module: torch.nn.Module, scale: float = 0.05) -> None:
    """Give every weight a value (MONAI and the SPADE generator zero-initialise their output layers)."""
    with torch.no_grad():
        for p in module.parameters():
            p.add_(torch.randn_like(p) * scale)


# ---------------------------------------------------------------------------------------------- networks


def test_autoencoder_round_trip_shapes_and_a_short_fit_lowers_the_error():
    torch.manual_seed(0)
    ae = LatentAutoencoder(TINY_AE)
    zz, yy, xx = torch.meshgrid(*[torch.arange(16.0)] * 3, indexing="ij")
    x = (((zz - 8) ** 2 + (yy - 7) ** 2 + (xx - 9) ** 2 < 25).float() * 1.5 - 0.8)[None, None]
    mu, sigma = ae.encode(x)
    assert mu.shape == sigma.shape == (1, 4, 4, 4, 4) and bool((sigma > 0).all())
    assert ae.decode(mu).shape == x.shape

    def error() -> float:
        with torch.no_grad():
            return float((ae.decode(ae.encode(x)[0]) - x).abs().mean())

    before = error()
    opt = torch.optim.Adam(ae.parameters(), lr=1e-2)
    for _ in range(25):
        rec, mu, sigma = ae(x)
        loss = (rec - x).abs().mean() + 1e-6 * kl_loss(mu, sigma)
        opt.zero_grad()
        loss.backward()
        opt.step()
    assert error() < 0.6 * before


def test_kl_loss_is_zero_for_the_prior_and_positive_otherwise():
    mu, sigma = torch.zeros(2, 4, 3, 3, 3), torch.ones(2, 4, 3, 3, 3)
    assert float(kl_loss(mu, sigma)) == pytest.approx(0.0, abs=1e-6)
    assert float(kl_loss(mu + 0.5, sigma)) == pytest.approx(0.5 * 0.25 * 4 * 27, rel=1e-5)


def test_spade_switch_depends_on_the_target_and_learns_per_target_intensities():
    torch.manual_seed(0)
    gen = SPADEGenerator(TINY_SPADE, latent_channels=4, n_targets=3)
    z = torch.randn(1, 4, 6, 6, 6)
    assert torch.equal(gen(z, torch.tensor([1])), z)  # residual generator starts as the identity
    jittered = SPADEGenerator(TINY_SPADE, 4, 3)
    _jitter(jittered, 0.05)
    outs = [jittered(z, torch.tensor([k])) for k in range(3)]
    assert not torch.allclose(outs[0], outs[1]) and not torch.allclose(outs[1], outs[2])
    batched = jittered(z.expand(3, -1, -1, -1, -1), torch.arange(3))  # vectorised switch == one by one
    assert torch.allclose(batched, torch.cat(outs), rtol=1e-4, atol=1e-4)
    outs[1].sum().backward()  # only the chosen head learns
    grad = jittered.blocks[0].norm_0.shared_weight.grad.flatten(1).abs().sum(1)
    assert grad[1] > 0 and grad[0] == 0 and grad[2] == 0

    # toy problem: target k is a known intensity transform a_k * z + b_k of the source latent
    a, b = torch.tensor([1.0, -1.0, 0.5]), torch.tensor([0.0, 0.5, -0.5])

    def field(n: int, g: torch.Generator | None = None) -> torch.Tensor:
        return torch.nn.functional.interpolate(torch.randn(n, 4, 3, 3, 3, generator=g), size=(6, 6, 6),
                                               mode="trilinear")

    y = torch.arange(3)

    def errors() -> tuple[torch.Tensor, torch.Tensor]:
        zt = field(3, torch.Generator().manual_seed(1))
        with torch.no_grad():
            out = gen(zt, y)
        want = zt * a.view(3, 1, 1, 1, 1) + b.view(3, 1, 1, 1, 1)
        return (out - want).abs().flatten(1).mean(1), out.flatten(1).mean(1)

    e0, _ = errors()
    opt = torch.optim.Adam(gen.parameters(), lr=5e-3)
    draws = torch.Generator().manual_seed(2)  # its own stream: the result must not depend on earlier tests
    for _ in range(300):
        zt = field(3, draws)
        want = zt * a.view(3, 1, 1, 1, 1) + b.view(3, 1, 1, 1, 1)
        loss = (gen(zt, y) - want).abs().mean()
        opt.zero_grad()
        loss.backward()
        opt.step()
    e1, means = errors()
    assert e1[0] < 0.1 and e1[1] < 0.5 * e0[1] and e1[2] < 0.5 * e0[2], (e0, e1)
    assert float(means[1] - means[2]) > 0.5  # target 1 is brighter by b_1 - b_2 = 1


def test_modalities_map_intensities_and_cards_find_targets_case_insensitively():
    mods = [Modality(k, c) for k, c in MODALITIES.items()]
    from MRtoCTTranslationLib.models.card import SCHEMA_VERSION, ModelCard

    card = ModelCard.from_json({"schema_version": SCHEMA_VERSION, **TEST_PROVENANCE, "name": "m", "architecture": {"kind": "latent"},
                                "input_modality": "MR", "output_modality": "CT", "spacing_mm": 2.0, "intensity": {},
                                "weights_sha256": "", "targets": [m.to_card() for m in mods]})
    assert [card.target_name(t) for t in (None, "", "T1W", "Stir", "pdw")] == ["CT", "CT", "T1w", "STIR", "PDw"]
    with pytest.raises(ValueError, match="unknown target 'flair': this model translates to CT, T1w, T2w, PDw, STIR"):
        card.target_name("flair")
    ct, t1 = mods[0], mods[1]
    assert np.allclose(ct.from_values(ct.to_values(np.array([-1024.0, 0.0, 1500.0]))), [-1024, 0, 1500])
    assert np.allclose(t1.from_values(np.array([-1.0, 0.0, 1.0, 3.0])), [0, 500, 1000, 1000])
    assert ct.background == -1024.0 and t1.background == 0.0
    assert Modality.from_card(t1.to_card()) == t1 and Modality.from_card(ct.to_card()) == ct


def test_compressed_ct_mapping_round_trips_and_resolves_soft_tissue_finer():
    """asinh compression (latent models): invertible over the whole HU range, 3.3x finer around soft
    tissue than HU/1000, stored in the card and read back; the linear default is unchanged."""
    from SpineCoreLib.intensity import CTMapping

    soft = CTMapping(offset=40.0, scale=300.0, asinh_hu=100.0)
    hu = np.array([-1024.0, -100.0, 0.0, 40.0, 60.0, 300.0, 1000.0, 3071.0], np.float32)
    assert np.allclose(soft.inverse(soft.forward(hu)), hu, atol=0.01)
    assert np.allclose(soft.inverse(soft.forward(np.array([-5000.0, 9000.0]))), [-1024.0, 3071.0])
    lo, hi = soft.valid_range
    assert -1.1 < lo < -0.9 and 1.2 < hi < 1.5
    d_soft = np.diff(soft.forward(np.array([40.0, 41.0])))[0]
    d_lin = np.diff(CTMapping().forward(np.array([40.0, 41.0])))[0]
    assert d_soft / d_lin == pytest.approx(1000.0 / 300.0, rel=1e-3)
    ct = Modality("ct", "ct_mrworld", ct_map=soft)
    assert Modality.from_card(json.loads(json.dumps(ct.to_card()))) == ct
    assert CTMapping().valid_range == pytest.approx((-1.024, 3.071))


def test_config_kind_and_checks(tmp_path):
    p = tmp_path / "c.yaml"
    p.write_text(yaml.safe_dump({"kind": "latent", "modalities": {"CT": "ct_mrworld", "T1w": "mr_t1w"},
                                 "autoencoder": {"channels": [4, 8, 8]}, "unet": {"channels": [8, 16]},
                                 "stages": {"diffusion": {"steps": 3, "patch_size": [16, 16, 8]},
                                            "autoencoder": {"steps": 0, "patch_size": [16, 16, 8]},
                                            "spade": {"steps": 0, "patch_size": [16, 16, 8]}}}))
    assert is_latent_config(p)
    cfg = LatentTrainConfig.from_yaml(p)
    assert cfg.source_keys == ["t1w"] and cfg.unet.attention_levels == (False, False)
    assert cfg.stages["diffusion"].steps == 3 and cfg.stages["spade"].steps == 0
    q = tmp_path / "d.yaml"
    q.write_text(yaml.safe_dump({"kind": "latent", "stages": {"diffusion": {"patch_size": [16, 16, 12]}}}))
    with pytest.raises(ValueError, match="multiple of 16"):
        LatentTrainConfig.from_yaml(q)
    q.write_text(yaml.safe_dump({"kind": "latent", "spade": {"width": [8]}}))
    with pytest.raises(ValueError, match="unknown keys"):
        LatentTrainConfig.from_yaml(q)
    q.write_text(yaml.safe_dump({"kind": "latent", "sources": ["ct"]}))
    with pytest.raises(ValueError, match="MR modality"):
        LatentTrainConfig.from_yaml(q)
    q.write_text(yaml.safe_dump({"kind": "latent", "ct_intensity": {"asinh": 100}}))
    with pytest.raises(ValueError, match="fields of a CT mapping"):
        LatentTrainConfig.from_yaml(q)
    q.write_text(yaml.safe_dump({"kind": "latent", "ct_intensity": {"asinh_hu": 100, "scale": 300}}))
    assert LatentTrainConfig.from_yaml(q).modality_list[0].ct_map.asinh_hu == 100
    q.write_text(yaml.safe_dump({"input_column": "mr_t2w"}))
    assert not is_latent_config(q)


# ---------------------------------------------------------------------------------------------- sampling


TEST_PROVENANCE = {"training_data": {"cohort": "none: untrained test network", "synthetic": True, "subjects": 0,
                                     "source": "random weights"}, "intended_use": "tests only"}


def _latent_model(prediction: str = "v"):
    from MRtoCTTranslationLib.latent.loaded import LatentModel
    from MRtoCTTranslationLib.models.card import SCHEMA_VERSION, ModelCard
    from SpineCoreLib.intensity import MRMapping

    torch.manual_seed(0)
    arch = _tiny_arch(prediction)
    nets = LatentNetworks(arch)
    _jitter(nets)
    mods = [Modality(k, MODALITIES[k]) for k in arch.modalities]
    card = ModelCard.from_json({"schema_version": SCHEMA_VERSION, **TEST_PROVENANCE, "name": "tiny-latent", "architecture": arch.to_json(),
                                "input_modality": "MR", "output_modality": "CT", "spacing_mm": 4.0, "intensity": {},
                                "weights_sha256": "", "targets": [m.to_card() for m in mods]})
    return LatentModel(Path("."), card, arch, nets.eval(), mods, ["t1w", "t2w"], MRMapping(), CosineSchedule(), 4.0,
                       torch.device("cpu"))


def _mr_image() -> sitk.Image:
    rng = np.random.default_rng(2)
    img = sitk.GetImageFromArray((rng.random((6, 12, 10)) * 500).astype(np.float32))
    img.SetSpacing((2.0, 3.0, 5.0))
    img.SetOrigin((10.0, -4.0, 7.0))
    img.SetDirection((0, 0, 1, 1, 0, 0, 0, 1, 0))
    return img


@pytest.mark.parametrize("prediction", ["v", "flow"])
def test_latent_translation_is_deterministic_and_keeps_the_input_grid(prediction):
    from MRtoCTTranslationLib.translator import translate_image

    model, img = _latent_model(prediction), _mr_image()
    a = translate_image(model, img, TranslationOptions(steps=3, eta=0.0, seed=5, precision="fp32", target="CT"))
    b = translate_image(model, img, TranslationOptions(steps=3, eta=0.0, seed=5, precision="fp32"))
    c = translate_image(model, img, TranslationOptions(steps=3, eta=0.0, seed=6, precision="fp32", target="ct"))
    mr = translate_image(model, img, TranslationOptions(steps=3, eta=0.0, seed=5, precision="fp32", target="t2W"))
    arr = {k: sitk.GetArrayFromImage(r.image) for k, r in (("a", a), ("b", b), ("c", c), ("mr", mr))}
    for r in (a, mr):
        assert r.image.GetSize() == img.GetSize() and r.image.GetOrigin() == img.GetOrigin()
        assert r.image.GetDirection() == img.GetDirection() and r.image.GetPixelID() == sitk.sitkInt16
    assert np.array_equal(arr["a"], arr["b"])  # default target is CT; same seed, same output
    assert not np.array_equal(arr["a"], arr["c"])
    assert arr["mr"].min() >= 0 and arr["mr"].max() <= 1000 and arr["a"].min() >= -1024
    if prediction == "v":  # stochastic DDIM differs between seeds, repeats with one
        d = translate_image(model, img, TranslationOptions(steps=3, eta=1.0, seed=7, precision="fp32"))
        e = translate_image(model, img, TranslationOptions(steps=3, eta=1.0, seed=7, precision="fp32"))
        assert np.array_equal(sitk.GetArrayFromImage(d.image), sitk.GetArrayFromImage(e.image))
    with pytest.raises(ValueError, match="CT, T1w, T2w"):
        translate_image(model, img, TranslationOptions(steps=2, target="STIR"))


def test_rectified_flow_euler_is_exact_on_straight_paths_and_deterministic():
    x0 = torch.randn(1, 4, 3, 3, 3, generator=torch.Generator().manual_seed(0))
    noise = torch.randn(1, 4, 3, 3, 3, generator=torch.Generator().manual_seed(1))
    seen = []
    out = rectified_flow_sample(lambda x, t: (x - x0) / t, noise, steps=4, progress=lambda n, k: seen.append(n))
    assert torch.allclose(out, x0, atol=1e-5) and seen == [1, 2, 3, 4]
    assert torch.equal(rectified_flow_sample(lambda x, t: x * t, noise, 5), rectified_flow_sample(lambda x, t: x * t,
                                                                                                    noise, 5))
    with pytest.raises(Cancelled):
        rectified_flow_sample(lambda x, t: x, noise, 3, cancelled=lambda: True)


def test_each_stage_step_runs_and_leaves_frozen_networks_alone():
    """Each stage's step function runs on a tiny batch and updates only its own networks."""
    from MRtoCTTranslationLib.latent.config import LossConfig
    from MRtoCTTranslationLib.latent.data import PairBatch
    from MRtoCTTranslationLib.latent.stages import (
        autoencoder_step,
        diffusion_step,
        image_discriminator,
        spade_step,
    )
    from MRtoCTTranslationLib.latent.trainer import _freeze

    for prediction in ("noise", "flow"):
        torch.manual_seed(0)
        nets = LatentNetworks(_tiny_arch(prediction))
        batch = PairBatch(torch.randn(2, 1, 16, 16, 8), torch.randn(2, 1, 16, 16, 8), torch.tensor([1, 2]),
                          torch.tensor([0, 1]))
        losses = LossConfig()
        disc = image_discriminator(losses, [16, 16, 8])
        _freeze(nets, ("autoencoder", "spade"))
        out = autoencoder_step(nets, disc, batch, losses, 0, torch.optim.Adam([*nets.autoencoder.parameters(),
                                                                              *nets.spade.parameters()]),
                               torch.optim.Adam(disc.parameters()))
        assert {"recon_l1", "kl", "translate_l1", "cycle_l1", "adv_d"} <= set(out)
        spade_before = {k: v.clone() for k, v in nets.spade.state_dict().items()}
        alone = LossConfig(joint_spade_weight=0.0)
        out = autoencoder_step(nets, disc, batch, alone, 0, torch.optim.Adam([*nets.autoencoder.parameters(),
                                                                             *nets.spade.parameters()]),
                               torch.optim.Adam(disc.parameters()))
        assert out["translate_l1"] == 0.0 and np.isfinite(out["recon_l1"])
        assert all(torch.equal(v, spade_before[k]) for k, v in nets.spade.state_dict().items())  # no SPADE gradient
        ae_before = {k: v.clone() for k, v in nets.autoencoder.state_dict().items()}
        latents = PairBatch(torch.randn(2, 4, 4, 4, 2), torch.randn(2, 4, 4, 4, 2), batch.source_index,
                              batch.target_index)
        _freeze(nets, ("spade",))
        assert np.isfinite(spade_step(nets, latents, losses, torch.optim.Adam(nets.spade.parameters()))["loss"])
        _freeze(nets, ("unet",))
        assert np.isfinite(diffusion_step(nets, latents, losses, CosineSchedule(), 1.0,
                                          torch.optim.AdamW(nets.unet.parameters()))["loss"])
        assert all(torch.equal(v, ae_before[k]) for k, v in nets.autoencoder.state_dict().items())


# ---------------------------------------------------------------------------------------------- command line


@pytest.fixture(scope="module")
def cohort(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("latentcohort")
    opts = PhantomOptions(levels=["L3", "L4"], ct_spacing=4.0, mr_spacing=(2.0, 2.0, 4.0),
                          extra_contrasts=("pdw", "stir"))
    m = generate_cohort(out, 2, seed=4, opts=opts, split="train")
    text = m.read_text().splitlines()
    m.write_text("\n".join([text[0], text[1], text[2].replace(",train,", ",val,")]) + "\n")
    return m


def _config(tmp: Path, manifest: Path, stages: tuple[int, int, int] = (2, 2, 2), diffusion_patch: list[int] | None = None,
            **over) -> Path:
    patch = [16, 16, 8]
    cfg = {"kind": "latent", "manifest": str(manifest), "modalities": MODALITIES, "spacing_mm": 4.0,
           "autoencoder": {"channels": [4, 8, 8], "latent_channels": 4, "norm_num_groups": 2},
           "spade": {"widths": [8], "hidden": 8},
           "unet": {"channels": [8, 16], "norm_num_groups": 4, "num_head_channels": 8, "prediction": "v"},
           "stages": {name: {"steps": n, "batch_size": 1, "patch_size": patch, "lr": 1e-3}
                      for name, n in zip(("autoencoder", "spade", "diffusion"), stages, strict=True)},
           "val_cases": 1, "val_sampling_steps": 2, "checkpoint_every": 1, "out_dir": str(tmp / "run"),
           "name": "tiny-latent", **over}
    if diffusion_patch:
        cfg["stages"]["diffusion"]["patch_size"] = diffusion_patch
    p = tmp / "latent.yaml"
    p.write_text(yaml.safe_dump(cfg, sort_keys=False))
    return p


def _mr(cohort: Path, contrast: str = "t2w") -> str:
    return next(cohort.parent.glob(f"*/mr_{contrast}.nii.gz")).as_posix()


def _no_pickles(root: Path) -> None:
    """No pickle (protocol 2+ magic) or torch.save zip archive anywhere under ``root``."""
    for f in root.rglob("*"):
        if f.is_file():
            head = f.read_bytes()[:4]
            assert f.suffix not in (".pt", ".pth", ".pkl", ".pickle", ".ckpt", ".bin"), f
            assert not (head[:1] == b"\x80" and head[1:2] in (b"\x02", b"\x03", b"\x04", b"\x05")), f
            assert head != b"PK\x03\x04", f


def test_phantom_cohort_has_the_extra_contrast_columns(cohort):
    header = cohort.read_text().splitlines()[0].split(",")
    assert "mr_pdw" in header and "mr_stir" in header
    assert Path(_mr(cohort, "pdw")).is_file() and Path(_mr(cohort, "stir")).is_file()


def test_three_stages_train_and_translate_to_two_targets(cohort, tmp_path, capsys):
    from MRtoCTTranslationLib.models.card import read_card
    from MRtoCTTranslationLib.models.registry import card_summary

    cfg = _config(tmp_path, cohort)
    assert main(["train", "--config", str(cfg)]) == 0
    folder = tmp_path / "run" / "model"
    card = json.loads((folder / "model.json").read_text())
    assert card["architecture"]["kind"] == "latent" and "Kim J, Park H" in card["citation"]
    assert [t["name"] for t in card["targets"]] == ["CT", "T1w", "T2w", "PDw", "STIR"]
    assert card["targets"][0]["intensity"]["kind"] == "ct_hounsfield" and card["input_contrasts"] == [
        "t1w", "t2w", "pdw", "stir"]
    assert card["architecture"]["latent_scale"] > 0 and len(card["weights_sha256"]) == 64
    assert set(card["metrics"]["validation"]) == {"autoencoder", "spade", "diffusion"}
    assert "ct_mae_body_hu" in card["metrics"]["validation"]["diffusion"]
    assert {k.split(".")[0] for k in load_file(str(folder / "model.safetensors"))} == {"autoencoder", "spade", "unet"}
    summary = card_summary(read_card(folder))
    assert summary["kind"] == "latent" and summary["prediction"] == "v" and summary["targets"][:2] == ["CT", "T1w"]
    log = [json.loads(x) for x in (tmp_path / "run" / "log.jsonl").read_text().splitlines()]
    assert [(r["stage"], r["step"]) for r in log if "loss" in r] == [
        ("autoencoder", 0), ("autoencoder", 1), ("spade", 0), ("spade", 1), ("diffusion", 0), ("diffusion", 1)]
    _no_pickles(tmp_path / "run")

    mr_path = _mr(cohort)
    outs = {}
    for target in ("CT", "t1w"):
        out = tmp_path / f"{target}.nii.gz"
        assert main(["translate", "--input", mr_path, "--output", str(out), "--model", str(folder), "--steps", "2",
                     "--target", target, "--fp32"]) == 0
        img, ref = sitk.ReadImage(str(out)), sitk.ReadImage(mr_path)
        assert img.GetSize() == ref.GetSize() and img.GetOrigin() == ref.GetOrigin()
        assert img.GetDirection() == ref.GetDirection()
        outs[target] = sitk.GetArrayFromImage(img)
    assert not np.array_equal(outs["CT"], outs["t1w"]) and outs["t1w"].min() >= 0
    said = capsys.readouterr()
    assert "synthetic T1w written" in said.out and "2 steps, fp32)" in said.out
    assert "mrtoct translate: precision fp32 on cpu (fp32: CPU capability" in said.err  # --fp32: the older spelling

    assert main(["translate", "--input", mr_path, "--output", str(tmp_path / "x.nii.gz"), "--model", str(folder),
                 "--target", "FLAIR"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "FLAIR" in err[0] and "CT, T1w, T2w, PDw, STIR" in err[0]
    assert not (tmp_path / "x.nii.gz").exists()


def test_non_latent_models_refuse_other_targets(tmp_path, capsys):
    from MRtoCTTranslationLib.models.registry import default_model_name, resolve

    folder = resolve(default_model_name())
    mr = tmp_path / "mr.nii.gz"
    sitk.WriteImage(_mr_image(), str(mr))
    assert main(["translate", "--input", str(mr), "--output", str(tmp_path / "o.nii.gz"), "--model", str(folder),
                 "--target", "T1w"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "CT only" in err[0] and "latent" in err[0]


def test_latent_trainer_resumes_from_its_checkpoint(cohort, tmp_path):
    big = [24, 24, 24]  # larger than the 4 mm volumes along one axis: the cached latents are padded
    cfg = _config(tmp_path, cohort, stages=(2, 1, 2), diffusion_patch=big, val_cases=0)
    assert main(["train", "--config", str(cfg)]) == 0
    first = load_file(str(tmp_path / "run" / "model" / "model.safetensors"))
    n_first = len((tmp_path / "run" / "log.jsonl").read_text().splitlines())
    cfg = _config(tmp_path, cohort, stages=(2, 1, 4), diffusion_patch=big, val_cases=0)
    assert main(["train", "--config", str(cfg)]) == 0
    log = [json.loads(x) for x in (tmp_path / "run" / "log.jsonl").read_text().splitlines()[n_first:]]
    assert [(r["stage"], r["step"]) for r in log if "loss" in r] == [("diffusion", 2), ("diffusion", 3)]
    second = load_file(str(tmp_path / "run" / "model" / "model.safetensors"))
    assert all(torch.equal(first[k], second[k]) for k in first if not k.startswith("unet."))
    assert any(not torch.equal(first[k], second[k]) for k in first if k.startswith("unet."))
    meta = json.loads((tmp_path / "run" / "checkpoint" / "checkpoint.json").read_text())
    assert meta["stage_steps"] == {"autoencoder": 2, "spade": 1, "diffusion": 4} and meta["latent_scale"] > 0
    _no_pickles(tmp_path / "run")

    # fine-tuning: only the diffusion stage, from the trained model; its autoencoder and scale are kept
    cfg = _config(tmp_path, cohort, stages=(0, 0, 1), diffusion_patch=big, val_cases=0,
                  init_from=str(tmp_path / "run" / "model"), out_dir=str(tmp_path / "tuned"))
    assert main(["train", "--config", str(cfg)]) == 0
    tuned = load_file(str(tmp_path / "tuned" / "model" / "model.safetensors"))
    assert all(torch.equal(second[k], tuned[k]) for k in second if not k.startswith("unet."))
    card = json.loads((tmp_path / "tuned" / "model" / "model.json").read_text())
    assert card["architecture"]["latent_scale"] == pytest.approx(meta["latent_scale"])


def test_a_lengthened_latent_run_equals_the_longer_run(cohort, tmp_path):
    """Training the diffusion stage to 2 steps, then raising it to 4 and resuming, ships the same weights
    as 4 steps in one go: the checkpoint keeps the training weights beside their EMA (constant rate, as
    with lr_decay_steps 0, so the two runs take the same steps)."""
    def run(out: str, diffusion_steps: int) -> Path:
        cfg = _config(tmp_path, cohort, stages=(2, 1, diffusion_steps), val_cases=0, out_dir=str(tmp_path / out))
        assert main(["train", "--config", str(cfg)]) == 0
        return tmp_path / out / "model" / "model.safetensors"

    run("lengthened", 2)
    short = load_file(str(tmp_path / "lengthened" / "model" / "model.safetensors"))
    lengthened = load_file(str(run("lengthened", 4)))
    longer = load_file(str(run("longer", 4)))
    assert lengthened.keys() == longer.keys()
    assert all(torch.equal(lengthened[k], longer[k]) for k in longer)
    assert any(not torch.equal(short[k], longer[k]) for k in longer if k.startswith("unet."))


def test_each_latent_stage_anneals_its_own_learning_rate(cohort, tmp_path, capsys):
    """Per-stage warmup-stable-decay: each stage's optimizers ran their last step at lr / lr_decay_steps
    (here with the compressed CT mapping, which the card keeps)."""
    cfg = _config(tmp_path, cohort, stages=(3, 2, 2), val_cases=0,
                  ct_intensity={"offset": 40.0, "scale": 300.0, "asinh_hu": 100.0})
    raw = yaml.safe_load(cfg.read_text())
    for name, decay in (("autoencoder", 2), ("spade", 1), ("diffusion", 2)):  # last steps: lr/2, lr/1, lr/2
        raw["stages"][name]["lr_decay_steps"] = decay
    cfg.write_text(yaml.safe_dump(raw, sort_keys=False))
    assert main(["train", "--config", str(cfg)]) == 0
    log = [json.loads(x) for x in (tmp_path / "run" / "log.jsonl").read_text().splitlines()]
    steps = [r for r in log if "loss" in r]
    assert [r["stage"][0] for r in steps] == list("aaassdd")
    assert [r["lr"] for r in steps] == pytest.approx([1e-3, 1e-3, 5e-4, 1e-3, 1e-3, 1e-3, 5e-4])
    saved = json.loads((tmp_path / "run" / "checkpoint" / "checkpoint.json").read_text())["optimizers"]
    assert {name: saved[name]["param_groups"][0]["lr"] for name in saved} == pytest.approx(
        {"autoencoder": 5e-4, "discriminator": 5e-4, "spade": 1e-3, "diffusion": 5e-4})
    card = json.loads((tmp_path / "run" / "model" / "model.json").read_text())
    assert card["targets"][0]["intensity"]["asinh_hu"] == 100.0  # the compressed CT mapping travels with it

    raw["stages"]["spade"]["lr_decay_steps"] = 3
    cfg.write_text(yaml.safe_dump(raw, sort_keys=False))
    assert main(["train", "--config", str(cfg), "--no-resume"]) == 2
    assert "stages.spade.lr_decay_steps 3 must be between 0 and steps (2)" in capsys.readouterr().err


def test_logic_translates_to_an_mr_target_in_mrml(cohort, tmp_path, slicer_standin, mrml_scene):
    """The module's Logic with a latent model: target T1w gives an MR-like node (no segmentation or
    HU metrics), and an unknown target fails naming the available ones, adding nothing."""
    import importlib

    import slicer.util

    assert main(["train", "--config", str(_config(tmp_path, cohort))]) == 0
    folder = str(tmp_path / "run" / "model")
    logic = importlib.import_module("MRtoCTTranslation").MRtoCTTranslationLogic()
    nodes = logic.loadCase(str(Path(_mr(cohort)).parent))
    mr = nodes["mr_t2w"]
    n_before = mrml_scene.GetNumberOfNodes()
    with pytest.raises(ValueError, match="CT, T1w, T2w, PDw, STIR"):
        logic.process(mr, TranslationOptions(model=folder, steps=2, target="FLAIR"))
    assert mrml_scene.GetNumberOfNodes() == n_before
    out = logic.process(mr, TranslationOptions(model=folder, steps=2, target="T1w"), referenceVolume=nodes["ct_mrworld"])
    assert out.sct.GetName().endswith("_sT1w") and out.segmentation is None and out.metrics_table is None
    assert out.sct.GetImageData().GetDimensions() == mr.GetImageData().GetDimensions()
    assert slicer.util.arrayFromVolume(out.sct).min() >= 0  # MR units, not HU
