"""``mrtoct --help`` and ``mrtoct models`` answer without importing torch or MONAI (a second and a half
of imports before a word is printed), in a real child process, as a user types them."""

from __future__ import annotations

import subprocess
import sys

import pytest

PROBE = ("import sys\nfrom mrtoct.main import main\ntry:\n    code = main({argv!r})\nexcept SystemExit as exc:\n"
         "    code = exc.code\nheavy = sorted(m for m in ('torch', 'monai') if m in sys.modules)\n"
         "print('HEAVY', heavy, 'CODE', code)\n")


@pytest.mark.parametrize("argv", [["--help"], ["models"], ["translate", "--help"], ["segment", "--help"]])
def test_help_and_models_do_not_import_torch(argv):
    out = subprocess.run([sys.executable, "-c", PROBE.format(argv=argv)], capture_output=True, text=True, timeout=120)
    last = out.stdout.strip().splitlines()[-1]
    assert last == "HEAVY [] CODE 0", (last, out.stderr[-500:])
    assert len(out.stdout) > 200  # it did print its help or its list
