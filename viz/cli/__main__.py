"""``python -m viz.cli``: the ``chainrule`` command."""

import sys

from .main import main

sys.exit(main())
