"""stagelab: learn Docker build stages by running real builds."""

from .build import BuildResult, Step, build
from .calls import CheckWarning, call, check
from .containers import files, history, run
from .display import compare, graph, layers, sizes, timeline
from .dockerfile import Dockerfile, Stage, parse_dockerfile
from .errors import (BuildFailed, DockerfileError, EngineUnavailable, ImageUnavailable,
                     ProvisionError, StagelabError)
from .images import BUSYBOX, DEBIAN, GCC, PYTHON, clean
from .labs import lab

__all__ = ["BUSYBOX", "BuildFailed", "BuildResult", "CheckWarning", "DEBIAN", "Dockerfile",
           "DockerfileError", "EngineUnavailable", "GCC", "ImageUnavailable", "PYTHON",
           "ProvisionError", "Stage", "StagelabError", "Step", "build", "call", "check", "clean",
           "files", "history", "lab", "parse_dockerfile", "run",
           "compare", "graph", "layers", "sizes", "timeline"]


def load_ipython_extension(ipython):
    """Register the %%dockerfile cell magic (`%load_ext stagelab`)."""
    from .display import load_ipython_extension as load

    load(ipython)
