"""The third-party libraries that are slow to import, each imported when first used (PEP 562).

Every kernel of every lesson, every `stagelab` command and every lab check imports stagelab,
and matplotlib (with numpy), the Docker SDK (with requests), ipywidgets, IPython and graphviz
take seconds to import together, while most of those uses draw no chart, and many reach no
engine. So a module that needs one of them writes `from . import lazy` and names it through
this module: `lazy.docker.errors.ImageNotFound`, `lazy.matplotlib_figure.Figure(...)`. This
module's `__getattr__` (PEP 562, https://peps.python.org/pep-0562/) imports the library on
the first such access and keeps it as an ordinary attribute, so later accesses cost nothing
more. A library that is missing raises the usual ModuleNotFoundError at that first use.

Only third-party libraries come through here: stagelab's own modules import each other
normally, so import-linter sees the whole internal graph (pyproject.toml's layers). Type
annotations that name these libraries stay unevaluated (`from __future__ import annotations`).
"""

from __future__ import annotations

import importlib
import sys
from types import ModuleType

# The name stagelab's modules use -> the library module it is.
MODULES = {
    "docker": "docker",
    "requests": "requests",
    "graphviz": "graphviz",
    "ipywidgets": "ipywidgets",
    "ipython": "IPython",
    "ipython_display": "IPython.display",
    "matplotlib": "matplotlib",
    "matplotlib_figure": "matplotlib.figure",
    "matplotlib_patches": "matplotlib.patches",
}

__all__ = sorted(MODULES)


def __getattr__(name: str) -> ModuleType:
    """Import the library `name` stands for (MODULES), keep it here, and return it.

    Raises AttributeError for a name MODULES does not have, and ModuleNotFoundError when the
    library is not installed.
    """
    if name not in MODULES:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    module = importlib.import_module(MODULES[name])
    globals()[name] = module
    return module


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(MODULES))


def imported(name: str) -> bool:
    """Tell whether the library `name` stands for (a key of MODULES) is imported already, by
    anyone in this process, without importing it."""
    return MODULES[name] in sys.modules
