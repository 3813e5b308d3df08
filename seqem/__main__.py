"""``python -m seqem``: the same as the ``seqem`` command."""

import sys

from seqem.cli.main import main

sys.exit(main())
