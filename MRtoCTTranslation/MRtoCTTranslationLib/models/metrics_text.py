"""How a card's metrics read to a user, in one place for the Slicer panel and ``mrtoct models``."""

from __future__ import annotations


def metrics_text(values: dict) -> str | None:
    """"MAE 35 HU, PSNR 28.3 dB, SSIM 0.923" for a CT target; "MAE 53 of 1000, ..." for an MR target (the
    latent model's 0..1000 scale); None when ``values`` holds neither."""
    def num(key: str) -> float | None:
        v = values.get(key)
        return float(v) if isinstance(v, (int, float)) else None

    if num("mae_body_hu") is not None:
        head = f"MAE {num('mae_body_hu'):.0f} HU"
    elif num("mae_body") is not None:
        head = f"MAE {num('mae_body'):.0f} of 1000"
    else:
        return None
    rest = [f"PSNR {num('psnr_body_db'):.1f} dB" if num("psnr_body_db") is not None else "",
            f"SSIM {num('ssim_body'):.3f}" if num("ssim_body") is not None else ""]
    return ", ".join([head, *[r for r in rest if r]])


def held_out_texts(metrics: dict) -> list[tuple[str, str]]:
    """(input or input->target, text) for every held-out entry of a card's metrics that has numbers; the
    text names the cohort the numbers were measured on, so no number stands without it."""
    held = metrics.get("held_out") if isinstance(metrics.get("held_out"), dict) else {}
    cohort = held.get("cohort") if isinstance(held.get("cohort"), str) else "an unrecorded cohort"
    out = []
    for key, values in held.items():
        text = metrics_text(values) if isinstance(values, dict) else None
        if text:
            out.append((key, f"{text} (on {cohort})"))
    return out
