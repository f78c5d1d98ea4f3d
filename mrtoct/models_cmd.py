"""``mrtoct models``: list the translation models found (per-user, built-in, catalogue)."""

from __future__ import annotations

import argparse
import json

from MRtoCTTranslationLib.models.metrics_text import held_out_texts, metrics_text

from .errors import CLIError


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("models", help="list the available MR-to-CT models")
    p.add_argument("--json", action="store_true", help="print the list as JSON (one object per model)")
    p.set_defaults(run=run)


def _kind(e: dict) -> str:
    if not e.get("available", False):
        return "(unavailable)"
    if e.get("kind") is None and e.get("source") == "catalogue":
        return "(download)"
    kind = e.get("kind") or "?"
    return f"{kind}/{e['prediction']}" if e.get("prediction") else kind


def _inputs(e: dict) -> str:
    if e.get("input_modality") is None:
        return "-"
    contrasts = e.get("input_contrasts") or []
    return f"{e['input_modality']} {','.join(map(str, contrasts))}".strip() + f" -> {e.get('output_modality') or '?'}"


def _spacing(e: dict) -> str:
    s = e.get("spacing_mm")
    return f"{s:g} mm" if isinstance(s, (int, float)) else "-"


def _steps(e: dict) -> str:
    """The default sampling steps (one pass for Pix2Pix)."""
    if e.get("kind") in ("pix2pix", "cut"):
        return "1 pass"
    return str(e["default_steps"]) if isinstance(e.get("default_steps"), int) else "-"


def _metrics(e: dict) -> str:
    """The metrics a user should see first: held-out ones (the first input or input->target that has
    them) before validation ones, before flat top-level numbers."""
    m = e.get("metrics") or {}
    held = held_out_texts(m)
    if held:
        return f"held out {held[0][0]}: {held[0][1]}"
    val = metrics_text(m["validation"]) if isinstance(m.get("validation"), dict) else None
    if val:
        return f"validation: {val}"
    flat = metrics_text(m)
    if flat:
        return flat
    parts = [f"{k} {v:.3g}" for k, v in m.items() if isinstance(v, (int, float))][:3]  # other names
    return ", ".join(parts) or "-"


def _data(e: dict) -> str:
    """What the model was trained on, in a word and a count (synthetic 28, real 120, ? if not recorded)."""
    data = e.get("training_data") or {}
    if not data:
        return "-"
    kind = {True: "synthetic", False: "real"}.get(data.get("synthetic"), "?")
    return f"{kind} {data['subjects']}" if isinstance(data.get("subjects"), int) else kind


def format_table(entries: list[dict], default: str) -> str:
    rows = [("NAME", "SOURCE", "KIND", "INPUTS", "SPACING", "STEPS", "TRAINED ON", "METRICS")]
    for e in entries:
        name = e["name"] + (" *" if e["name"] == default else "")
        rows.append((name, e["source"], _kind(e), _inputs(e), _spacing(e), _steps(e), _data(e), _metrics(e)))
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]) - 1)]
    lines = ["  ".join(c.ljust(w) for c, w in zip(r[:-1], widths, strict=True)) + "  " + r[-1] for r in rows]
    notes = [f"{e['name']} ({e['source']}): {e['error']}" for e in entries if e.get("error")]
    out = "\n".join(line.rstrip() for line in lines)
    out += f"\n* default model ({default})"
    if any((e.get("training_data") or {}).get("synthetic") is True for e in entries):
        out += ("\nsynthetic: trained on the project's synthetic phantom only, for demonstration and testing; "
                "the metrics are phantom metrics, not patient results: not for clinical use")
    if notes:
        out += "\n" + "\n".join(notes)
    return out


def run(args: argparse.Namespace) -> int:
    from MRtoCTTranslationLib.models.card import ModelError
    from MRtoCTTranslationLib.models.registry import default_model_name, list_models

    try:
        entries = list_models()
    except ModelError as exc:
        raise CLIError(str(exc)) from exc
    if args.json:
        print(json.dumps(entries, indent=2))
    elif not entries:
        print("no models found: train one (mrtoct train) or copy a model folder into the per-user models folder")
    else:
        print(format_table(entries, default_model_name()))
    return 0
