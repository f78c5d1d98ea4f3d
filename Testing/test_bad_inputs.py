"""Every bad input a user can bring to ``mrtoct`` is refused before any work: exit status 2, one line
that names the argument and what to change, no traceback, nothing written, every input byte-identical.
The corpus is in ``Testing/corpora/bad_inputs/cases.py``."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest
from bad_inputs.cases import all_cases
from bad_inputs.world import make_world

from mrtoct.main import main

CASES = all_cases()


@pytest.fixture(scope="module")
def world(tmp_path_factory) -> dict[str, str]:
    return make_world(tmp_path_factory.mktemp("badworld"))


def _digest(root: Path) -> dict[str, str]:
    return {str(p): hashlib.sha256(p.read_bytes()).hexdigest() for p in sorted(root.rglob("*")) if p.is_file()}


def _fill(argv: list[str], names: dict[str, str]) -> list[str]:
    out = []
    for a in argv:
        for key, value in names.items():
            a = a.replace("{" + key + "}", value)
        out.append(a)
    return out


def test_the_corpus_covers_every_command_and_class():
    commands = {c[2][0] for c in CASES if c[2]}
    assert commands == {"translate", "segment", "evaluate", "register", "landmarks", "phantom", "train", "bench", "demo",
                        "serve", "frobnicate"}
    assert len(CASES) >= 250


@pytest.mark.parametrize("case", CASES, ids=[c[0] for c in CASES])
def test_bad_input_is_refused_before_any_work(case, world, tmp_path, capsys):
    name, _cls, argv, needle = case
    out = tmp_path / "out"
    out.mkdir()
    names = {**world, "OUT": str(out / "o.nii.gz"), "OUT2": str(out / "o2.nii.gz"), "OUT3": str(out / "o3.nii.gz"), "OUTJ": str(out / "o.mrk.json"), "OUTT": str(out / "o.tfm"),
             "OUTDIR": str(out / "dir")}
    root = Path(world["MR"]).parents[1]
    before = _digest(root)
    try:
        code = main(_fill(argv, names))
    except SystemExit as exc:  # argparse
        code = exc.code
    err = capsys.readouterr().err.strip()
    lines = err.splitlines()
    assert code == 2, f"exit status {code}; stderr: {err[-500:]}"
    assert len(lines) == 1 and "Traceback" not in err, err
    assert needle.lower() in lines[0].lower(), lines[0]
    assert list(out.iterdir()) == [], f"written on failure: {sorted(p.name for p in out.rglob('*'))}"
    assert _digest(root) == before
