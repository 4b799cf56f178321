"""stagelab: learn Docker build stages by running real builds.

Every name a lesson or a lab uses is here: `import stagelab as sl`.
"""

from .builds import build
from .calls import CheckWarning, call, check, engine_version, features
from .cleanup import clean
from .containers import (
    copy_out,
    files,
    history,
    image_config,
    image_exists,
    run,
    run_status,
)
from .display import (
    compare,
    graph,
    image_list,
    layers,
    listing,
    sizes,
    stage_table,
    timeline,
)
from .dockerfile import Dockerfile, Stage
from .doctor import base_images, doctor, fetch_images
from .errors import (
    BuildContextError,
    BuildFailed,
    ClaimFailed,
    DockerfileError,
    EngineUnavailable,
    ImageUnavailable,
    ProvisionError,
    RunFailed,
    RunTimedOut,
    StagelabError,
)
from .evidence import claim
from .images import (
    BUSYBOX,
    DEBIAN,
    GCC,
    GOLANG,
    JDK,
    JRE,
    NGINX,
    NODE,
    PYTHON,
    STANDINS,
    parse_dockerfile,
)
from .labs import lab
from .magic import register as _register_magic
from .predictions import (
    Prediction,
    predict,
    predict_cached,
    predict_failure,
    predict_size,
    predict_stages,
)
from .replay import unique
from .results import BuildResult, Step

__all__ = [
    "BUSYBOX",
    "DEBIAN",
    "GCC",
    "GOLANG",
    "JDK",
    "JRE",
    "NGINX",
    "NODE",
    "PYTHON",
    "STANDINS",
    "BuildContextError",
    "BuildFailed",
    "BuildResult",
    "CheckWarning",
    "ClaimFailed",
    "Dockerfile",
    "DockerfileError",
    "EngineUnavailable",
    "ImageUnavailable",
    "Prediction",
    "ProvisionError",
    "RunFailed",
    "RunTimedOut",
    "Stage",
    "StagelabError",
    "Step",
    "base_images",
    "build",
    "call",
    "check",
    "claim",
    "clean",
    "compare",
    "copy_out",
    "doctor",
    "engine_version",
    "features",
    "fetch_images",
    "files",
    "graph",
    "history",
    "image_config",
    "image_exists",
    "image_list",
    "lab",
    "layers",
    "listing",
    "parse_dockerfile",
    "predict",
    "predict_cached",
    "predict_failure",
    "predict_size",
    "predict_stages",
    "run",
    "run_status",
    "sizes",
    "stage_table",
    "timeline",
    "unique",
]


def load_ipython_extension(ipython) -> None:
    """Register the %%dockerfile cell magic with IPython (`%load_ext stagelab`)."""
    _register_magic(ipython)
