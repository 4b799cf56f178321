"""The doctor: is this machine ready? Engine, buildx, BuildKit features, registry, base images."""

from __future__ import annotations

import html
import time
from dataclasses import dataclass

from . import engine, images
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


def doctor(*, fresh: bool = False) -> Checkup:
    """Check the engine, buildx, BuildKit features, the registry and the base images.

    The features are probed with tiny builds once per engine and buildx (engine.probe_features
    keeps the answer); `fresh` probes them again. Returns a Checkup (its `ok` is False when
    anything fails; each failure says what to do). With no engine it stops after the first
    finding, which says how to get one.
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
    probed_at = None if fresh else engine.features_probed_at(version=version, buildx=buildx)
    features = engine.probe_features(version=version, buildx=buildx, fresh=fresh)
    findings.append(
        Finding(
            "buildx",
            buildx is not None,
            buildx or "missing",
            "" if buildx else "run `stagelab engine ensure` to add the plugin",
        )
    )
    # Said once, on the first feature: a feature read from an earlier probe says when it ran.
    since = (
        f" (probed {time.strftime('%Y-%m-%d %H:%M', time.localtime(probed_at))} for this engine "
        "and buildx; `stagelab doctor --fresh` probes again)"
        if probed_at
        else ""
    )
    if buildx:
        for name, ok in features.items():
            findings.append(
                Finding(
                    f"BuildKit {name}",
                    ok,
                    ("available" if ok else "missing") + since,
                    "" if ok else "upgrade Docker Engine and buildx to use it",
                )
            )
            since = ""
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
        if row["official"]:
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


def base_images() -> Table:
    """Return a table of the base images the lessons use: the official name, its offline
    stand-in, and which of the two this engine has ("no engine" when none answers)."""
    answers = engine.answers()
    rows = []
    for image in images.BASE_IMAGES:
        if not answers:
            found = "no engine"
        elif images.present(image.official):
            found = "official"
        else:
            found = "stand-in" if images.present(image.standin) else "missing"
        rows.append([image.official, image.standin, found, image.what])
    return Table(
        ["image", "offline stand-in", "on this engine", "the stand-in is"],
        rows,
        "stagelab-base-images",
    )
