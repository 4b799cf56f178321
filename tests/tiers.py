"""The test tiers, a pytest plugin for every test and every lesson nbval runs (`-p tiers` in
pyproject.toml: a conftest's hooks would see only the items under its own folder).

Tiers, by marker (pyproject.toml lists them): `engine` needs a Docker engine, `root` changes the
system as root (Unix accounts, /opt, /var), `browser` drives Chromium, `lessons` executes the
lessons (nbval's cells of notebooks/ get it here). `make check` runs what has none of them. A
test whose need is missing skips with the reason, unless STAGELAB_REQUIRE=1 (set by `make test`,
which CI runs): then it runs and fails loudly, so a machine that lacks something never passes by
skipping. At the end of a run, the time per tier.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from collections import defaultdict
from pathlib import Path

import pytest

from stagelab import engine

# Each test session keeps its own stagelab state (progress, the record of images stagelab made
# that `clean` removes): other sessions using the same engine and account are left alone. Tests
# remove the images they build; the folder goes when the session ends.
SESSION_HOME = tempfile.mkdtemp(prefix="stagelab-test-home-")
os.environ["STAGELAB_HOME"] = SESSION_HOME

REQUIRE_ENV = "STAGELAB_REQUIRE"
# A test's tier is the first of these markers it carries ("fast" when none): what it needs most.
TIERS = ("root", "browser", "lessons", "engine")
CHROMIUM = Path("/usr/bin/chromium")
ROOT = Path(__file__).resolve().parents[1]


def required() -> bool:
    """Tell whether this run must have every tier's needs (`make test`, CI) instead of skipping."""
    return os.environ.get(REQUIRE_ENV) == "1"


def pytest_collection_modifyitems(config, items):
    """Mark the lessons nbval executes, then skip what this machine cannot run (unless required)."""
    for item in items:
        if item.path.is_relative_to(ROOT / "notebooks"):
            item.add_marker(pytest.mark.lessons)
    if required():
        return
    missing = _missing_needs(items)
    for item in items:
        reasons = [reason for marker, reason in missing.items() if item.get_closest_marker(marker)]
        if reasons:
            item.add_marker(pytest.mark.skip(reason="; ".join(reasons)))


def pytest_sessionfinish(session):
    """Remove the session's stagelab state folder."""
    shutil.rmtree(SESSION_HOME, ignore_errors=True)


def _missing_needs(items) -> dict[str, str]:
    needs = {
        marker
        for item in items
        for marker in ("engine", "root", "browser")
        if item.get_closest_marker(marker)
    }
    missing = {}
    if "engine" in needs and engine.ping() is None:
        missing["engine"] = "no Docker engine answers (`stagelab engine ensure` starts one)"
    if "root" in needs and os.geteuid() != 0:
        missing["root"] = "needs root: it creates Unix accounts and system folders"
    if "browser" in needs and not (CHROMIUM.exists() and shutil.which("dot")):
        missing["browser"] = "needs Debian's chromium (`stagelab setup --browser` installs it)"
    return missing


_tier_seconds: dict[str, float] = defaultdict(float)
_tier_tests: dict[str, set] = defaultdict(set)


def pytest_runtest_logreport(report):
    """Add each phase's time (set-up, call, teardown) to its test's tier."""
    tier = next((marker for marker in TIERS if marker in report.keywords), "fast")
    _tier_seconds[tier] += report.duration
    _tier_tests[tier].add(report.nodeid)


def pytest_terminal_summary(terminalreporter):
    """Print the time per tier, so a run shows where its minutes go."""
    if not _tier_seconds:
        return
    terminalreporter.section("time per tier")
    for tier in ("fast", *reversed(TIERS)):
        if tier in _tier_seconds:
            terminalreporter.write_line(
                f"{tier:8} {_tier_seconds[tier]:8.1f} s  {len(_tier_tests[tier]):4} tests"
            )
