"""The classroom's images, built on the real engine and run as a learner's pod runs them.

Building needs Debian's archive and PyPI (as `make test` does to set up); on a warm cache it
takes seconds, on a cold one a few minutes (see the README, Kubernetes classroom).
"""

from __future__ import annotations

import sys
import time
import urllib.request
from pathlib import Path

import docker
import pytest

import stagelab as sl
from stagelab import engine, standins
from stagelab.classroom.kubernetes.image_build import build_images
from stagelab.classroom.kubernetes.layout import ENGINE, LEARNER
from stagelab.classroom.kubernetes.smoke import SMOKE_KIND, smoke
from stagelab.images import BASE_IMAGES, labels, present

sys.path.insert(0, str(Path(__file__).parent))
from chart import dashboard_objects

pytestmark = pytest.mark.engine


@pytest.fixture(scope="module")
def built(docker_engine):
    """Build both images (once for this module) and return them by name."""
    return {image.ref: image for image in build_images(say=lambda line: None)}


def test_both_images_are_built_labelled_and_spared_by_clean(built):
    assert set(built) == {LEARNER.ref, ENGINE.ref}
    for ref, image in built.items():
        config = sl.image_config(ref)
        assert config["Labels"]["io.stagelab.kind"] == "classroom-image"
        assert config["Labels"]["io.stagelab.stands-in-for"] == ""
        assert image.image_id == engine.client().images.get(ref).id
    # `stagelab clean` removes images of kind "build" only (stagelab.images.clean).
    builds = engine.client().images.list(filters={"label": "io.stagelab.kind=build"})
    assert not {image.id for image in builds} & {image.image_id for image in built.values()}


def test_the_learner_image_keeps_only_what_the_runtime_needs(built):
    listing = sl.run(
        LEARNER.ref,
        [
            "sh",
            "-c",
            "ls /opt/stagelab/images; ls / /usr/local/bin; id -u; id -g; echo $DOCKER_HOST",
        ],
    )
    assert "base-images.tar.zst" in listing and "base-images.txt" in listing
    for left_behind in ("src", "wheels", "archive", "unpacked", "debs"):
        assert f"\n{left_behind}\n" not in f"\n{listing}\n", left_behind
    assert "docker\n" in listing and "learner-start\n" in listing
    assert "\n1000\n100\nunix:///run/stagelab-engine/docker.sock" in listing
    code, _ = sl.run_status(LEARNER.ref, "zstd --version")
    assert code == 127  # the compressor stayed in the base-images stage
    names = sl.run(LEARNER.ref, "cat /opt/stagelab/images/base-images.txt").split()
    # The core images and the extra ones the course fetches (lesson 19's), with the stand-ins
    # they are built on; no image made only on first use (cross-gcc).
    carried = standins.wanted(standins.course_images())
    assert set(names) == {
        name for image in carried for name in (image.official, image.standin) if present(name)
    }
    assert BASE_IMAGES[0] in carried and sl.CROSS_GCC not in names
    tools = sl.run(
        LEARNER.ref,
        [
            "sh",
            "-c",
            "docker buildx version && dot -V && "
            "python -c 'import stagelab, jupyterlab' && pip check",
        ],
    )
    assert "buildx" in tools and "graphviz" in tools.lower()


def test_the_engine_image_holds_the_engine_and_not_the_packages(built):
    config = sl.image_config(ENGINE.ref)
    assert config["Entrypoint"] == ["engine-start"]
    listing = sl.run(ENGINE.ref, "ls /usr/local/bin /", entrypoint=[])
    for binary in ("dockerd", "containerd", "containerd-shim-runc-v2", "docker-init", "docker"):
        assert f"\n{binary}\n" in f"\n{listing}\n", binary
    assert "\ndebs\n" not in listing and "\nunpacked\n" not in listing
    assert "forky" not in sl.run(
        ENGINE.ref, "cat /etc/apt/sources.list.d/engine.list", check=False, entrypoint=[]
    )


def test_the_pod_runs_lessons_01_and_02_against_its_own_engine(built):
    report = smoke(say=lambda line: None)
    assert report.summary.split()[1] == "passed" and int(report.summary.split()[0]) >= 20
    assert report.builds_in_pod_engine >= 1
    assert report.pod_engine_version
    names = [container.name for container in engine.client().containers.list(all=True)]
    assert not [name for name in names if name.startswith("stagelab-smoke-")]


def test_the_dashboard_service_starts_as_configured_and_sends_visitors_to_the_hubs_login(built):
    pod = dashboard_objects()["Deployment"]["spec"]["template"]["spec"]
    (container_spec,) = pod["containers"]
    environment = {
        item["name"]: item.get("value", "a-token-the-chart-would-generate")
        for item in container_spec["env"]
    }
    container = engine.client().containers.run(
        container_spec["image"],
        container_spec["command"],
        detach=True,
        environment=environment,
        labels=labels(SMOKE_KIND),
    )
    try:
        container.reload()
        address = container.attrs["NetworkSettings"]["IPAddress"]
        port = container_spec["ports"][0]["containerPort"]
        opener = urllib.request.build_opener(_NoRedirect)
        request = urllib.request.Request(f"http://{address}:{port}/services/dashboard/")
        location = _when_up(lambda: _redirect_of(opener, request), container)
        assert location.startswith("/hub/api/oauth2/authorize?")
        assert "client_id=service-dashboard" in location
    finally:
        container.remove(force=True)


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, request, fp, code, message, headers, new_url):
        raise _Redirected(headers["Location"])


class _Redirected(Exception):
    pass


def _redirect_of(opener, request) -> str:
    try:
        opener.open(request, timeout=5)
    except _Redirected as redirected:
        return str(redirected)
    raise AssertionError("the dashboard answered without asking for a login")


def _when_up(attempt, container, timeout_s: float = 60):
    """Return attempt()'s answer once the container's server answers (retrying for a while)."""
    deadline = time.monotonic() + timeout_s
    while True:
        try:
            return attempt()
        except (OSError, docker.errors.APIError):
            if time.monotonic() > deadline:
                raise AssertionError(container.logs().decode()[-2000:]) from None
            time.sleep(1)
