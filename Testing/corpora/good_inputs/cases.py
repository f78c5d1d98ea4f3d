"""The command-line good-input corpus: (id, argv) pairs that must succeed. ``{NAME}`` stands for a file of
``world.make_world`` or of the chain the test runs first (``SCT``: the project's synthetic CT, ``SCT_SEG``
its vertebrae, ...); ``{OUT}``, ``{OUT2}`` for files in the case's own output folder."""

from __future__ import annotations

Case = tuple[str, list[str]]

MR_IMAGES = ("MR_UINT8", "MR_INT8", "MR_FLOAT64", "MR_NEGATIVE", "MR_MINUS1024", "MR_OFFSET", "MR_ZSCORE", "MR_NRRD",
             "MR_MHA", "MR_LPS", "MR_RAS", "MR_IPL", "MR_OBLIQUE", "MR_THICK", "MR_TWO_SLICES", "MR_QFORM_ONLY",
             "MR_SFORM_ONLY", "MR_T1")
CT_IMAGES = ("CT", "CT_OWN", "CT_CROP", "CT_CROP_NRRD", "CT_CROP_LPS", "CT_U16_RESCALED", "CT_FLOAT32", "CT_FLOAT64",
             "CT_INT32", "CT_PADDED", "CT_RAS", "CT_IPL", "CT_OBLIQUE", "CT_THICK", "CT_QFORM_ONLY", "CT_SFORM_ONLY",
             "SCT", "SCT_PLAIN_CROP", "CT_REGISTERED")
POINT_LISTS = ("LM_RAS", "LM_LPS", "LM_UNPLACED", "LM_CSV")
FAST = ["--steps", "1"]  # one DDIM step: what is checked is the input's path, not the image's quality


SAME_VALUES = ("MR_NRRD", "MR_MHA", "MR_LPS", "MR_RAS", "MR_IPL", "MR_QFORM_ONLY", "MR_SFORM_ONLY")


def translate_cases() -> list[Case]:
    """Every MR variant; those that change only the file or the grid, not the values, skip the N4
    bias correction (1.5 s each, and the same work on the same values)."""
    base = ["translate", "--output", "{OUT}", *FAST]
    cases = [(f"translate {name.lower()}", [*base, "--input", "{" + name + "}",
                                            *(["--no-bias-correction"] if name in SAME_VALUES else [])])
             for name in MR_IMAGES]
    cases += [(f"translate --landmarks {lm.lower()}", [*base, "--input", "{MR}", "--landmarks", "{MR_" + lm + "}",
                                                       "--no-bias-correction"]) for lm in POINT_LISTS]
    cases.append(("translate --input-kind mr", [*base, "--input", "{MR_MINUS1024}", "--input-kind", "mr"]))
    return cases


def segment_cases() -> list[Case]:
    base = ["segment", "--output", "{OUT}"]
    cases = [(f"segment {name.lower()}", [*base, "--input", "{" + name + "}"]) for name in CT_IMAGES]
    cases.append(("segment to seg.nrrd", ["segment", "--input", "{SCT}", "--output", "{OUT_SEG_NRRD}"]))
    cases += [(f"segment --landmarks {lm.lower()}", [*base, "--input", "{CT_OWN}", "--landmarks", "{CT_" + lm + "}"])
              for lm in ("LM_RAS", "LM_LPS", "LM_UNPLACED")]
    return cases


def evaluate_cases() -> list[Case]:
    pairs = {"sct": ("SCT", "CT"), "ct crop": ("CT_CROP", "CT_OWN"), "ct rescaled": ("CT_U16_RESCALED", "CT_OWN"),
             "ct oblique": ("CT_OBLIQUE", "CT_OBLIQUE"), "registered": ("CT_REGISTERED", "CT"),
             "sct plain crop": ("SCT_PLAIN_CROP", "CT")}
    cases = [(f"evaluate {k}", ["evaluate", "--pred", "{" + p + "}", "--ref", "{" + r + "}", "--json", "{OUT}"])
             for k, (p, r) in pairs.items()]
    cases.append(("evaluate sct with labels", ["evaluate", "--pred", "{SCT}", "--ref", "{CT}", "--pred-seg", "{SCT_SEG}",
                                               "--ref-seg", "{LABELS}", "--csv", "{OUT}"]))
    return cases


def register_cases() -> list[Case]:
    base = ["register", "--output-transform", "{OUT_TFM}"]
    cases = [(f"register {lm.lower()}", [*base, "--fixed-landmarks", "{MR_" + lm + "}", "--moving-landmarks",
                                         "{CT_" + lm + "}"]) for lm in POINT_LISTS]
    cases += [
        ("register images lps", [*base, "--fixed-landmarks", "{MR_LM}", "--moving-landmarks", "{CT_LM}", "--fixed",
                                 "{MR_LPS}", "--moving", "{CT_OWN}", "--output-moving", "{OUT}"]),
        ("register sct as fixed", [*base, "--fixed-landmarks", "{MR_LM}", "--moving-landmarks", "{CT_LM}", "--fixed",
                                   "{SCT}", "--moving", "{CT_OWN}", "--output-moving", "{OUT}"]),
        ("register landmarks from the sct", [*base, "--fixed-landmarks", "{SCT_LM}", "--moving-landmarks",
                                             "{CT_SEG_LM}"]),
    ]
    return cases


def landmarks_cases() -> list[Case]:
    return [(f"landmarks {name.lower()}", ["landmarks", "--labels", "{" + name + "}", "--out", "{OUT_MRK}"])
            for name in ("CT_SEG", "LABELS", "SCT_SEG")]


def all_cases() -> list[Case]:
    cases = translate_cases() + segment_cases() + evaluate_cases() + register_cases() + landmarks_cases()
    ids = [c[0] for c in cases]
    assert len(ids) == len(set(ids)), sorted({i for i in ids if ids.count(i) > 1})
    return cases
