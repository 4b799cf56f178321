"""Random multi-stage Dockerfiles (hypothesis), and whether plan() tells what a builder did.

A case has 2 to 6 stages, named in mixed case or unnamed, each FROM an image, scratch, an
earlier stage (its name in some case) or `${ARG}` declared before the first FROM (with build-arg
overrides); steps COPY --from by name (earlier or later), index and image, and RUN --mount
from=; and a target. Every stage has a step of its own that marks it as run in the builder's
output. Used by test_planner_property.py and benchmarks/bench_planner.py.
"""

from __future__ import annotations

import itertools
import time
from dataclasses import dataclass, field

import engine_truth
from hypothesis import strategies as st

import stagelab as sl

NAMES = ["base", "Build", "TOOLS", "app", "Data", "final"]
IMAGE = engine_truth.BUSYBOX
_SALT = itertools.count(time.time_ns())


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
    meta, build_args, stages, shells = [], {}, [], []
    for index, name in enumerate(names):
        earlier = [(n, shells[i]) for i, n in enumerate(names[:index]) if n]
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
        lines = [f"FROM {base}" + (f" AS {name}" if name else "")]
        if base == "scratch":
            lines.append(f"COPY --from={IMAGE} /bin/busybox /bin/busybox")
        lines.append(
            f"RUN echo {salt} {index}"
            if shell
            else f"COPY --from={IMAGE} /bin/busybox /mark-{salt}-{index}"
        )
        for step in range(draw(st.integers(0, 2))):
            lines.append(_step(draw, names, index, shell, f"{salt}-{index}-{step}"))
        stages.append(lines)
    target = draw(
        st.sampled_from(
            [None] * 6 + [n for n in names if n] * 2 + [str(draw(st.integers(0, count - 1)))]
        )
    )
    if target is not None and not target.isdigit():
        target = _case_of(draw, target)
    text = "\n".join(meta + [line for lines in stages for line in lines]) + "\n"
    return Case(text, build_args, target)


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
    parsed = sl.parse_dockerfile(case.text)
    refs, refusal = parsed.attempt(case.target, builder, case.build_args)
    real = (engine_truth.buildkit if builder == "buildkit" else engine_truth.classic)(
        case.text, case.target, case.build_args
    )
    index = {stage.ref: stage.index for stage in parsed.resolve(case.build_args, builder)}
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
