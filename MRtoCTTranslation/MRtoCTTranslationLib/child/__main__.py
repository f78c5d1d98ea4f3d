"""``python -m MRtoCTTranslationLib.child job.json``: run one translation job (``child.run``)."""

import sys

from .run import main

sys.exit(main(sys.argv[1:]))
