"""The doctor: is this machine ready? Engine, buildx, BuildKit features, registry, base images."""

from __future__ import annotations

import html
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

from . import class_images, engine, images, multiplatform, standins
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
    # buildx answers in a process of its own while this one loads the Docker SDK to ask the engine.
    with ThreadPoolExecutor(max_workers=1) as pool:
        asked_buildx = pool.submit(engine.buildx_version)
        version = engine.ping()
        buildx = asked_buildx.result()
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
    # Features are probed only with buildx (the probes are buildx builds), once per engine and
    # buildx: a kept answer says when it was probed.
    kept = engine.kept_features(version=version, buildx=buildx) if buildx and not fresh else None
    if kept is not None:
        features, probed_at = kept
    else:
        features = (
            engine.probe_features(version=version, buildx=buildx, fresh=True) if buildx else {}
        )
        probed_at = None
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
    wanted = standins.course_images()
    for row in images.status():
        extra = images.BY_OFFICIAL[row["image"]] in images.EXTRA_IMAGES
        if row["official"]:
            detail, ok = "official image present", True
        elif row["standin_present"]:
            detail, ok = f"offline stand-in {row['standin']}", True
        elif class_images.archive(images.BY_OFFICIAL[row["image"]]) is not None:
            detail, ok = "loaded on first use (from the class's images)", True
        elif images.BY_OFFICIAL[row["image"]].on_demand:
            detail, ok = "made on first use (by the first build that names it)", True
        elif extra and row["image"] not in wanted:
            continue  # made only where a lesson or lab of this course needs it
        else:
            detail, ok = "missing", False
        findings.append(
            Finding(
                f"image {row['image']}",
                ok,
                detail,
                ""
                if ok
                else f"run `stagelab images ensure{' ' + row['image'] if extra else ''}`, or "
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
    # Only a few builds of lessons 12 and 14 and lab 07 need it, and it is had on first need:
    # no readiness requirement, so it is ok either way, with the advice where it cannot be had.
    findings.append(
        Finding(
            "several platforms, cache export",
            True,
            where if ok else f"{where} (only builds for several platforms or cache export need it)",
            "" if ok else multiplatform.TURN_THE_STORE_ON,
        )
    )
    return findings


def base_images() -> Table:
    """Return a table of the base images the lessons use: the official name, its offline
    stand-in, which of the two this engine has ("no engine" when none answers) and what the
    stand-in is. The extra images (Go, Java, Node, nginx) are listed where the course needs
    them or the engine has them."""
    answers = engine.answers()
    wanted = standins.course_images()
    rows = []
    for image in images.BASE_IMAGES + images.EXTRA_IMAGES:
        if not answers:
            found = "no engine"
        elif images.present(image.official):
            found = "stagelab's own" if image.official == image.standin else "official"
        else:
            found = "stand-in" if images.present(image.standin) else "missing"
        if found == "missing" and class_images.archive(image) is not None:
            found = "loaded on first use"
        elif found == "missing" and image.on_demand:
            found = "made on first use"
        if image in images.EXTRA_IMAGES and found == "missing" and image.official not in wanted:
            continue
        rows.append([image.official, image.standin, found, image.what])
    return Table(
        ["image", "offline stand-in", "on this engine", "the stand-in is"],
        rows,
        "stagelab-base-images",
    )


def fetch_images(*names: str, say=print) -> Table:
    """Make these base images usable before a lesson builds FROM them (official names, as
    `sl.GOLANG`): each present image is kept; a missing one is pulled where a registry answers,
    else its offline stand-in is built from Debian packages (a few minutes the first time;
    `say` gets a line as each starts). With no engine it does nothing: builds then replay
    their recordings.

    `stagelab setup` reads these calls in the lessons and makes the images beforehand. Returns
    a table: each image, the image that serves it, and what happened. Raises ImageUnavailable
    for a name stagelab cannot make, or a stand-in that cannot be built here.
    """
    every = standins.wanted(names)
    asked = {images.normalise(name) for name in names}
    if not engine.answers():
        rows = [
            [image.official, image.standin, "no engine here: builds replay"]
            for image in every
            if image.official in asked
        ]
    else:
        missing = standins.needed(names)
        rows = [
            [image.official, *_fetch_one(image, image in missing, say)]
            for image in every
            if image.official in asked or image in missing
        ]
    return Table(["image", "served by", "on this engine"], rows, "stagelab-fetched-images")


def _fetch_one(image: images.BaseImage, missing: bool, say) -> list[str]:
    if not missing:
        if images.present(image.official):
            return [image.official, "present (official image)"]
        return [image.standin, "present (offline stand-in)"]
    began = time.monotonic()
    if class_images.load_on_first_use(image, say):
        return [
            image.standin,
            f"loaded now from the class's images ({time.monotonic() - began:.0f} s)",
        ]
    if images.registry_answers():
        say(f"fetching {image.official} from the registry")
        engine.client().images.pull(image.official)
        return [image.official, f"pulled now ({time.monotonic() - began:.0f} s)"]
    say(f"building the offline stand-in {image.standin} from Debian packages: {image.what}")
    standins.make_standin(image)
    return [image.standin, f"stand-in built now ({time.monotonic() - began:.0f} s)"]
