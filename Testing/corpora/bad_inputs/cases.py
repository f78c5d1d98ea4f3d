"""The command-line bad-input corpus: (id, class, argv, what the one-line message must say).

``{NAME}`` stands for a file of ``world.make_world``; ``{OUT}``, ``{OUT2}``, ``{OUT3}`` for files and
``{OUTDIR}`` for a folder inside the case's own empty output folder, which must stay empty. Classes:
missing/unreadable file, wrong kind of image, bad image, bad point list, bad output, bad option,
bad config, bad manifest.
"""

from __future__ import annotations

Case = tuple[str, str, list[str], str]

# every bad image, and what the message must say about it
IMAGE_FAULTS = {
    "MISSING": "does not exist",
    "DIR": "is a folder",
    "TEXT_GZ": "no gzip file",
    "TEXT_NRRD": "cannot be read as an image",
    "TRUNCATED": "truncated or damaged",
    "TWO_D": "2D",
    "FOUR_D": "4D",
    "NAN": "NaN or infinite",
    "NAN_NII": "NaN or infinite",
    "SHEARED": "non-orthogonal",
    "TINY": "no voxels",
}
MARKUPS_FAULTS = {
    "MISSING": "does not exist",
    "DIR": "is a folder",
    "LM_NOTJSON": "not valid JSON",
    "LM_LIST": "markups",
    "LM_NOMARKUPS": "no 'markups' list",
    "LM_NAN": "NaN or infinite",
    "LM_DUPLICATE": "twice",
    "LM_BADLABEL": "somewhere",
}
OUTPUT_FAULTS = {  # {SUFFIX}: the file type the option writes
    "{NO_FOLDER_DIR}/o{SUFFIX}": "does not exist",
    "{FILE}/o{SUFFIX}": "is a file, not a folder",
    "{FILE}/sub/o{SUFFIX}": "is a file, not a folder",
    "/proc/o{SUFFIX}": "cannot be written",  # root passes os.access there: only a write tells
    "/sys/o{SUFFIX}": "cannot be written",
    "{DIR}": "is a folder",
}
FOLDER_FAULTS = [("{FILE}", "is a file"), ("{FILE}/sub", "is a file, not a folder"), ("/proc/out", "cannot be written")]


def _image_cases(command: str, base: list[str], flag: str, kinds: dict[str, str]) -> list[Case]:
    """``flag`` given each bad image, and each image of the wrong kind (``kinds``: name -> message)."""
    cases = []
    for name, needle in {**IMAGE_FAULTS, **kinds}.items():
        argv = [*base]
        argv[argv.index(flag) + 1] = "{" + name + "}"
        cls = "wrong kind of image" if name in kinds else ("missing or unreadable file" if name in (
            "MISSING", "DIR", "TEXT_GZ", "TEXT_NRRD", "TRUNCATED") else "bad image")
        cases.append((f"{command} {flag} {name.lower()}", cls, argv, needle))
    return cases


def _markups_cases(command: str, base: list[str], flag: str) -> list[Case]:
    cases = []
    for name, needle in MARKUPS_FAULTS.items():
        argv = [*base]
        argv[argv.index(flag) + 1] = "{" + name + "}"
        cases.append((f"{command} {flag} {name.lower()}", "bad point list", argv, needle))
    return cases


def _output_cases(command: str, base: list[str], flag: str, inputs: list[str], suffix: str = ".nii.gz") -> list[Case]:
    cases = []
    collisions = {i: "is also given as" if i.startswith("{OUT") else "would overwrite an input" for i in inputs}
    for value, needle in {**OUTPUT_FAULTS, **collisions}.items():
        value = value.replace("{SUFFIX}", suffix)
        argv = [*base]
        if flag in argv:
            argv[argv.index(flag) + 1] = value
        else:
            argv += [flag, value]
        label = value.replace("{SUFFIX}", "").replace(suffix, "").strip("/{}").replace("}", "").lower()
        cases.append((f"{command} {flag} {label}", "bad output", argv, needle))
    return cases


def _option_cases(command: str, base: list[str], options: list[tuple[str, str, str]]) -> list[Case]:
    cases = []
    for flag, value, needle in options:
        argv = [*base]
        if flag in argv:
            argv[argv.index(flag) + 1] = value
        else:
            argv += [flag, value]
        cases.append((f"{command} {flag} {value}", "bad option", argv, needle))
    return cases


MR_KINDS = {"LABELS": "label map", "CT": "looks like a CT", "CT_CROP": "looks like a CT", "SCT": "looks like a CT",
            "CONSTANT": "constant"}
CT_KINDS = {"LABELS": "label map", "MR": "not a CT in Hounsfield units", "CONSTANT": "constant"}
LABEL_KINDS = {"MR": "no label map", "CT": "no label map"}


def translate_cases() -> list[Case]:
    base = ["translate", "--input", "{MR}", "--output", "{OUT}"]
    cases = _image_cases("translate", base, "--input", MR_KINDS)
    cases += _output_cases("translate", base, "--output", ["{MR}"])
    cases += _output_cases("translate", [*base, "--samples", "2"], "--uncertainty", ["{MR}", "{OUT}"])
    cases += _output_cases("translate", base, "--output-iso", ["{MR}", "{OUT}"])
    cases += _markups_cases("translate", [*base, "--landmarks", "{MR_LM}"], "--landmarks")
    cases += _option_cases("translate", [*base, "--whole-field-of-view"], [("--landmarks", "{MR_LM}", "give one")])
    cases += _option_cases("translate", base, [
        ("--spine-margin", "5", "spine_margin_mm"), ("--spine-margin", "nan", "spine_margin_mm"),

        ("--steps", "0", "steps"), ("--steps", "-3", "steps"), ("--steps", "100000", "steps"),
        ("--steps", "many", "invalid int"), ("--eta", "-0.1", "eta"), ("--eta", "1.5", "eta"),
        ("--eta", "nan", "eta"), ("--samples", "0", "samples"), ("--samples", "-2", "samples"),
        ("--overlap", "1.0", "overlap"), ("--overlap", "-0.2", "overlap"), ("--window", "0", "window"),
        ("--device", "tpu", "invalid choice"), ("--precision", "fp64", "invalid choice"),
        ("--target", "FLAIR", "CT only"), ("--model", "no-such-model", "unknown model"),
        ("--model", "{DIR}", "not a model folder"), ("--uncertainty", "{OUT2}", "--samples 2"),
        ("--seed", "-1", "seed"), ("--sha256", "abc", "sha256"), ("--window", "8", "3 sizes"),
    ])
    return cases


def segment_cases() -> list[Case]:
    base = ["segment", "--input", "{CT}", "--output", "{OUT}"]
    cases = _image_cases("segment", base, "--input", CT_KINDS)
    cases += _output_cases("segment", base, "--output", ["{CT}"])
    cases += _markups_cases("segment", [*base, "--landmarks", "{MR_LM}"], "--landmarks")
    cases += _option_cases("segment", base, [
        ("--method", "magic", "unknown --method"), ("--caudal-level", "L9", "--caudal-level"),
        ("--method", "{DIR}", "MONAI bundle"),
    ])
    return cases


def evaluate_cases() -> list[Case]:
    base = ["evaluate", "--pred", "{CT}", "--ref", "{CT_OWN}"]
    seg = [*base, "--pred-seg", "{LABELS}", "--ref-seg", "{CT_SEG}"]
    cases = _image_cases("evaluate", base, "--pred", CT_KINDS)
    cases += _image_cases("evaluate", base, "--ref", CT_KINDS)
    cases += _image_cases("evaluate", seg, "--pred-seg", LABEL_KINDS)
    cases += _image_cases("evaluate", seg, "--ref-seg", LABEL_KINDS)
    for flag in ("--json", "--csv", "--figure"):
        cases += _output_cases("evaluate", [*base, flag, "{OUT}"], flag, ["{CT}", "{CT_OWN}"])
    cases += _option_cases("evaluate", seg, [("--levels", "L9", "--levels"), ("--levels", "Z1-Z2", "--levels"),
                                             ("--ref", "{CT_FAR}", "does not overlap"),
                                             ("--mask", "{MR}", "no label map"), ("--mask", "{MISSING}", "does not exist"),
                                             ("--mask", "{NAN}", "NaN or infinite"),
                                             ("--protocol", "dose", "invalid choice")])
    return cases


def register_cases() -> list[Case]:
    base = ["register", "--fixed-landmarks", "{MR_LM}", "--moving-landmarks", "{CT_LM}", "--output-transform",
            "{OUTT}"]
    images = [*base, "--fixed", "{MR}", "--moving", "{CT_OWN}", "--output-moving", "{OUT2}"]
    cases = _markups_cases("register", base, "--fixed-landmarks")
    cases += _markups_cases("register", base, "--moving-landmarks")
    cases += _image_cases("register", images, "--fixed", {})
    cases += _image_cases("register", images, "--moving", {})
    cases += _output_cases("register", base, "--output-transform", [], suffix=".tfm")
    cases += _output_cases("register", [*base, "--report", "{OUT2}"], "--report", ["{MR_LM}", "{OUTT}"],
                           suffix=".json")
    cases += _output_cases("register", images, "--output-moving", ["{MR}", "{CT_OWN}"])
    cases += _option_cases("register", base, [("--mode", "elastic", "invalid choice"),
                                              ("--output-transform", "{OUT}", "transform file ends in")])
    return cases


def landmarks_cases() -> list[Case]:
    base = ["landmarks", "--labels", "{CT_SEG}", "--out", "{OUTJ}"]
    kinds = {"MR": "intensity image", "CT": "intensity image"}
    cases = _image_cases("landmarks", base, "--labels", kinds)
    cases += _output_cases("landmarks", base, "--out", ["{CT_SEG}"], suffix=".mrk.json")
    cases += _option_cases("landmarks", base, [("--levels", "L9", "unknown vertebral level"),
                                               ("--coordinate-system", "XYZ", "invalid choice")])
    return cases


def phantom_cases() -> list[Case]:
    base = ["phantom", "--out", "{OUTDIR}"]
    cases = _option_cases("phantom", base, [
        ("--cases", "0", "--cases"), ("--cases", "-1", "--cases"), ("--ct-spacing", "0", "--ct-spacing"),
        ("--ct-spacing", "0.15", "GiB"), ("--ct-spacing", "0.02", "--ct-spacing"), ("--ct-spacing", "nan", "--ct-spacing"), ("--mr-spacing", "1,1", "--mr-spacing"),
        ("--mr-spacing", "a,b,c", "--mr-spacing"), ("--mr-spacing", "0.01,0.01,0.01", "--mr-spacing"),
        ("--levels", "L9", "--levels"), ("--extra-contrasts", "flair", "--extra-contrasts"),
        ("--figure", "{OUT}", ".png"), ("--figure", "{FILE}/f.png", "is a file, not a folder"),
        ("--figure", "/proc/f.png", "cannot be written"), ("--split", "dev", "invalid choice"),
        *(("--out", value, needle) for value, needle in FOLDER_FAULTS), ("--out", "/proc/out/sub", "cannot be written"),
    ])
    return cases


def train_cases() -> list[Case]:
    faults = {"CFG_NOTYAML": "cannot read training config", "CFG_LIST": "YAML mapping", "CFG_LR_WORD": "lr",
              "CFG_STEPS_WORD": "steps", "CFG_STEPS_FLOAT": "steps", "CFG_UNKNOWN_KEY": "learning_rate",
              "CFG_NETWORK_KEY": "depth", "CFG_NETWORK_LIST": "network", "CFG_NO_MANIFEST": "manifest",
              "CFG_NEG_LR": "lr", "CFG_PATCH": "patch_size", "CFG_PRECISION": "precision", "CFG_EMA": "ema_decay",
              "CFG_LATENT_STAGE": "warmup", "CFG_LATENT_SOURCES": "sources", "MISSING": "does not exist",
              "DIR": "is a folder"}
    cases = [(f"train --config {k.lower()}", "bad config", ["train", "--config", "{" + k + "}"], v)
             for k, v in faults.items()]
    cases += _option_cases("train", ["train", "--config", "{CFG_GOOD}"], [
        ("--steps", "-3", "--steps"), ("--steps", "0", "--steps"), ("--precision", "fp64", "invalid choice")])
    return cases


def manifest_cases() -> list[Case]:
    base = ["register", "--manifest", "{MANIFEST}", "--out", "{OUTDIR}"]
    cases = _option_cases("register", base, [
        ("--manifest", "{MANIFEST_EMPTY}", "no rows"), ("--manifest", "{MANIFEST_MISSING_FILE}", "does not exist"),
        ("--manifest", "{MANIFEST_NO_LM}", "ct_landmarks"), ("--manifest", "{MISSING}", "does not exist"),
        *(("--out", value, needle) for value, needle in FOLDER_FAULTS), ("--spacing", "0", "--spacing"), ("--spacing", "-1", "--spacing"),
        ("--spacing", "nan", "--spacing"),
    ])
    return [(f"register manifest {c[0].removeprefix('register ')}", *c[1:]) for c in cases]


def serve_cases() -> list[Case]:
    """``mrtoct serve``: refused before a server starts (a good call would serve until stopped)."""
    return [("serve missing folder", "missing/unreadable file", ["serve", "{MISSING}"], "is not a folder"),
            ("serve file as folder", "missing/unreadable file", ["serve", "{FILE}"], "is not a folder"),
            ("serve port 0", "bad option", ["serve", "{DIR}", "--port", "0"], "--port"),
            ("serve port 70000", "bad option", ["serve", "{DIR}", "--port", "70000"], "--port"),
            ("serve port word", "bad option", ["serve", "{DIR}", "--port", "http"], "invalid int"),
            ("serve host name", "bad option", ["serve", "{DIR}", "--host", "my machine"], "--host")]


def other_cases() -> list[Case]:
    return _option_cases("bench", ["bench"], [
        ("--budget-minutes", "0", "--budget-minutes"), ("--budget-minutes", "-5", "--budget-minutes"),
        ("--steps", "0", "steps"), ("--json", "{FILE}/b.json", "is a file, not a folder"),
        ("--json", "{NO_FOLDER_DIR}/b.json", "does not exist"), ("--json", "/proc/b.json", "cannot be written"),
        ("--parts", "gpu", "invalid choice"),
    ]) + _option_cases("demo", ["demo", "--out", "{OUTDIR}"], [
        ("--steps", "0", "steps"), ("--model", "no-such-model", "unknown model"),
        *(("--out", value, needle) for value, needle in FOLDER_FAULTS),
    ]) + serve_cases() + [("no command", "bad option", [], "required"), ("unknown command", "bad option", ["frobnicate"], "invalid choice"),
          ("translate without input", "bad option", ["translate", "--output", "{OUT}"], "required")]


def all_cases() -> list[Case]:
    cases = (translate_cases() + segment_cases() + evaluate_cases() + register_cases() + landmarks_cases()
             + phantom_cases() + train_cases() + manifest_cases() + other_cases())
    ids = [c[0] for c in cases]
    assert len(ids) == len(set(ids)), sorted({i for i in ids if ids.count(i) > 1})
    return cases
