"""stagelab: learn Docker build stages by running real builds.

Every name a lesson or a lab uses is here: `import stagelab as sl`.
"""

from .artefacts import elf_machine
from .bake import BakeResult, SharedStep, bake
from .build_records import BuildRecord, build_record
from .builds import build
from .calls import CheckWarning, call, check, engine_version, features
from .cleanup import clean, remove_tags
from .containers import (
    copy_out,
    files,
    history,
    image_config,
    image_exists,
    run,
    run_status,
    search_image,
)
from .display import (
    compare,
    graph,
    image_list,
    layers,
    listing,
    platform_table,
    sizes,
    stage_table,
    timeline,
)
from .dockerfile import Dockerfile, Stage, machine_platform
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
    CROSS_GCC,
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
from .multiplatform import empty_build_cache
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
    "CROSS_GCC",
    "DEBIAN",
    "GCC",
    "GOLANG",
    "JDK",
    "JRE",
    "NGINX",
    "NODE",
    "PYTHON",
    "STANDINS",
    "BakeResult",
    "BuildContextError",
    "BuildFailed",
    "BuildRecord",
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
    "SharedStep",
    "Stage",
    "StagelabError",
    "Step",
    "bake",
    "base_images",
    "build",
    "build_record",
    "call",
    "check",
    "claim",
    "clean",
    "compare",
    "copy_out",
    "doctor",
    "elf_machine",
    "empty_build_cache",
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
    "machine_platform",
    "parse_dockerfile",
    "platform_table",
    "predict",
    "predict_cached",
    "predict_failure",
    "predict_size",
    "predict_stages",
    "remove_tags",
    "run",
    "run_status",
    "search_image",
    "sizes",
    "stage_table",
    "timeline",
    "unique",
]


def load_ipython_extension(ipython) -> None:
    """Register the %%dockerfile cell magic with IPython (`%load_ext stagelab`)."""
    _register_magic(ipython)
