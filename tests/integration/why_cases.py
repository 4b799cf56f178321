"""Random multi-stage Dockerfiles and random sequences of changes (hypothesis), built for real,
and whether every step's status agrees with `why()`.

A case has 2 to 4 stages, each FROM busybox, FROM a base image this case tags (so a change can
retag it) or FROM an earlier stage; steps RUN (some seeing a build arg), COPY a context file
and COPY --from an earlier stage; and a target. A sequence is 2 to 4 changes, each one of:
edit a context file, change a build arg, edit a RUN instruction, retag the base image to
another image, prune the cache of the target's last step, or change nothing. After every
build, every step's status must be what why() said, and the steps the engine rebuilt exactly
those why() named as a cause or as invalidated by one. Used by test_why_property.py and
benchmarks/bench_why.py.
"""

from __future__ import annotations

import contextlib
import itertools
import subprocess
import time
from dataclasses import dataclass, field

from hypothesis import strategies as st

import stagelab as sl
from stagelab import engine
from stagelab.errors import StagelabError

BUSYBOX = "busybox:1.36"
CHANGES = ["file", "arg", "instruction", "base", "prune", "nothing"]
_SALT = itertools.count(time.time_ns())


@dataclass
class Case:
    """One generated Dockerfile with its context files, build args, target and changes."""

    lines: list[str]
    files: dict[str, str]
    build_args: dict[str, str]
    target: str | None
    base: str
    changes: list[tuple[str, int]] = field(default_factory=list)

    @property
    def text(self) -> str:
        return "\n".join(self.lines) + "\n"

    def __str__(self) -> str:
        return (
            f"target={self.target} build_args={self.build_args} files={self.files} "
            f"changes={self.changes}\n{self.text}"
        )


@st.composite
def cases(draw) -> Case:
    """Draw one Case with its sequence of changes (each with a number that picks what)."""
    salt = next(_SALT)
    base = f"stagelab-why-prop-{salt}:base"
    lines: list[str] = []
    files = {f"f{index}.txt": f"file {index}" for index in range(2)}
    count = draw(st.integers(2, 4))
    for index in range(count):
        choices = ["busybox", "base"] + ["stage"] * (index > 0)
        kind = draw(st.sampled_from(choices))
        start = {"busybox": BUSYBOX, "base": base}.get(
            kind
        ) or f"s{draw(st.integers(0, index - 1))}"
        lines.append(f"FROM {start} AS s{index}")
        lines.append(f"RUN echo {salt} {index} > /mark{index}")
        for step in range(draw(st.integers(1, 3))):
            what = draw(
                st.sampled_from(["run", "arg", "copy", "from"] if index else ["run", "arg", "copy"])
            )
            if what == "run":
                lines.append(f"RUN echo {salt} {index} {step} >> /mark{index}")
            elif what == "arg":
                lines += [f"ARG V{index}=a", f"RUN echo $V{index} >> /mark{index}"]
            elif what == "copy":
                lines.append(f"COPY f{draw(st.integers(0, 1))}.txt /copied{index}{step}")
            else:
                source = draw(st.integers(0, index - 1))
                lines.append(f"COPY --from=s{source} /mark{source} /from{index}{step}")
    target = draw(st.one_of(st.none(), st.sampled_from([f"s{i}" for i in range(count)])))
    changes = draw(
        st.lists(st.tuples(st.sampled_from(CHANGES), st.integers(0, 1000)), min_size=2, max_size=4)
    )
    return Case(lines, files, {}, target, base, changes)


class Run:
    """Builds one Case and its changes on one builder, and checks why() after each build."""

    def __init__(self, case: Case, builder: str):
        self.case, self.builder = case, builder
        self.lines, self.files = list(case.lines), dict(case.files)
        self.build_args = dict(case.build_args)
        self.made: list[str] = []
        self.checked = self.agreed = 0
        self.problems: list[str] = []
        self.errors: list[str] = []

    def __enter__(self) -> Run:
        return self

    def __exit__(self, *exc) -> None:
        with contextlib.suppress(Exception):
            client = engine.client()
            for image in [self.case.base, *reversed(self.made)]:
                with contextlib.suppress(Exception):
                    client.api.remove_image(image, force=True)

    def retag_base(self, version: int) -> None:
        """Tag a new base image: busybox with one file that names the version."""
        made = sl.build(
            f"FROM {BUSYBOX}\nRUN echo {version} {time.time_ns()} > /base-version\n",
            tag=self.case.base,
            progress=False,
        )
        self.made.append(made.image_id)

    def build(self):
        return sl.build(
            "\n".join(self.lines) + "\n",
            files=self.files,
            build_args=self.build_args,
            target=self.case.target,
            builder=self.builder,
            progress=False,
        )

    def change(self, kind: str, pick: int, last) -> str:
        """Make one change; return what it was, in words."""
        if kind == "file":
            name = sorted(self.files)[pick % len(self.files)]
            self.files[name] += f" {pick}"
            return f"edited {name}"
        if kind == "arg":
            names = sorted(
                {line.split()[1].split("=")[0] for line in self.lines if line.startswith("ARG ")}
            )
            if not names:
                return "no build arg to change"
            name = names[pick % len(names)]
            self.build_args[name] = f"v{pick}"
            return f"build arg {name}={self.build_args[name]}"
        if kind == "instruction":
            runs = [
                i
                for i, line in enumerate(self.lines)
                if line.startswith("RUN echo ") and "$" not in line
            ]
            index = runs[pick % len(runs)]
            self.lines[index] = self.lines[index].replace(" >", f" e{pick} >", 1)
            return f"edited line {index + 1}"
        if kind == "base":
            self.retag_base(pick)
            return "retagged the base image"
        if kind == "prune":
            return prune_last_step(last, self.builder)
        return "nothing"

    def check(self, result, after: str) -> None:
        self.checked += 1
        problem = disagreement(result)
        if problem:
            self.problems.append(f"after {after}:\n{problem}")
        else:
            self.agreed += 1

    def run(self, stop_on_error: bool = False) -> None:
        """Build, then make each change and build again, checking why() after each build.
        With `stop_on_error`, a build the engine could not finish (a StagelabError, such as an
        image removed under it by another session on a shared engine) ends the sequence and
        is kept in `errors`; otherwise it is raised."""
        try:
            self.retag_base(0)
            last = self.build()
            self.check(last, "the first build")
            for kind, pick in self.case.changes:
                said = self.change(kind, pick, last)
                last = self.build()
                self.check(last, said)
        except StagelabError as error:
            if not stop_on_error:
                raise
            lines = str(error).splitlines()
            self.errors.append(f"{lines[0]} {lines[-1].strip()}")


def rebuilt(result) -> set[tuple[str, int]]:
    """The steps the engine ran (not from its cache), as the engine reported them."""
    return {
        (step.stage, step.line)
        for step in result.steps
        if step.status == "built" and not step.instruction.upper().startswith("FROM")
    }


def predicted(why) -> set[tuple[str, int]]:
    """The steps why() says were rebuilt: each cause, and what each cause invalidated."""
    found = set()
    for cause in why.causes:
        found |= {(cause.stage, cause.line)} | set(cause.invalidates)
    return found


def disagreement(result) -> str:
    """Return how why() disagrees with what the engine did ("" when it agrees)."""
    why = result.why()
    wrong = [step.text() for step in why.steps if not step.agrees]
    if wrong:
        return "\n".join(wrong) + "\n" + str(why)
    if rebuilt(result) != predicted(why):
        said, did = sorted(predicted(why), key=str), sorted(rebuilt(result), key=str)
        return f"rebuilt {did}, why() said {said}\n{why}"
    return ""


def prune_last_step(result, builder: str) -> str:
    """Remove only the cache of a build's last step, as a prune would: its BuildKit cache
    record (found by the command it ran), or the classic builder's image of it and the images
    the engine put on top. Return what was pruned, in words."""
    step = max(result.steps, key=lambda s: s.line or 0)
    if builder == "classic":
        client, image = engine.client(), result.image_id
        while image.removeprefix("sha256:")[:12] != step.image:
            parent = client.api.inspect_image(image)["Parent"]
            client.api.remove_image(image, noprune=True)
            image = parent
        client.api.remove_image(image, noprune=True)
        return f"pruned line {step.line}"
    if not step.instruction.startswith("RUN "):
        return "nothing to prune (the last step is not a RUN)"
    command = step.instruction.removeprefix("RUN ")
    records = [
        record["ID"]
        for record in engine.client().api.df()["BuildCache"]
        if record.get("Description", "") == f"mount / from exec /bin/sh -c {command}"
    ]
    for record in records:
        subprocess.run(
            ["docker", "builder", "prune", "-a", "-f", "--filter", f"id={record}"],
            capture_output=True,
            check=True,
        )
    return f"pruned line {step.line} ({len(records)} cache records)"
