"""The doctor: is this machine ready? Engine, buildx, BuildKit features, registry, base images."""

from __future__ import annotations

import html
from dataclasses import dataclass

from . import engine, images, multiplatform
from .render.html import Table, badge

MIN_ENGINE = (28, 0)


@dataclass
class Finding:
    """One line of the doctor's report: what was checked, whether it is ok, and what to do."""

    what: str
    ok: bool
    detail: str
    advice: str = ""

    def text(self) -> str:
        """Return the finding as `ok`/`FAIL` lines, the advice under a FAIL."""
        line = f"{'ok  ' if self.ok else 'FAIL'} {self.what:<28} {self.detail}"
        return line + (f"\n     -> {self.advice}" if self.advice else "")


@dataclass(repr=False)
class Checkup:
    """The doctor's report: every finding; `ok` when all pass. Shows as a table in a notebook."""

    findings: list[Finding]

    @property
    def ok(self) -> bool:
        """Tell whether every check passed."""
        return all(finding.ok for finding in self.findings)

    @property
    def engine_answers(self) -> bool:
        """Tell whether a Docker engine answered."""
        return any(f.what == "engine" and f.ok for f in self.findings)

    def __repr__(self) -> str:
        return "\n".join(finding.text() for finding in self.findings)

    def _repr_html_(self) -> str:
        rows = "".join(
            f"<tr><td>{badge('done', 'ok') if f.ok else badge('failed', 'FAIL')}</td>"
            f"<td style='text-align:left'>{html.escape(f.what)}</td>"
            f"<td style='text-align:left'>{html.escape(f.detail)}"
            + (f"<br><em>{html.escape(f.advice)}</em>" if f.advice else "")
            + "</td></tr>"
            for f in self.findings
        )
        return (
            f"<table class='stagelab-doctor'><tr><th></th><th>check</th><th>finding</th>"
            f"</tr>{rows}</table>"
        )


def doctor() -> Checkup:
    """Check the engine, buildx, BuildKit features, the registry and the base images.

    Returns a Checkup (its `ok` is False when anything fails; each failure says what to do).
    With no engine it stops after the first finding, which says how to get one.
    """
    findings = []
    version = engine.ping()
    if version is None:
        findings.append(
            Finding(
                "engine",
                False,
                f"no engine answers at {engine.docker_host()}",
                engine.advice_no_engine().splitlines()[-1],
            )
        )
        return Checkup(findings)
    good = engine.version_tuple(version["Version"]) >= MIN_ENGINE
    findings.append(
        Finding(
            "engine",
            True,
            f"Docker Engine {version['Version']}, API "
            f"{version['ApiVersion']}, at {engine.docker_host()}",
            ""
            if good
            else "older than 28: some lessons may say a feature "
            "is missing; upgrade Docker for the full set",
        )
    )
    buildx = engine.buildx_version()
    findings.append(
        Finding(
            "buildx",
            buildx is not None,
            buildx or "missing",
            "" if buildx else "run `stagelab engine ensure` to add the plugin",
        )
    )
    if buildx:
        for name, ok in engine.probe_features().items():
            findings.append(
                Finding(
                    f"BuildKit {name}",
                    ok,
                    "available" if ok else "missing",
                    "" if ok else "upgrade Docker Engine and buildx to use it",
                )
            )
    findings += platform_findings()
    registry = images.registry_answers()
    findings.append(
        Finding(
            "registry",
            True,
            "Docker Hub answers"
            if registry
            else "no registry answers: offline stand-ins replace official images",
        )
    )
    for row in images.status():
        on_demand = images.BY_OFFICIAL[row["image"]].on_demand
        if on_demand and not row["official"] and not row["standin_present"]:
            findings.append(
                Finding(f"image {row['image']}", True, "made when a lesson asks for it")
            )
            continue
        if row["official"] and row["image"] == row["standin"]:
            detail, ok = "stagelab's own image, present", True
        elif row["official"]:
            detail, ok = "official image present", True
        elif row["standin_present"]:
            detail, ok = f"offline stand-in {row['standin']}", True
        else:
            detail, ok = "missing", False
        findings.append(
            Finding(
                f"image {row['image']}",
                ok,
                detail,
                ""
                if ok
                else "run `stagelab images ensure`, or "
                "`stagelab images import FILE` with your instructor's archive",
            )
        )
    return Checkup(findings)


def platform_findings() -> list[Finding]:
    """Say whether another CPU's programs can run here (an emulator registered with
    binfmt_misc) and where builds for several platforms go (the containerd image store)."""
    emulators = engine.emulators()
    findings = [
        Finding(
            "emulator",
            True,
            f"registered (binfmt_misc): {', '.join(emulators)}"
            if emulators
            else "none registered (binfmt_misc): a stage of another platform cannot RUN "
            "here; FROM --platform=$BUILDPLATFORM stages and COPY-only stages still build",
        )
    ]
    if engine.containerd_store():
        where, ok = "this engine has the containerd image store", True
    elif multiplatform.PlatformEngine().answers():
        where, ok = f"stagelab's platform engine at {multiplatform.PlatformEngine().host}", True
    elif engine.can_provision():
        where, ok = "stagelab starts its platform engine when a build needs it", True
    else:
        where, ok = "not here: this engine has the classic image store", False
    findings.append(
        Finding(
            "several platforms, cache export",
            ok,
            where,
            "" if ok else multiplatform.TURN_THE_STORE_ON,
        )
    )
    return findings


def base_images() -> Table:
    """Return a table of the base images the lessons use: the official name, its offline
    stand-in, and which of the two this engine has ("no engine" when none answers)."""
    answers = engine.answers()
    rows = []
    for image in images.BASE_IMAGES:
        if not answers:
            found = "no engine"
        elif images.present(image.official):
            found = "stagelab's own" if image.official == image.standin else "official"
        else:
            found = "stand-in" if images.present(image.standin) else "missing"
        rows.append([image.official, image.standin, found, image.what])
    return Table(
        ["image", "offline stand-in", "on this engine", "the stand-in is"],
        rows,
        "stagelab-base-images",
    )
