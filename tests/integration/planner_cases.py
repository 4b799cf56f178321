"""Random multi-stage Dockerfiles (hypothesis), and whether plan() tells what a builder did.

A case has 2 to 6 stages, named in mixed case or unnamed, each FROM an image, scratch, an
earlier stage (its name in some case) or `${ARG}` declared before the first FROM (with build-arg
overrides); steps COPY --from by name (earlier or later), index and image, and RUN --mount
from=; and a target. Every stage has a step of its own that marks it as run in the builder's
output. Issue 23's edges are drawn too: a `# check=` directive (error=, skip=, experimental=)
over files whose stage names and `as` casing make checks fire, `${NAME:?message}` ARG defaults
(global or in a stage, with or without the build arg that sets them), and, now and then, an
instruction that refuses the whole file (no destination, a flag this engine's frontend does not
know, ONBUILD FROM, an argument missing, a misspelt platform ARG in a FROM). Used by
test_planner_property.py and benchmarks/bench_planner.py.
"""

from __future__ import annotations

import itertools
import random
import time
from dataclasses import dataclass, field

import engine_truth
from hypothesis import strategies as st

import stagelab as sl

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

    def __str__(self) -> str:
        return f"target={self.target} build_args={self.build_args}\n{self.text}"


def _case_of(draw, name: str) -> str:
    return draw(st.sampled_from([name.lower()] * 8 + [name, name.upper()]))


@st.composite
def cases(draw) -> Case:
    """Draw one Case."""
    count = draw(st.integers(2, 6))
    names = [draw(st.one_of(st.none(), st.sampled_from(NAMES))) for _ in range(count)]
    salt = next(_SALT)
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
        elif kind == "scratch":
            base, shell = "scratch", False
        elif kind == "stage":
            parent, shell = draw(st.sampled_from(earlier))
            base = _case_of(draw, parent)
        else:
            options = [IMAGE] + [n.lower() for n, has_shell in earlier if has_shell]
            default = draw(st.sampled_from(options + [""]))
            meta.append(f"ARG BASE{index}" + (f"={default}" if default else ""))
            if draw(st.booleans()):
                build_args[f"BASE{index}"] = draw(st.sampled_from(options))
            base, shell = f"${{BASE{index}}}", True
        shells.append(shell)
        keyword = "as" if _rare(rng, 8) else "AS"
        platform = "--platform=$BUILDPLATFROM " if _rare(rng, 81) else ""
        lines = [f"FROM {platform}{base}" + (f" {keyword} {name}" if name else "")]
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
    return Case(text, build_args, target)


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


def agrees(case: Case, builder: str) -> tuple[bool, str]:
    """Build `case` for real with `builder`; return whether plan() told what happened, and
    what differed."""
    refs, refusal, index = planned_by(case.text, builder, case.target, case.build_args)
    real = (engine_truth.buildkit if builder == "buildkit" else engine_truth.classic)(
        case.text, case.target, case.build_args
    )
    planned = {index[ref] for ref in refs}
    if real.failed_step:
        return False, f"a step failed: {real.message}"
    if real.refused != (refusal is not None):
        return False, f"engine refused={real.refused} ({real.message}); plan: {refusal or refs}"
    if real.refused:
        # A line the builder may report (BuildKit's cycle search: several), and only those.
        if real.line is not None and real.line not in refusal.lines:
            return False, f"refused at line {real.line} ({real.message}); plan: {refusal}"
        return True, ""
    if planned != real.stages(case.text):
        return False, f"engine ran stages {sorted(real.stages(case.text))}; plan: {refs}"
    return True, ""


def planned_by(
    text: str, builder: str, target: str | None, build_args: dict | None
) -> tuple[list[str], sl.DockerfileError | None, dict[str, int]]:
    """Return what plan() says: the refs it runs, its refusal (a whole-file refusal, which
    parsing raises, runs nothing) and each ref's stage index."""
    try:
        parsed = sl.parse_dockerfile(text)
    except sl.DockerfileError as refusal:
        return [], refusal, {}
    refs, refusal = parsed.attempt(target, builder, build_args)
    return refs, refusal, {stage.ref: stage.index for stage in parsed.resolve(build_args, builder)}


def assert_plan_tells_the_truth(text, builder, target=None, build_args=None):
    """plan() (or parsing, for a whole-file refusal) runs the stages the engine ran, or
    refuses with the engine's line among those it says the builder may report (`lines`: one,
    or several for BuildKit's cycle search), with the engine's own sentence."""
    refs, refusal, index = planned_by(text, builder, target, build_args)
    real = (engine_truth.buildkit if builder == "buildkit" else engine_truth.classic)(
        text, target, build_args
    )
    assert not real.failed_step, real
    if real.refused:
        assert refusal is not None, f"{builder} refused: {real.message}; plan() ran {refs}"
        if real.line is not None:
            assert real.line in refusal.lines, (str(refusal), real.message)
        assert real.stages(text) <= {index[ref] for ref in refs}
    else:
        assert refusal is None, f"{builder} built it; plan() said {refusal}"
        assert {index[ref] for ref in refs} == real.stages(text), (refs, real)
    return refusal, real
