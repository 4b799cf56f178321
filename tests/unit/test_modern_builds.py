"""Pure logic of issue 19 (no engine): platform plans, named contexts in the planner, where
builds for several platforms go, the second engine's command, and a bake's shared stages.
The engine's side of each is in tests/integration/test_planner_contexts_platforms.py and the
lessons 12-15."""

import pytest

import stagelab as sl
from stagelab import engine, multiplatform
from stagelab.bake_results import BakeResult, SharedStep
from stagelab.dockerfile import machine_platform
from stagelab.errors import DockerfileError
from stagelab.results import BuildResult, Step

CROSS = """\
FROM --platform=$BUILDPLATFORM busybox:1.36 AS build
ARG TARGETARCH
RUN echo $TARGETARCH > /out
FROM busybox:1.36 AS tools
RUN echo tools > /tools
FROM scratch AS bin-amd64
COPY --from=build /out /amd64
FROM scratch AS bin-arm64
COPY --from=build /out /arm64
FROM bin-$TARGETARCH AS final
COPY --from=build /out /final
"""
SHARED = """\
FROM --platform=$BUILDPLATFORM busybox:1.36 AS fetch
RUN echo fetched > /fetched
FROM --platform=$BUILDPLATFORM busybox:1.36 AS build
ARG TARGETARCH
COPY --from=fetch /fetched /fetched
RUN echo $TARGETARCH > /out
FROM scratch
COPY --from=build /out /out
"""
FOREIGN_RUN = "FROM busybox:1.36 AS check\nRUN true\nFROM scratch\nCOPY --from=check / /\n"
REPLACED = """\
FROM busybox:1.36 AS tools
RUN echo tools > /tools
FROM tools AS Deps
RUN echo deps > /deps
FROM busybox:1.36 AS app
COPY --from=deps /deps /deps
"""
BOTH = ["linux/amd64", "linux/arm64"]
BUILD = "linux/amd64"


def _plan(text, platforms=BOTH, **options):
    return sl.parse_dockerfile(text).platform_plan(
        platforms=platforms, build_platform=BUILD, **options
    )


def test_each_platform_runs_its_own_stage_chosen_by_targetarch():
    plan = _plan(CROSS)
    assert plan.stages("linux/amd64") == ["build", "bin-amd64", "final"]
    assert plan.stages("linux/arm64") == ["build", "bin-arm64", "final"]


def test_a_build_platform_stage_runs_on_the_build_machine_for_every_target():
    plan = _plan(CROSS)
    assert plan.runs_on("linux/arm64", "build") == BUILD
    assert plan.runs_on("linux/arm64", "final") == "linux/arm64"
    with pytest.raises(KeyError):
        plan.runs_on("linux/arm64", "tools")


def test_a_stage_declaring_targetarch_runs_per_platform_and_one_without_once():
    plan = _plan(SHARED)
    assert "fetch" in plan.shared and "build" not in plan.shared
    assert plan.times_run("fetch") == 1 and plan.times_run("build") == 2
    assert plan.describe("fetch") == f"once, on {BUILD}"
    assert plan.describe("build") == f"on {BUILD} for amd64, arm64"


def test_the_platform_args_have_their_values_per_platform():
    args = _plan(CROSS).args["linux/arm64"]
    assert args["TARGETPLATFORM"] == "linux/arm64" and args["TARGETARCH"] == "arm64"
    assert args["BUILDPLATFORM"] == BUILD and args["BUILDARCH"] == "amd64"


def test_a_run_in_a_stage_of_another_cpu_needs_an_emulator():
    assert _plan(FOREIGN_RUN).needs_emulator() == {"linux/amd64": [], "linux/arm64": ["check"]}
    assert _plan(CROSS).needs_emulator() == {"linux/amd64": [], "linux/arm64": []}


def test_a_stage_replaced_by_a_context_does_not_run_nor_what_only_it_needed():
    parsed = sl.parse_dockerfile(REPLACED)
    assert parsed.plan() == ["tools", "deps", "app"]
    assert parsed.plan(contexts=["deps"]) == ["app"]
    edges = {(edge.source, edge.child) for edge in parsed.edges(contexts=["deps"])}
    assert ("context deps", "app") in edges
    assert parsed.images(contexts=["busybox:1.36"]) == []


def test_the_classic_builder_refuses_named_contexts():
    parsed = sl.parse_dockerfile(REPLACED)
    refs, refusal = parsed.attempt(builder="classic", contexts=["deps"])
    assert refs == [] and "--build-context" in str(refusal)
    with pytest.raises(DockerfileError):
        parsed.plan(builder="classic", contexts=["deps"])


@pytest.mark.parametrize(
    ("platforms", "caches", "needed"),
    [
        ([], [], False),
        ([machine_platform()], [], False),
        (BOTH, [], True),
        (["linux/s390x"], [], True),
        ([], ["type=local,dest=/tmp/c"], True),
    ],
)
def test_what_needs_the_containerd_image_store(platforms, caches, needed):
    assert multiplatform.needs_containerd_store(platforms, caches) is needed


def test_the_second_engine_runs_in_its_own_network_namespace(tmp_path):
    """A second dockerd in the host's namespace would take over the host's docker0."""
    paths = multiplatform.PlatformEnginePaths(tmp_path / "home", tmp_path / "run", tmp_path / "l")
    command = paths.dockerd_command(tmp_path / "bin")
    assert command[:2] == ["unshare", "--net"]
    for option in ("--data-root", "--exec-root", "--pidfile", "--host", "--config-file"):
        assert option in command
    assert str(tmp_path / "home" / "docker") in command
    assert paths.host == f"unix://{tmp_path / 'run' / 'docker.sock'}"


def test_the_second_engines_paths_move_with_the_environment(tmp_path):
    paths = multiplatform.PlatformEnginePaths.from_environment(
        {
            multiplatform.PLATFORM_HOME_ENV: str(tmp_path / "h"),
            multiplatform.PLATFORM_RUN_ENV: str(tmp_path / "r"),
        }
    )
    assert (paths.home, paths.run, paths.log) == (
        tmp_path / "h",
        tmp_path / "r",
        tmp_path / "h" / "dockerd.log",
    )


def _result(stages):
    steps = [Step(stage, instruction, None, "built", 0.1) for stage, instruction in stages]
    refs = dict.fromkeys(stage for stage, _ in stages)
    return BuildResult(
        "buildkit",
        None,
        sl.parse_dockerfile(FOREIGN_RUN),
        dict.fromkeys(refs, "built"),
        steps,
        None,
        None,
        1.0,
        "",
    )


def test_a_bake_shares_a_stage_only_when_the_stage_has_steps_of_its_own():
    """Two targets that copy alike from a shared stage share those COPY steps too; the stage
    of the second target (which the first target never ran) is not a shared stage."""
    app = _result([("dictionary", "RUN sort"), ("app", "COPY --from=dictionary"), ("app", "RUN a")])
    tests = _result(
        [("dictionary", "RUN sort"), ("tests", "COPY --from=dictionary"), ("tests", "RUN t")]
    )
    shared = [
        SharedStep("dictionary", "RUN sort", ("app", "tests"), "built"),
        SharedStep("tests", "COPY --from=dictionary", ("app", "tests"), "built"),
    ]
    baked = BakeResult({"app": app, "tests": tests}, shared, 1.0)
    assert baked.shared_stages() == {"dictionary": ["app", "tests"]}


def test_the_doctor_finds_only_enabled_emulators(tmp_path):
    """binfmt_misc's folder: `register` and `status` are its own files, an entry says whether
    it is enabled on its first line (Documentation/admin-guide/binfmt-misc.rst)."""
    assert engine.emulators(tmp_path / "not-mounted") == []
    (tmp_path / "register").write_text("")
    (tmp_path / "status").write_text("enabled\n")
    (tmp_path / "qemu-aarch64").write_text("enabled\ninterpreter /usr/bin/qemu-aarch64\n")
    (tmp_path / "qemu-s390x").write_text("disabled\ninterpreter /usr/bin/qemu-s390x\n")
    assert engine.emulators(tmp_path) == ["qemu-aarch64"]
