"""The planner's named contexts and platforms against what the engine really does (issue 19).

Each case is built raw (engine_truth.py: the CLI with --build-context and --platform, no
stagelab planner or reader involved), and plan() / platform_plan() must name the stages the
engine ran, for each platform and on the machine it ran them on. The classic builder has no
named contexts: its refusal is the truth there.
"""

import os
import subprocess
import tempfile
import time
from pathlib import Path

import engine_truth
import pytest

import stagelab as sl
from stagelab import multiplatform
from stagelab.dockerfile import machine_platform

pytestmark = pytest.mark.engine
SALT = str(time.time_ns())
BOTH = ["linux/amd64", "linux/arm64"]

# A stage replaced by a folder: it does not run, nor does `tools`, which only it needed.
REPLACED_BY_FOLDER = f"""\
FROM busybox:1.36 AS tools
RUN echo tools {SALT} > /tools
FROM tools AS deps
RUN echo deps {SALT} > /deps
FROM busybox:1.36 AS app
COPY --from=deps /deps /deps
RUN echo app {SALT}
"""
# The same, but `app` also copies from `tools`: that one still runs.
STILL_NEEDED = f"""\
FROM busybox:1.36 AS tools
RUN echo tools {SALT} > /tools
FROM tools AS deps
RUN echo deps {SALT} > /deps
FROM busybox:1.36 AS app
COPY --from=deps /deps /deps
COPY --from=tools /tools /tools
RUN echo app-and-tools {SALT}
"""
# A stage another starts FROM, replaced by an image; its name written with capitals.
REPLACED_BASE = f"""\
FROM busybox:1.36 AS Base
RUN echo base {SALT} > /base
FROM base AS app
RUN echo app-on-base {SALT}
"""
# A RUN --mount from= source replaced by a folder.
REPLACED_MOUNT = f"""\
FROM busybox:1.36 AS maker
RUN echo made {SALT} > /made
FROM busybox:1.36 AS app
RUN --mount=type=bind,from=maker,target=/m cat /m/made && echo app-mount {SALT}
"""
CONTEXT_CASES = {
    "a stage replaced by a folder": (REPLACED_BY_FOLDER, None, {"deps": "folder"}),
    "a replaced stage's own base still needed": (STILL_NEEDED, None, {"deps": "folder"}),
    "a base stage replaced by an image": (REPLACED_BASE, None, {"base": "image"}),
    "a mount source replaced by a folder": (REPLACED_MOUNT, None, {"maker": "folder"}),
    "a context nothing uses": (REPLACED_BY_FOLDER, "deps", {"unused": "folder"}),
    "the target itself replaced by an image": (REPLACED_BY_FOLDER, "app", {"app": "image"}),
    "the last stage replaced by a folder": (REPLACED_BY_FOLDER, None, {"app": "folder"}),
}
# The compiling stage runs on the build platform; the target platform picks a stage by name.
# (The RUN's text names no ARG: BuildKit names a step with its ARGs expanded. TARGETARCH
# reaches it through the environment, so each platform's step is its own.)
CROSS = f"""\
FROM --platform=$BUILDPLATFORM busybox:1.36 AS build
ARG TARGETARCH
RUN env > /out && echo {SALT} >> /out
FROM scratch AS bin-amd64
COPY --from=build /out /amd64
FROM scratch AS bin-arm64
COPY --from=build /out /arm64
FROM bin-$TARGETARCH AS final
COPY --from=build /out /final
"""
# A stage pinned to one platform, whatever the target.
PINNED = f"""\
FROM --platform=linux/amd64 busybox:1.36 AS pinned
RUN echo pinned {SALT} > /pinned
FROM scratch AS unused
COPY --from=pinned /pinned /unused
FROM scratch
COPY --from=pinned /pinned /pinned
"""


@pytest.fixture(scope="module")
def context_values(docker_engine, tmp_path_factory):
    """{kind: the --build-context value}: a folder holding each file the cases copy, and the
    busybox stand-in as an image."""
    folder = tmp_path_factory.mktemp("context")
    for name in ("deps", "made", "base"):
        (folder / name).write_text(f"from the context {SALT}\n")
    return {"folder": str(folder), "image": f"docker-image://{engine_truth.standin()}"}


def _index(text, contexts, platform=None):
    stages = sl.parse_dockerfile(text).resolve(None, "buildkit", platform, contexts)
    return {stage.ref: stage.index for stage in stages}


@pytest.mark.parametrize("case", CONTEXT_CASES)
def test_buildkit_runs_what_plan_says_with_named_contexts(context_values, case):
    text, target, kinds = CONTEXT_CASES[case]
    contexts = {name: context_values[kind] for name, kind in kinds.items()}
    refs = sl.parse_dockerfile(text).plan(target, "buildkit", contexts=list(contexts))
    real = engine_truth.buildkit(text, target, build_contexts=contexts)
    assert not real.refused and not real.failed_step, real
    index = _index(text, list(contexts))
    assert {index[ref] for ref in refs} == real.stages(text), (refs, real)


def test_a_replaced_stage_and_what_only_it_needed_do_not_run(context_values):
    contexts = {"deps": context_values["folder"]}
    assert sl.parse_dockerfile(REPLACED_BY_FOLDER).plan(contexts=list(contexts)) == ["app"]
    assert engine_truth.buildkit(REPLACED_BY_FOLDER, build_contexts=contexts).stages(
        REPLACED_BY_FOLDER
    ) == {2}


def test_the_output_stage_replaced_by_a_folder_exports_that_folder(context_values, tmp_path):
    """Nothing runs and the build's output is the context itself (as the engine showed: no
    step started, the exported files are the folder's)."""
    contexts = {"app": context_values["folder"]}
    assert sl.parse_dockerfile(REPLACED_BY_FOLDER).plan(contexts=list(contexts)) == []
    built = sl.build(REPLACED_BY_FOLDER, build_contexts=contexts, output=tmp_path / "out")
    assert built.ran == [] and set(built.stage_status.values()) == {"skipped"}
    exported = {path.name: path.read_text() for path in (tmp_path / "out").iterdir()}
    given = {path.name: path.read_text() for path in Path(context_values["folder"]).iterdir()}
    assert exported == given


@pytest.mark.parametrize("case", CONTEXT_CASES)
def test_the_classic_builder_refuses_named_contexts_as_plan_says(context_values, case):
    text, target, kinds = CONTEXT_CASES[case]
    contexts = {name: context_values[kind] for name, kind in kinds.items()}
    refs, refusal = sl.parse_dockerfile(text).attempt(target, "classic", contexts=list(contexts))
    with tempfile.TemporaryDirectory(prefix="stagelab-truth-") as tmp:
        Path(tmp, "Dockerfile").write_text(text)
        command = ["docker", "build"]
        for name, value in contexts.items():
            command += ["--build-context", f"{name}={value}"]
        done = subprocess.run(
            [*command, tmp],
            capture_output=True,
            text=True,
            timeout=120,
            env={**os.environ, "DOCKER_BUILDKIT": "0"},
            check=False,
        )
    assert done.returncode != 0 and "unknown flag: --build-context" in done.stderr, done.stderr
    assert refs == [] and refusal is not None
    assert "unknown flag: --build-context" in str(refusal)


@pytest.mark.parametrize("text", [CROSS, PINNED], ids=["cross", "pinned"])
@pytest.mark.parametrize("platform", BOTH)
def test_buildkit_runs_what_plan_says_for_one_platform(docker_engine, text, platform):
    """One platform a build, on the CLI's engine (the docker driver takes one foreign one)."""
    refs = sl.parse_dockerfile(text).plan(platform=platform)
    real = engine_truth.buildkit(text, platform=platform)
    assert not real.refused and not real.failed_step, real
    index = _index(text, (), platform)
    assert {index[ref] for ref in refs} == real.stages(text), (refs, real)


@pytest.fixture(scope="module")
def platform_engine(docker_engine):
    """The engine builds for several platforms go to (stagelab's own when the CLI's lacks the
    containerd image store: started here if it does not run) and busybox's stand-in there."""
    host = multiplatform.build_host(BOTH, [])
    chosen = multiplatform.substitutions_on(host, [engine_truth.BUSYBOX])
    return host, chosen.get(engine_truth.BUSYBOX)


def test_platform_plan_says_where_each_stage_ran_for_each_platform(platform_engine):
    host, busybox = platform_engine
    plan = sl.parse_dockerfile(CROSS).platform_plan(platforms=BOTH)
    real = engine_truth.buildkit(CROSS, platform=BOTH, docker_host=host, busybox=busybox)
    assert not real.refused and not real.failed_step, real
    stage_of = {line: index for index, line in _stage_lines(CROSS)}
    refs = {index: ref for ref, index in _index(CROSS, ()).items()}
    seen = set()
    for prefix, step in real.platform_steps:
        lines = engine_truth._step_lines(CROSS, [step])
        if not lines or prefix is None:
            continue
        runs_on, _, target_arch = prefix.partition("->")
        target = f"linux/{target_arch}" if target_arch else runs_on
        seen.add((target, refs[stage_of[min(lines)]], runs_on))
    expected = {
        (platform, ref, plan.runs_on(platform, ref))
        for platform in BOTH
        for ref in plan.stages(platform)
        if sl.parse_dockerfile(CROSS).stage(ref).steps
    }
    assert seen == expected
    # The compiling stage ran on this machine for both targets; each final stage on its own.
    assert {runs_on for target, ref, runs_on in seen if ref == "build"} == {machine_platform()}


def _stage_lines(text):
    """(stage index, line) for every line of the file, by the FROM it follows."""
    index = -1
    for number, line in enumerate(text.splitlines(), 1):
        if line.upper().startswith("FROM "):
            index += 1
        yield index, number
