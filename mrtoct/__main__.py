"""``python -m mrtoct``: the command line where no console script is installed (Slicer's PythonSlicer)."""

import sys

from .main import main

sys.exit(main())
