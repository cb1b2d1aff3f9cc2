"""The ``chainrule`` command, an application of the library: it demos, trains and draws.

    chainrule demo                  the 2-2-2 worked example: every number, and its pictures
    chainrule train moons           train an MLP on a bundled data set, print per-epoch metrics
    chainrule draw model.json       draw a saved model's graph on one input

Every failure is one line on stderr, ``chainrule: error: ...``, with exit status 2 for a usage
error and 1 otherwise; Ctrl-C ends with one line and status 130. ``CHAINRULE_TRACEBACK=1`` shows
the Python traceback instead (for bug reports). The benchmarks are a script of the repository,
``python tests/benchmarks/run.py``, not a command.

Modules: ``main`` (running a command, reporting its failure), ``parser`` (the options and their
help), ``options`` (checking them before any work), ``commands`` (the three commands).
"""

from .commands import DATASETS, demo
from .main import main

__all__ = ["DATASETS", "demo", "main"]
