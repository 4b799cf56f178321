"""Random multi-stage Dockerfiles (hypothesis), and whether plan() tells what a builder did.

A case has 2 to 6 stages, named in mixed case or unnamed, each FROM an image, scratch, an
earlier stage (its name in some case) or `${ARG}` declared before the first FROM (with build-arg
overrides); steps COPY --from by name (earlier or later), index and image, and RUN --mount
from=; and a target. Every stage has a step of its own that marks it as run in the builder's
output. Issue 19 adds, for BuildKit: `FROM --platform=$BUILDPLATFORM`, a base ARG whose default
uses a platform ARG (`${TARGETOS:+...}`: a value for BuildKit, empty for the classic builder),
a target platform (`--platform`: this machine's or linux/arm64), and named contexts replacing
named stages (`--build-context name=docker-image://` busybox's stand-in, which every step that
copies or mounts from a stage can use). The classic builder gets no platform or contexts (it
has no named contexts: test_planner_contexts_platforms.py checks its refusal).
Issue 23's edges are drawn too: a `# check=` directive (error=, skip=, experimental=)
over files whose stage names and `as` casing make checks fire, `${NAME:?message}` ARG defaults
(global or in a stage, with or without the build arg that sets them), and, now and then, an
instruction that refuses the whole file (no destination, a flag this engine's frontend does not
know, ONBUILD FROM, an argument missing, a misspelt platform ARG in a FROM). Used by
test_planner_property.py and benchmarks/bench_planner.py.
"""

from __future__ import annotations

import functools
import itertools
import random
import time
from dataclasses import dataclass, field

import engine_truth
from hypothesis import strategies as st

import stagelab as sl
from stagelab import multiplatform

NAMES = ["base", "Build", "TOOLS", "app", "Data", "final"]
IMAGE = engine_truth.BUSYBOX
_SALT = itertools.count(time.time_ns())
DIRECTIVES = [
    "# check=error=true",
    "# check=error=true;skip=FromAsCasing,StageNameCasing",
    "# check=skip=all;error=true",
    "# check=error=true;experimental=all",
    "# check=skip=StageNameCasing",
]
# Instructions both builders refuse the whole file for, whatever the target (issue 23, kind 1).
WHOLE_FILE_REFUSALS = [
    "COPY --from=0 /only",
    "COPY --parents a/b /x/",
    "ONBUILD FROM busybox:1.36",
    "USER",
    "HEALTHCHECK --interval=oops CMD true",
]


@dataclass
class Case:
    """One generated Dockerfile, with the build args and target to build it with."""

    text: str
    build_args: dict[str, str] = field(default_factory=dict)
    target: str | None = None
    # BuildKit only: the target platform (None: this machine's) and the named contexts' names.
    platform: str | None = None
    contexts: list[str] = field(default_factory=list)

    def __str__(self) -> str:
        return (
            f"target={self.target} build_args={self.build_args} platform={self.platform} "
            f"contexts={self.contexts}\n{self.text}"
        )


def _case_of(draw, name: str) -> str:
    return draw(st.sampled_from([name.lower()] * 8 + [name, name.upper()]))


@st.composite
def cases(draw) -> Case:
    """Draw one Case."""
    count = draw(st.integers(2, 6))
    names = [draw(st.one_of(st.none(), st.sampled_from(NAMES))) for _ in range(count)]
    salt = next(_SALT)
    # No emulator here: for another CPU, every stage with RUN runs on the build platform.
    # (Not with two stages of one name: which one a later FROM takes is left to the
    # single-platform cases.)
    named = [n.lower() for n in names if n]
    platform = draw(st.sampled_from([None, None, "linux/arm64"]))
    platform = platform if len(set(named)) == len(named) else None
    pin = "--platform=$BUILDPLATFORM "
    rng = random.Random(draw(st.integers(0, 2**32)))
    meta, build_args, stages, shells = [], {}, [], []
    if _rare(rng, 10):  # a global default that fails unless a build arg sets it
        meta.append("ARG REQUIRED=${REQUIRED:?set_REQUIRED}")
        if draw(st.booleans()):
            build_args["REQUIRED"] = "given"
    for index, name in enumerate(names):
        # BuildKit's FROM <name> is the last stage of that name: its shell is the one to use.
        last_shell = {n.lower(): shells[i] for i, n in enumerate(names[:index]) if n}
        earlier = [(n, last_shell[n.lower()]) for n in names[:index] if n]
        kind = draw(
            st.sampled_from(
                ["image", "image", "scratch", "arg"] + ["stage", "stage"] * bool(earlier)
            )
        )
        if kind == "image":
            base, shell = IMAGE, True
            if platform or draw(st.integers(0, 3)) == 0:
                base = pin + IMAGE
        elif kind == "scratch":
            base, shell = "scratch", False
        elif kind == "stage":
            parent, shell = draw(st.sampled_from(earlier))
            base = _case_of(draw, parent)
        else:
            options = [IMAGE] + [n.lower() for n, has_shell in earlier if has_shell]
            default = draw(st.sampled_from(options + [""]))
            if default and draw(st.integers(0, 3)) == 0:
                default = f"${{TARGETOS:+{default}}}"
            meta.append(f"ARG BASE{index}" + (f"={default}" if default else ""))
            if draw(st.booleans()):
                build_args[f"BASE{index}"] = draw(st.sampled_from(options))
            base, shell = ("" if platform is None else pin) + f"${{BASE{index}}}", True
        shells.append(shell)
        keyword = "as" if _rare(rng, 8) else "AS"
        misspelt = _rare(rng, 81) and not base.startswith("--platform")
        flag = "--platform=$BUILDPLATFROM " if misspelt else ""
        lines = [f"FROM {flag}{base}" + (f" {keyword} {name}" if name else "")]
        if base == "scratch":
            lines.append(f"COPY --from={IMAGE} /bin/busybox /bin/busybox")
        lines.append(
            f"RUN echo {salt} {index}"
            if shell
            else f"COPY --from={IMAGE} /bin/busybox /mark-{salt}-{index}"
        )
        for step in range(draw(st.integers(0, 2))):
            lines.append(_step(draw, names, index, shell, f"{salt}-{index}-{step}"))
        if _rare(rng, 13):  # a stage ARG that fails unless a build arg sets it
            lines.append(f"ARG NEED{index}=${{NEED{index}:?set_NEED{index}}}")
            if draw(st.booleans()):
                lines.insert(1, f"ARG NEED{index}")
                build_args[f"NEED{index}"] = "given"
        if _rare(rng, 41):
            lines.append(rng.choice(WHOLE_FILE_REFUSALS))
        stages.append(lines)
    target = draw(
        st.sampled_from(
            [None] * 6 + [n for n in names if n] * 2 + [str(draw(st.integers(0, count - 1)))]
        )
    )
    if target is not None and not target.isdigit():
        target = _case_of(draw, target)
    directive = [rng.choice(DIRECTIVES)] if _rare(rng, 4) else []
    text = "\n".join(directive + meta + [line for lines in stages for line in lines]) + "\n"
    contexts = draw(_contexts(names, target)) if draw(st.integers(0, 2)) == 0 else []
    return Case(text, build_args, target, platform, contexts)


def _contexts(names: list[str | None], target: str | None):
    """Named contexts for some named stages: not the last stage nor the target (what BuildKit
    outputs when its target is replaced is left to test_planner_contexts_platforms.py)."""
    output = names[int(target)] if target and target.isdigit() else target or names[-1]
    kept = {(output or "").lower(), (names[-1] or "").lower()}
    replaceable = sorted({n.lower() for n in names if n and n.lower() not in kept})
    return (
        st.lists(st.sampled_from(replaceable), min_size=1, max_size=2, unique=True)
        if replaceable
        else st.just([])
    )


def _rare(rng: random.Random, one_in: int) -> bool:
    """Return True about once in `one_in`. From a Random seeded by one draw: hypothesis draws
    the edges of its ranges and repeats earlier choices far more often than uniformly, which
    would make issue 23's edges (each of which refuses most builds) the common case."""
    return rng.randrange(one_in) == 0


def _step(draw, names: list[str | None], index: int, shell: bool, unique: str) -> str:
    named = [n for n in names if n]
    # Mostly stages above this one; sometimes a later one, which both builders refuse.
    earlier = [n for n in names[:index] if n]
    kinds = ["image"] * 2 + ["name"] * 4 * bool(earlier) + ["later"] * bool(named) + ["index"]
    if shell and earlier:
        kinds += ["mount"] * 2
    kind = draw(st.sampled_from(kinds))
    if kind == "mount":
        source = _case_of(draw, draw(st.sampled_from(earlier)))
        return f"RUN --mount=from={source},target=/mnt ls /mnt/bin/busybox >/dev/null"
    if kind == "image":
        source = IMAGE
    elif kind == "name":
        source = _case_of(draw, draw(st.sampled_from(earlier)))
    elif kind == "later":
        source = draw(st.sampled_from(named))
    else:
        source = str(draw(st.integers(0, index)))
    return f"COPY --from={source} /bin/busybox /copy-{unique}"


@functools.cache
def _platform_engine() -> tuple[str | None, str]:
    """The engine builds for another platform go to, and the name busybox has there."""
    host = multiplatform.build_host(["linux/arm64"], [])
    return host, multiplatform.substitutions_on(host, [IMAGE]).get(IMAGE, IMAGE)


def agrees(case: Case, builder: str) -> tuple[bool, str]:
    """Build `case` for real with `builder`; return whether plan() told what happened, and
    what differed."""
    platform, contexts = (case.platform, case.contexts) if builder == "buildkit" else (None, [])
    refs, refusal, index = planned_by(
        case.text, builder, case.target, case.build_args, platform, contexts
    )
    if builder == "buildkit":
        # Another platform's images come from the engine with the containerd image store,
        # where busybox's stand-in is made for both CPUs (the docker driver would look for
        # an arm64 busybox in a registry).
        host, busybox = _platform_engine() if platform else (None, engine_truth.standin())
        real = engine_truth.buildkit(
            case.text,
            case.target,
            case.build_args,
            platform,
            build_contexts=dict.fromkeys(contexts, f"docker-image://{busybox}"),
            docker_host=host,
            busybox=busybox,
        )
    else:
        real = engine_truth.classic(case.text, case.target, case.build_args)
    planned = {index[ref] for ref in refs}
    if real.failed_step:
        return False, f"a step failed: {real.message}"
    if real.refused != (refusal is not None):
        return False, f"engine refused={real.refused} ({real.message}); plan: {refusal or refs}"
    if real.refused:
        if real.line is not None and refusal.line != real.line:
            return False, f"refused at line {real.line} ({real.message}); plan: {refusal}"
        return True, ""
    if planned != real.stages(case.text):
        return False, f"engine ran stages {sorted(real.stages(case.text))}; plan: {refs}"
    return True, ""


def planned_by(
    text: str,
    builder: str,
    target: str | None,
    build_args: dict | None,
    platform: str | None = None,
    contexts: list[str] | tuple[str, ...] = (),
) -> tuple[list[str], sl.DockerfileError | None, dict[str, int]]:
    """Return what plan() says for this target platform and these named contexts: the refs it
    runs, its refusal (a whole-file refusal, which parsing raises, runs nothing) and each
    ref's stage index."""
    try:
        parsed = sl.parse_dockerfile(text)
    except sl.DockerfileError as refusal:
        return [], refusal, {}
    refs, refusal = parsed.attempt(target, builder, build_args, platform, contexts)
    stages = parsed.resolve(build_args, builder, platform, contexts)
    return refs, refusal, {stage.ref: stage.index for stage in stages}


def assert_plan_tells_the_truth(text, builder, target=None, build_args=None):
    """plan() (or parsing, for a whole-file refusal) runs the stages the engine ran, or
    refuses at the line the engine refused, with the engine's own sentence."""
    refs, refusal, index = planned_by(text, builder, target, build_args)
    real = (engine_truth.buildkit if builder == "buildkit" else engine_truth.classic)(
        text, target, build_args
    )
    assert not real.failed_step, real
    if real.refused:
        assert refusal is not None, f"{builder} refused: {real.message}; plan() ran {refs}"
        if real.line is not None:
            assert refusal.line == real.line, (str(refusal), real.message)
        assert real.stages(text) <= {index[ref] for ref in refs}
    else:
        assert refusal is None, f"{builder} built it; plan() said {refusal}"
        assert {index[ref] for ref in refs} == real.stages(text), (refs, real)
    return refusal, real
