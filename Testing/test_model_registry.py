"""Model registry: folder / user / built-in / catalogue / URL resolution, the verified download cache,
corrupted model folders, and ``mrtoct models``."""

from __future__ import annotations

import hashlib
import http.server
import json
import threading
import zipfile
from functools import partial
from pathlib import Path

import pytest
import torch

from mrtoct.main import main
from MRtoCTTranslationLib.models import registry
from MRtoCTTranslationLib.models.card import CARD, WEIGHTS, ModelCard, ModelError, read_card
from MRtoCTTranslationLib.models.folder import compact_model, load_weights, save_model


def make_model(folder: Path, name: str | None = None, seed: int = 0) -> Path:
    g = torch.Generator().manual_seed(seed)
    state = {"conv.weight": torch.randn(4, 2, 3, 3, 3, generator=g), "conv.bias": torch.randn(4, generator=g)}
    card = ModelCard.from_json({
        "schema_version": 2,
        "name": name or folder.name,
        "description": "tiny test model",
        "architecture": {"kind": "diffusion", "spatial_dims": 3, "channels": [4], "prediction": "image"},
        "input_modality": "MR",
        "input_contrasts": ["t2w", "t1w"],
        "output_modality": "CT",
        "spacing_mm": 2.0,
        "intensity": {"mr": {"kind": "percentile"}, "ct": {"kind": "linear"}},
        "metrics": {"mae_body_hu": 55.5, "psnr_body_db": 27.25, "ssim_body": 0.9, "mae_bone_hu": float("nan")},
        "license": "CC-BY-4.0",
        "weights_sha256": "",
    })
    return save_model(folder, state, card)


def make_zip(model: Path, dest: Path, prefix: str = "") -> tuple[Path, str]:
    with zipfile.ZipFile(dest, "w") as zf:
        for f in (CARD, WEIGHTS):
            zf.write(model / f, arcname=f"{prefix}{f}")
    return dest, hashlib.sha256(dest.read_bytes()).hexdigest()


@pytest.fixture
def env(tmp_path, monkeypatch):
    """An isolated per-user home and an isolated built-in models folder (the repository's is not used)."""
    home = tmp_path / "home"
    builtin = tmp_path / "builtin"
    builtin.mkdir()
    monkeypatch.setenv(registry.HOME_ENV, str(home))
    monkeypatch.setattr(registry, "builtin_model_dirs", lambda: [builtin])
    return home, builtin


class _Handler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args):  # keep the test output quiet
        pass


@pytest.fixture
def server(tmp_path):
    """A local HTTP server on 127.0.0.1 serving ``tmp_path/www``; ``requests`` lists the paths asked for."""
    www = tmp_path / "www"
    www.mkdir()
    requests: list[str] = []

    class Handler(_Handler):
        def do_GET(self):
            requests.append(self.path)
            super().do_GET()

    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), partial(Handler, directory=str(www)))
    thread = threading.Thread(target=httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    base = f"http://127.0.0.1:{httpd.server_address[1]}"
    try:
        yield www, base, requests
    finally:
        httpd.shutdown()
        httpd.server_close()
        thread.join(5)


def _cache_entries(home: Path) -> list[str]:
    cache = home / "cache"
    return sorted(p.name for p in cache.iterdir()) if cache.is_dir() else []


# ------------------------------------------------------------------------------------------ local sources


def test_default_name_and_repository_builtin_folder():
    assert registry.default_model_name() == "ddim3d-default"
    repo = Path(__file__).resolve().parents[1]
    assert repo / "Resources" / "Models" in registry.builtin_model_dirs()


def test_resolve_folder_path(env, tmp_path):
    model = make_model(tmp_path / "somewhere" / "my-model")
    assert registry.resolve(str(model)) == model.resolve()
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(ModelError, match="model.json is missing"):
        registry.resolve(str(empty))
    with pytest.raises(ModelError, match="no model folder at"):
        registry.resolve(str(tmp_path / "nowhere" / "x"))


def test_user_folder_by_name_shadows_builtin(env):
    home, builtin = env
    b = make_model(builtin / "shared", seed=1)
    make_model(builtin / "only-builtin", seed=2)
    u = make_model(home / "models" / "shared", seed=3)
    assert registry.resolve("shared") == u.resolve()
    assert registry.resolve("only-builtin") == (builtin / "only-builtin").resolve()
    assert b.is_dir()


def test_unknown_name_lists_available(env):
    home, builtin = env
    make_model(home / "models" / "mine")
    make_model(builtin / "bundled")
    with pytest.raises(ModelError, match="unknown model 'nope'") as err:
        registry.resolve("nope")
    assert "bundled, mine" in str(err.value)


def test_untrained_builtin_is_explained(env):
    _, builtin = env
    (builtin / "ddim3d-default").mkdir()
    (builtin / "ddim3d-default" / "train.yaml").write_text("steps: 1\n")
    with pytest.raises(ModelError, match="not trained or installed yet"):
        registry.resolve("ddim3d-default")


def test_corrupted_weights_fail_sha256(tmp_path):
    model = make_model(tmp_path / "m")
    w = model / WEIGHTS
    data = bytearray(w.read_bytes())
    data[-5] ^= 0xFF
    w.write_bytes(bytes(data))
    with pytest.raises(ModelError, match="SHA256"):
        load_weights(model)


def test_compacted_weights_are_half_the_size_checked_and_load_into_float32(tmp_path):
    folder = make_model(tmp_path / "m")
    before, size = load_weights(folder), (folder / WEIGHTS).stat().st_size
    compact_model(folder)
    card, after = read_card(folder), load_weights(folder)
    assert card.weights_dtype == "float16" and card.name == "m" and card.metrics["mae_body_hu"] == 55.5
    assert (folder / WEIGHTS).stat().st_size < 0.6 * size
    assert all(v.dtype == torch.float16 for v in after.values())
    net = torch.nn.Module()
    net.conv = torch.nn.Conv3d(2, 4, 3)
    net.load_state_dict(after)
    assert net.conv.weight.dtype == torch.float32
    assert torch.allclose(net.conv.weight, before["conv.weight"], rtol=1e-3, atol=1e-4)


def test_missing_weights(tmp_path):
    model = make_model(tmp_path / "m")
    (model / WEIGHTS).unlink()
    with pytest.raises(ModelError, match="missing"):
        load_weights(model)


# ------------------------------------------------------------------------------------------ downloads


@pytest.mark.parametrize("prefix", ["packed-model/", ""], ids=["folder-in-zip", "files-at-root"])
def test_download_verify_extract_and_reuse(env, server, tmp_path, prefix):
    home, _ = env
    www, base, requests = server
    model = make_model(tmp_path / "src")
    _, sha = make_zip(model, www / "model.zip", prefix)
    seen: list[tuple[int, int | None]] = []

    folder = registry.resolve(f"{base}/model.zip", sha256=sha, progress=lambda d, t: seen.append((d, t)))
    size = (www / "model.zip").stat().st_size
    assert folder == home / "cache" / sha
    assert sorted(p.name for p in folder.iterdir()) == sorted([CARD, WEIGHTS])
    assert _cache_entries(home) == [sha]  # no temporary files left behind
    assert seen[-1] == (size, size)
    state = load_weights(folder)
    assert torch.equal(state["conv.bias"], load_weights(model)["conv.bias"])
    assert requests == ["/model.zip"]

    again = registry.resolve(f"{base}/model.zip", sha256=sha.upper())
    assert again == folder
    assert requests == ["/model.zip"]  # served from the cache


def test_wrong_sha256_leaves_nothing(env, server, tmp_path):
    home, _ = env
    www, base, _ = server
    _, sha = make_zip(make_model(tmp_path / "src"), www / "model.zip")
    wrong = "0" * 64
    with pytest.raises(ModelError) as err:
        registry.resolve(f"{base}/model.zip", sha256=wrong)
    assert sha in str(err.value) and wrong in str(err.value)
    assert _cache_entries(home) == []


@pytest.mark.parametrize("fault", ["missing", "wrong sha256", "not a zip"])
def test_failed_download_leaves_no_folder(env, server, tmp_path, fault):
    """Nothing of a failed download stays: not the archive, not the cache folder, not the home folder."""
    home, _ = env
    www, base, _ = server
    _, sha = make_zip(make_model(tmp_path / "src"), www / "model.zip")
    (www / "junk.zip").write_bytes(b"not a zip archive")
    url, expected = {"missing": (f"{base}/missing.zip", sha), "wrong sha256": (f"{base}/model.zip", "0" * 64),
                     "not a zip": (f"{base}/junk.zip", hashlib.sha256(b"not a zip archive").hexdigest())}[fault]
    assert not home.exists()
    with pytest.raises(ModelError):
        registry.resolve(url, sha256=expected)
    assert not home.exists(), sorted(p.name for p in home.rglob("*"))


def test_zip_slip_is_refused(env, server, tmp_path):
    home, _ = env
    www, base, _ = server
    model = make_model(tmp_path / "src")
    archive, _ = make_zip(model, www / "evil.zip")
    with zipfile.ZipFile(archive, "a") as zf:
        zf.writestr("../evil", "pwned")
    sha = hashlib.sha256(archive.read_bytes()).hexdigest()
    with pytest.raises(ModelError, match="unsafe archive member"):
        registry.resolve(f"{base}/evil.zip", sha256=sha)
    assert _cache_entries(home) == []
    assert not (home / "evil").exists() and not (home / "cache" / ".." / "evil").exists()


def test_url_without_sha256_is_refused(env, server):
    _, base, requests = server
    with pytest.raises(ModelError, match="without its expected SHA256"):
        registry.resolve(f"{base}/model.zip")
    with pytest.raises(ModelError, match="64 hex digits"):
        registry.resolve(f"{base}/model.zip", sha256="abc")
    assert requests == []


def test_http_error_is_a_model_error(env, server):
    _, base, _ = server
    with pytest.raises(ModelError, match="HTTP 404"):
        registry.resolve(f"{base}/missing.zip", sha256="1" * 64)


def test_catalogue_name_downloads_and_is_listed(env, server, tmp_path):
    home, _ = env
    www, base, requests = server
    _, sha = make_zip(make_model(tmp_path / "src", name="remote"), www / "remote.zip", "remote/")
    home.mkdir(parents=True, exist_ok=True)
    (home / "catalogue.json").write_text(json.dumps(
        [{"name": "remote", "url": f"{base}/remote.zip", "sha256": sha, "description": "from afar"}]))

    listed = {e["name"]: e for e in registry.list_models()}
    assert listed["remote"]["source"] == "catalogue" and "folder" not in listed["remote"]
    with pytest.raises(ModelError, match="unknown model 'x'.*remote"):
        registry.resolve("x")
    # checking a request before work: nothing is downloaded, an unknown name is refused
    assert registry.local_card("remote") is None and registry.local_card(f"{base}/remote.zip") is None
    with pytest.raises(ModelError, match="unknown model 'x'"):
        registry.local_card("x")
    assert requests == []

    folder = registry.resolve("remote")
    assert folder == home / "cache" / sha and requests == ["/remote.zip"]
    assert registry.local_card("remote").name == "remote" and requests == ["/remote.zip"]
    listed = {e["name"]: e for e in registry.list_models()}
    assert listed["remote"]["folder"] == str(folder) and listed["remote"]["kind"] == "diffusion"


# ------------------------------------------------------------------------------------------ listing / CLI


def test_list_models_and_cli(env, capsys):
    home, builtin = env
    make_model(home / "models" / "mine")
    (builtin / "untrained").mkdir()
    entries = {e["name"]: e for e in registry.list_models()}
    mine = entries["mine"]
    assert mine["source"] == "user" and mine["available"]
    assert (mine["kind"], mine["prediction"], mine["spacing_mm"]) == ("diffusion", "image", 2.0)
    assert mine["input_contrasts"] == ["t2w", "t1w"] and mine["license"] == "CC-BY-4.0"
    assert mine["metrics"]["mae_bone_hu"] is None  # NaN is not JSON
    assert entries["untrained"]["available"] is False

    assert main(["models", "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert any(e["name"] == "mine" and e["source"] == "user" and e["folder"] == str(home / "models" / "mine")
               for e in out)

    assert main(["models"]) == 0
    table = capsys.readouterr().out
    assert "mine" in table and "diffusion/image" in table and "MAE 56 HU" in table and "2 mm" in table

    # held-out metrics (nested per input, as eval_models writes them) come first in the table
    card_path = home / "models" / "mine" / "model.json"
    card = json.loads(card_path.read_text())
    card["metrics"] = {"validation": {"mae_body_hu": 40.0}, "held_out": {
        "cohort": "test", "t2w": {"mae_body_hu": 35.2, "psnr_body_db": 28.3, "ssim_body": 0.923}}}
    card["inference_defaults"] = {"steps": 6}
    card_path.write_text(json.dumps(card))
    assert main(["models"]) == 0
    row = next(line for line in capsys.readouterr().out.splitlines() if line.startswith("mine"))
    assert row.endswith("held out t2w: MAE 35 HU, PSNR 28.3 dB, SSIM 0.923 (on test)")  # with its cohort
    assert " 2 mm     6      ?           held out" in row  # STEPS: the card's default; TRAINED ON: not recorded


def test_metrics_read_the_same_in_the_panel_and_the_listing():
    from MRtoCTTranslationLib.models.metrics_text import held_out_texts, metrics_text

    assert metrics_text({"mae_body_hu": 35.19, "psnr_body_db": 28.299, "ssim_body": 0.9231}) == \
        "MAE 35 HU, PSNR 28.3 dB, SSIM 0.923"
    assert metrics_text({"mae_body": 53.4, "psnr_body_db": 21.44}) == "MAE 53 of 1000, PSNR 21.4 dB"
    assert metrics_text({"dice": 0.9}) is None
    metrics = {"held_out": {"cohort": "test8x", "t2w->CT": {"mae_body_hu": 95.1, "psnr_body_db": 18.9,
                                                             "ssim_body": 0.691}, "t2w->T1w": {"mae_body": 55.7}}}
    assert held_out_texts(metrics) == [("t2w->CT", "MAE 95 HU, PSNR 18.9 dB, SSIM 0.691 (on test8x)"),
                                       ("t2w->T1w", "MAE 56 of 1000 (on test8x)")]  # never without the cohort
    assert held_out_texts({"held_out": {"t2w": {"mae_body_hu": 1.0}}}) == [("t2w", "MAE 1 HU (on an unrecorded cohort)")]


def test_weights_of_another_architecture_are_named_in_one_line(tmp_path):
    """A card whose network differs from its weights (e.g. edited channels) is refused with one line
    that counts and names what does not fit, not torch's multi-line dump."""
    import shutil

    from MRtoCTTranslationLib.models.card import read_card, write_card
    from MRtoCTTranslationLib.translator import load_model

    src = Path(__file__).resolve().parents[1] / "Resources" / "Models" / "ddim3d-default"
    folder = tmp_path / "edited"
    shutil.copytree(src, folder)
    card = read_card(folder)
    write_card(folder, card.replace(architecture={**card.architecture, "channels": [8, 16, 32]}))
    with pytest.raises(ModelError) as err:
        load_model(folder, "cpu")
    message = str(err.value)
    assert len(message.splitlines()) == 1 and "do not fit the architecture in the card" in message
    assert "of another shape; first: " in message and "in the file" in message
