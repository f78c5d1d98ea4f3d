"""After ``make demo``: its figures and metrics exist, and the demo case's synthetic CT scores within the
range its model card states for held-out T2w cases (MAE at most 1.5 times the card's, strict Dice at most
0.05 below it), so a broken first command fails CI instead of a new user's first hour."""

from __future__ import annotations

import json
import sys
from pathlib import Path

from MRtoCTTranslationLib.models.card import read_card
from MRtoCTTranslationLib.models.registry import resolve


def main(out: Path) -> int:
    problems = []
    for png in (out / "phantom_figure.png", out / "pipeline" / "demo_figure.png"):
        if not png.is_file() or png.read_bytes()[:8] != b"\x89PNG\r\n\x1a\n" or png.stat().st_size < 10_000:
            problems.append(f"{png}: missing, not a PNG, or nearly empty")
    metrics = json.loads((out / "pipeline" / "metrics.json").read_text(encoding="utf-8"))
    card = read_card(resolve(metrics["model"])).metrics["held_out"]["t2w"]
    mae = metrics["sct_vs_ideal_ct"]["mae_body_hu"]
    dice = metrics["segmentation"]["sct"]["mean_dice_strict"]
    if not mae <= 1.5 * card["mae_body_hu"]:
        problems.append(f"body MAE {mae:.1f} HU is over 1.5 x the card's {card['mae_body_hu']:.1f} HU")
    if not dice >= card["dice_strict"] - 0.05:
        problems.append(f"strict Dice {dice:.3f} is more than 0.05 below the card's {card['dice_strict']:.3f}")
    print(f"demo: body MAE {mae:.1f} HU (card {card['mae_body_hu']:.1f}), strict Dice {dice:.3f} "
          f"(card {card['dice_strict']:.3f}), figures present" if not problems else "\n".join(problems))
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main(Path(sys.argv[1] if len(sys.argv) > 1 else "demo_out")))
