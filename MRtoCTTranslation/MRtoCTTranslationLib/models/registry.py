"""Where models come from: a folder, the per-user models folder, the built-in models, a catalogue or a URL.

``resolve(spec)`` turns what a user typed into a model folder, trying in this order:

1. an existing folder that holds ``model.json``;
2. a name in the per-user models folder ``$SPINEMRTOCT_HOME/models/<name>`` (home ``~/.spinemrtoct``);
3. a name among the built-in models ``<repo>/Resources/Models/<name>``
   (or ``MRtoCTTranslation/Resources/Models/<name>``);
4. a name listed in a catalogue (``Resources/Models/catalogue.json`` or ``$SPINEMRTOCT_HOME/catalogue.json``:
   a JSON list of ``{name, url, sha256, description}``), downloaded like a URL;
5. an ``http(s)://`` URL of a ``.zip`` archive, given with its expected SHA256.

Downloads are streamed to a temporary file, their SHA256 is checked before anything is extracted,
members that would land outside the target (absolute paths, ``..``) are refused, and the model is
extracted into a temporary folder and renamed onto ``$SPINEMRTOCT_HOME/cache/<sha256>/``, so the cache
never holds half a model. A cached archive is never downloaded again. No Slicer import here.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import shutil
import stat
import urllib.error
import urllib.request
import uuid
import zipfile
from collections.abc import Callable
from pathlib import Path, PurePosixPath

from SpineCoreLib.atomic_io import sha256_file

from .card import CARD, WEIGHTS, ModelCard, ModelError, finite_json, read_card

HOME_ENV = "SPINEMRTOCT_HOME"
DEFAULT_HOME = "~/.spinemrtoct"
DEFAULT_MODEL = "ddim3d-default"
CATALOGUE = "catalogue.json"
MAX_UNPACKED_BYTES = 16 << 30  # refuse archives that would unpack to more than this

DownloadProgress = Callable[[int, int | None], None]
"""``progress(bytes_done, bytes_total)``; ``bytes_total`` is None when the server does not say."""

_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]*$")
_SHA256 = re.compile(r"^[0-9a-fA-F]{64}$")


def default_model_name() -> str:
    """Name of the model used when none is chosen."""
    return DEFAULT_MODEL


# ---------------------------------------------------------------------------------------------- locations


def home() -> Path:
    """Per-user folder: ``$SPINEMRTOCT_HOME`` or ``~/.spinemrtoct`` (not created here)."""
    return Path(os.environ.get(HOME_ENV) or DEFAULT_HOME).expanduser()


def user_models_dir() -> Path:
    return home() / "models"


def cache_dir() -> Path:
    return home() / "cache"


def builtin_model_dirs() -> list[Path]:
    """Folders of built-in models, nearest first: the module's ``Resources/Models`` if present, then the
    repository's (the first parent above the module folder that holds ``Resources/Models``)."""
    here = Path(__file__).resolve()
    module_dir = here.parents[2]  # .../MRtoCTTranslation (or the installed scripted-modules folder)
    found: list[Path] = []
    for parent in here.parents[2:]:
        d = parent / "Resources" / "Models"
        if d.is_dir():
            found.append(d)
            if parent != module_dir:
                break
    return found


def catalogue_paths() -> list[Path]:
    """Catalogue files, in the order their entries are considered: per-user first, then built-in."""
    return [home() / CATALOGUE, *(d / CATALOGUE for d in builtin_model_dirs())]


# ---------------------------------------------------------------------------------------------- catalogue


def read_catalogue(paths: list[Path] | None = None) -> list[dict]:
    """Entries ``{name, url, sha256, description}`` of every catalogue (missing or empty files give none).

    A malformed catalogue raises ModelError naming the file; the first entry of a name wins.
    """
    entries: list[dict] = []
    seen: set[str] = set()
    for p in catalogue_paths() if paths is None else paths:
        if not p.is_file():
            continue
        text = p.read_text(encoding="utf-8").strip()
        if not text:
            continue
        try:
            data = json.loads(text)
        except json.JSONDecodeError as exc:
            raise ModelError(f"{p} is not valid JSON ({exc.msg}): fix or remove the catalogue") from exc
        if isinstance(data, dict):
            data = data.get("models", [])
        if not isinstance(data, list):
            raise ModelError(f"{p}: a catalogue is a JSON list of {{name, url, sha256, description}}")
        for i, e in enumerate(data):
            if not isinstance(e, dict) or not all(isinstance(e.get(k), str) for k in ("name", "url", "sha256")):
                raise ModelError(f"{p}: entry {i} needs string fields name, url and sha256")
            if not _SHA256.match(e["sha256"]):
                raise ModelError(f"{p}: entry {e['name']!r} has sha256 {e['sha256']!r}, not 64 hex digits")
            if e["name"] in seen:
                continue
            seen.add(e["name"])
            entries.append({"name": e["name"], "url": e["url"], "sha256": e["sha256"].lower(),
                            "description": str(e.get("description", "")), "catalogue": str(p)})
    return entries


# ---------------------------------------------------------------------------------------------- resolve


def _is_model_dir(d: Path) -> bool:
    return d.is_dir() and (d / CARD).is_file()


def _is_url(spec: str) -> bool:
    return spec.lower().startswith(("http://", "https://"))


def available_names() -> list[str]:
    """Names ``resolve`` accepts (user, built-in and catalogue models), sorted and without repeats."""
    names: set[str] = set()
    for root in [user_models_dir(), *builtin_model_dirs()]:
        if root.is_dir():
            names.update(d.name for d in root.iterdir() if _is_model_dir(d))
    try:
        names.update(e["name"] for e in read_catalogue())
    except ModelError:
        pass
    return sorted(names)


def resolve(spec: str, sha256: str | None = None, progress: DownloadProgress | None = None,
            timeout: float = 60.0) -> Path:
    """The model folder for a folder path, a model name or a URL (with ``sha256``); see the module doc.

    Downloads (catalogue names and URLs) go to the per-user cache and are reused from it.
    Raises ModelError saying what is wrong and what to do.
    """
    spec = str(spec).strip()
    if _is_url(spec):
        return fetch_archive(spec, sha256, progress=progress, timeout=timeout)
    local, unfinished = _local_model(spec)
    if local is not None:
        return local

    # (d) catalogue
    for entry in read_catalogue():
        if entry["name"] == spec:
            if sha256 and sha256.lower() != entry["sha256"]:
                raise ModelError(f"model {spec!r}: the given sha256 {sha256} differs from the catalogue's "
                                 f"{entry['sha256']} ({entry['catalogue']})")
            return fetch_archive(entry["url"], entry["sha256"], progress=progress, timeout=timeout)

    names = ", ".join(available_names()) or "none"
    if unfinished is not None:
        raise ModelError(f"model {spec!r}: {unfinished} holds no {CARD} (not trained or installed yet); "
                         f"train it or choose another model; available: {names}")
    raise ModelError(f"unknown model {spec!r}; available: {names} "
                     f"(or give a model folder, or an http(s) URL of a .zip with its SHA256)")


def _local_model(spec: str) -> tuple[Path | None, Path | None]:
    """(a) a folder, (b) a per-user or (c) a built-in model of that name: (its folder, None), or (None, a
    folder of that name that holds no card yet); ModelError for what can be neither a folder nor a name."""
    if not spec:
        raise ModelError("no model given: name a model folder, a model name or a URL")
    p = Path(spec).expanduser()
    if _is_model_dir(p):
        return p.resolve(), None
    if not _NAME.match(spec):
        if p.is_dir():
            raise ModelError(f"{p} is not a model folder: {CARD} is missing")
        raise ModelError(f"no model folder at {p}, and {spec!r} is not a model name; "
                         f"available: {', '.join(available_names()) or 'none'}")
    unfinished: Path | None = None
    for root in [user_models_dir(), *builtin_model_dirs()]:
        d = root / spec
        if _is_model_dir(d):
            return d.resolve(), None
        if d.is_dir() and unfinished is None:
            unfinished = d
    return None, unfinished


def local_card(spec: str) -> ModelCard | None:
    """The card of the model ``spec`` names when it is on this computer, without downloading anything;
    None for a URL or a catalogue model not yet downloaded; ModelError (a ValueError) for a model nothing
    knows. For checking a request before any work starts."""
    spec = str(spec).strip()
    if _is_url(spec):
        return None
    local, _ = _local_model(spec)
    if local is not None:
        return read_card(local)
    for entry in read_catalogue():
        if entry["name"] == spec:
            hit = cached_model(entry["sha256"])
            return read_card(hit) if hit is not None else None
    return read_card(resolve(spec))  # raises the message of an unknown or unfinished model


def check_translation(options, image, argument: str) -> ModelCard | None:
    """A translation request checked against the model's card before any work (the model exists, its
    target, steps and window fit, the volume ``image`` fits in memory); the card, or None for a model
    still to download (checked by whoever loads it). ``options``: a ``TranslationOptions``."""
    from SpineCoreLib.validation import check_memory

    card = local_card(options.model or default_model_name())
    if card is not None:
        card.check_request(options.target, options.steps, options.window)
        check_memory(card.translation_bytes(image, options.samples), argument, "translating this volume",
                     "crop it to the spine or use fewer samples")
    return card


# ---------------------------------------------------------------------------------------------- download


def _find_model_dir(root: Path) -> Path | None:
    """The model folder inside an extracted archive: its root, or its one sub-folder with a card."""
    if _is_model_dir(root):
        return root
    subs = [d for d in root.iterdir() if d.name != "__MACOSX" and _is_model_dir(d)]
    return subs[0] if len(subs) == 1 else None


def cached_model(sha256: str) -> Path | None:
    """The cached model folder of an archive with this SHA256, or None."""
    d = cache_dir() / sha256.lower()
    return d if _is_model_dir(d) else None


def fetch_archive(url: str, sha256: str | None, progress: DownloadProgress | None = None,
                  timeout: float = 60.0, chunk: int = 1 << 20) -> Path:
    """Download a model ``.zip`` (unless cached), check its SHA256, extract it safely into the cache."""
    if not _is_url(url):
        raise ModelError(f"{url!r} is not an http(s) URL")
    if not sha256:
        raise ModelError(f"refusing to download {url} without its expected SHA256: "
                         "give the archive's sha256 (64 hex digits) so the download can be verified")
    if not _SHA256.match(sha256):
        raise ModelError(f"expected SHA256 {sha256!r} is not 64 hex digits")
    sha256 = sha256.lower()
    hit = cached_model(sha256)
    if hit is not None:
        return hit

    cache = cache_dir()
    made = [d for d in (cache, *cache.parents) if not d.exists()]  # removed again if nothing is installed
    cache.mkdir(parents=True, exist_ok=True)
    tag = uuid.uuid4().hex[:8]
    archive = cache / f".download-{tag}.zip"
    staging = cache / f".extract-{tag}"
    installed = False
    try:
        digest = _download(url, archive, progress, timeout, chunk)
        if digest != sha256:
            raise ModelError(f"download of {url} has SHA256 {digest}, expected {sha256}: "
                             "the file is corrupted or was replaced; nothing was installed")
        _safe_extract(archive, staging, url)
        model = _find_model_dir(staging)
        if model is None:
            raise ModelError(f"{url}: the archive holds no model folder ({CARD} and {WEIGHTS} at its root "
                             "or in one folder)")
        _check_model(model, url)
        final = cache / sha256
        try:
            os.rename(model, final)
        except OSError:
            if cached_model(sha256) is None:  # not a concurrent install of the same archive
                raise
        installed = True
        return final
    finally:
        archive.unlink(missing_ok=True)
        shutil.rmtree(staging, ignore_errors=True)
        if not installed:
            for d in made:  # innermost first; a folder something else wrote into stays
                with contextlib.suppress(OSError):
                    d.rmdir()


def _download(url: str, dest: Path, progress: DownloadProgress | None, timeout: float, chunk: int) -> str:
    import hashlib

    req = urllib.request.Request(url, headers={"User-Agent": "SpineMRtoCT-model-registry"})
    h = hashlib.sha256()
    try:
        with urllib.request.urlopen(req, timeout=timeout) as resp, open(dest, "wb") as f:
            length = resp.headers.get("Content-Length")
            total = int(length) if length and length.isdigit() else None
            done = 0
            if progress:
                progress(0, total)
            while block := resp.read(chunk):
                f.write(block)
                h.update(block)
                done += len(block)
                if progress:
                    progress(done, total)
    except urllib.error.HTTPError as exc:
        raise ModelError(f"download of {url} failed: HTTP {exc.code} {exc.reason}") from exc
    except (urllib.error.URLError, TimeoutError, OSError) as exc:
        reason = getattr(exc, "reason", exc)
        raise ModelError(f"download of {url} failed ({reason}); check the address and the network") from exc
    return h.hexdigest()


def _safe_extract(archive: Path, dest: Path, url: str) -> None:
    """Extract every member under ``dest``; refuse the whole archive if any member could escape it."""
    try:
        with zipfile.ZipFile(archive) as zf:
            infos = zf.infolist()
            total = 0
            for info in infos:
                name = info.filename.replace("\\", "/")
                parts = PurePosixPath(name).parts
                if (name.startswith("/") or re.match(r"^[A-Za-z]:", name) or ".." in parts
                        or "\x00" in name):
                    raise ModelError(f"{url}: unsafe archive member {info.filename!r} (absolute path or '..'); "
                                     "refusing to extract")
                if stat.S_ISLNK(info.external_attr >> 16):
                    raise ModelError(f"{url}: archive member {info.filename!r} is a symbolic link; refusing")
                total += info.file_size
            if total > MAX_UNPACKED_BYTES:
                raise ModelError(f"{url}: the archive would unpack to {total} bytes; refusing")
            dest.mkdir(parents=True)
            root = dest.resolve()
            for info in infos:
                target = (dest / info.filename.replace("\\", "/")).resolve()
                if target != root and root not in target.parents:
                    raise ModelError(f"{url}: archive member {info.filename!r} lands outside the cache; refusing")
                zf.extract(info, dest)
    except zipfile.BadZipFile as exc:
        raise ModelError(f"{url} is not a valid .zip archive ({exc})") from exc


def _check_model(folder: Path, url: str) -> None:
    card = read_card(folder)
    w = folder / WEIGHTS
    if not w.is_file():
        raise ModelError(f"{url}: the archive's model folder has no {WEIGHTS}")
    if sha256_file(w) != card.weights_sha256:
        raise ModelError(f"{url}: the archive's {WEIGHTS} does not match the SHA256 in its card")


# ---------------------------------------------------------------------------------------------- listing


def card_summary(card: ModelCard) -> dict:
    """The fields of a card that describe what a model does (strict JSON: non-finite numbers as null)."""
    return {
        "kind": card.kind,
        "prediction": card.prediction,
        "input_modality": card.input_modality,
        "input_contrasts": list(card.input_contrasts),
        "output_modality": card.output_modality,
        "targets": card.target_names,
        "spacing_mm": card.spacing_mm,
        "default_steps": card.default_steps,
        "metrics": finite_json(card.metrics),
        "license": card.license,
        "description": card.description,
        "training_data": card.training_data.to_json(),
        "intended_use": card.intended_use,
    }


def _local_entry(source: str, d: Path) -> dict:
    entry = {"name": d.name, "source": source, "folder": str(d)}
    if not (d / CARD).is_file():
        return {**entry, "available": False, "error": f"no {CARD} (not trained or installed yet)"}
    try:
        card = read_card(d)
    except ModelError as exc:
        return {**entry, "available": False, "error": str(exc)}
    return {**entry, "available": True, **card_summary(card)}


def list_models() -> list[dict]:
    """Every model found: per-user, built-in, then catalogue entries.

    Each entry has name, source (user/builtin/catalogue), folder (local) or url (catalogue), available,
    and for local models the card's kind, prediction, input_modality, input_contrasts, output_modality,
    targets (output modalities by name), spacing_mm, metrics, license and description. A catalogue entry already in the cache also carries
    its folder and card fields. A folder whose card is missing or broken has available False and error.
    """
    out: list[dict] = []
    for source, roots in (("user", [user_models_dir()]), ("builtin", builtin_model_dirs())):
        for root in roots:
            if root.is_dir():
                out.extend(_local_entry(source, d) for d in sorted(root.iterdir()) if d.is_dir()
                           and not d.name.startswith("."))
    for e in read_catalogue():
        entry = {"name": e["name"], "source": "catalogue", "url": e["url"], "sha256": e["sha256"],
                 "available": True, "description": e["description"]}
        hit = cached_model(e["sha256"])
        if hit is not None:
            local = _local_entry("catalogue", hit)
            entry.update({k: v for k, v in local.items() if k not in ("name", "source", "description")})
            entry["description"] = e["description"] or local.get("description", "")
        out.append(entry)
    return out
