"""The `docker buildx build` command builder: each keyword becomes its flag (pure logic); the
classic builder's `DOCKER_BUILDKIT=0 docker build` beside it; commands as shell text."""

import itertools
import subprocess
from pathlib import Path

import pytest

from stagelab import engine
from stagelab.command_lines import (
    CALL_METHODS,
    PROGRESS_MODES,
    buildx_build_command,
    classic_build_command,
    docker_image,
    image_contexts,
    shell_text,
)

# Every keyword at once, with the flags it must give (buildx's own spellings and formats).
EVERY_FLAG = dict(
    file=Path("/ctx/Dockerfile.dev"),
    target="test",
    platforms=["linux/amd64", "linux/arm64"],
    build_args={"MODE": "dev", "EMPTY": ""},
    build_contexts={"extra": Path("/extra"), "busybox:1.36": docker_image("mirror/busybox:1.36")},
    secrets=[{"id": "token", "src": "/run/token"}, "id=key,env=KEY"],
    cache_from="type=local,src=/cache",
    cache_to={"type": "local", "dest": "/cache", "mode": "max"},
    no_cache=True,
    output={"type": "local", "dest": "/out"},
    labels={"org.example.kind": "demo"},
    tags=["demo:1", "demo:latest"],
    iidfile=Path("/tmp/iid"),
    progress="plain",
    call="check,format=json",
    check=True,
)


def pairs(command: list[str]) -> list[tuple[str, str]]:
    return list(itertools.pairwise(command))


def test_no_keywords_is_a_plain_build_of_the_context():
    assert buildx_build_command("/ctx") == ["docker", "buildx", "build", "/ctx"]
    assert buildx_build_command(Path("/ctx"))[-1] == "/ctx"


def test_every_keyword_becomes_its_flag_in_one_order_ending_in_the_context():
    assert buildx_build_command("/ctx", **EVERY_FLAG) == [
        "docker",
        "buildx",
        "build",
        "--call=check,format=json",
        "--check",
        "--progress=plain",
        "-f",
        "/ctx/Dockerfile.dev",
        "--target",
        "test",
        "--platform",
        "linux/amd64,linux/arm64",
        "--build-arg",
        "MODE=dev",
        "--build-arg",
        "EMPTY=",
        "--build-context",
        "extra=/extra",
        "--build-context",
        "busybox:1.36=docker-image://mirror/busybox:1.36",
        "--secret",
        "id=token,src=/run/token",
        "--secret",
        "id=key,env=KEY",
        "--cache-from",
        "type=local,src=/cache",
        "--cache-to",
        "type=local,dest=/cache,mode=max",
        "--no-cache",
        "--output",
        "type=local,dest=/out",
        "--label",
        "org.example.kind=demo",
        "-t",
        "demo:1",
        "-t",
        "demo:latest",
        "--iidfile",
        "/tmp/iid",
        "/ctx",
    ]


def test_one_value_or_several():
    one = buildx_build_command(
        "/ctx", platforms="linux/arm64", tags="demo:1", output="type=tar,dest=out.tar"
    )
    assert ("--platform", "linux/arm64") in pairs(one)
    assert ("-t", "demo:1") in pairs(one) and one.count("-t") == 1
    assert ("--output", "type=tar,dest=out.tar") in pairs(one)
    several = buildx_build_command(
        "/ctx",
        output=["type=local,dest=a", {"type": "tar", "dest": "b.tar"}],
        cache_from=["type=local,src=a", {"type": "registry", "ref": "r/app:cache"}],
    )
    assert [b for a, b in pairs(several) if a == "--output"] == [
        "type=local,dest=a",
        "type=tar,dest=b.tar",
    ]
    assert [b for a, b in pairs(several) if a == "--cache-from"] == [
        "type=local,src=a",
        "type=registry,ref=r/app:cache",
    ]


def test_a_spec_given_as_fields_quotes_a_comma_or_quote_as_buildx_reads_csv():
    command = buildx_build_command(
        "/ctx",
        secrets={"id": "ca", "src": "/certs/a,b.pem"},
        output={"type": "local", "dest": 'my "out"'},
    )
    assert ("--secret", 'id=ca,"src=/certs/a,b.pem"') in pairs(command)
    assert ("--output", 'type=local,"dest=my ""out"""') in pairs(command)


def test_values_stay_one_word_each_whatever_they_hold():
    command = buildx_build_command(
        "/ctx",
        build_args={"GREETING": "hello world; rm -rf / $(id)"},
        labels={"note": "a=b\nc"},
        target="--no-cache",
    )
    assert ("--build-arg", "GREETING=hello world; rm -rf / $(id)") in pairs(command)
    assert ("--label", "note=a=b\nc") in pairs(command)
    assert ("--target", "--no-cache") in pairs(command)
    assert command.count("--no-cache") == 1, "a value is never a flag of its own"


@pytest.mark.parametrize(
    "keywords, message",
    [
        ({"build_args": {"": "x"}}, "build arg name ''"),
        ({"build_args": {"A=B": "x"}}, "build arg name 'A=B'"),
        ({"labels": {"k=v": "x"}}, "label name 'k=v'"),
        ({"build_contexts": {"": "/x"}}, "build context name ''"),
        ({"progress": "fancy"}, "'fancy' is not one of"),
        ({"call": "lint"}, "'lint' is no method of --call"),
        ({"secrets": [""]}, "--secret: an empty spec"),
        ({"output": {}}, "--output: an empty spec"),
    ],
)
def test_bad_keywords_are_refused_with_what_to_give(keywords, message):
    with pytest.raises(ValueError, match=message.replace("(", r"\(")):
        buildx_build_command("/ctx", **keywords)


@pytest.mark.parametrize("mode", PROGRESS_MODES)
def test_each_progress_mode(mode):
    assert f"--progress={mode}" in buildx_build_command("/ctx", progress=mode)


@pytest.mark.parametrize("method", CALL_METHODS)
def test_each_call_method(method):
    assert f"--call={method},format=json" in buildx_build_command(
        "/ctx", call=f"{method},format=json"
    )


def test_stand_ins_come_in_as_named_image_contexts_written_in_one_place():
    contexts = image_contexts({"busybox:1.36": "stagelab/offline-busybox:1.36"})
    assert contexts == {"busybox:1.36": "docker-image://stagelab/offline-busybox:1.36"}
    assert image_contexts({}) == {}
    command = buildx_build_command("/ctx", build_contexts=contexts)
    assert ("--build-context", "busybox:1.36=docker-image://stagelab/offline-busybox:1.36") in (
        pairs(command)
    )


def test_feature_probes_are_builder_keywords():
    for name, (_text, flags) in engine.FEATURE_PROBES.items():
        command = buildx_build_command(".", progress="quiet", **flags)
        assert command[:3] == ["docker", "buildx", "build"] and command[-1] == ".", name
        assert "--progress=quiet" in command, name
    checks = buildx_build_command(".", **engine.FEATURE_PROBES["--check"][1])
    assert "--check" in checks
    named = buildx_build_command(".", **engine.FEATURE_PROBES["named contexts"][1])
    assert ("--build-context", "extra=.") in pairs(named)


# ---------------------------------------------------------------- the classic builder's command


def test_the_classic_command_is_docker_build_with_buildkit_off():
    command = classic_build_command(
        "/ctx",
        file="/ctx/Dockerfile.dev",
        target="build",
        build_args={"MODE": "dev mode"},
        no_cache=True,
        labels={"io.stagelab.kind": "build"},
        tags="app:1",
        force_rm=True,
        iidfile="/tmp/iid",
    )
    assert command == [
        "DOCKER_BUILDKIT=0", "docker", "build", "-f", "/ctx/Dockerfile.dev", "--target", "build",
        "--build-arg", "MODE=dev mode", "--no-cache", "--force-rm",
        "--label", "io.stagelab.kind=build", "-t", "app:1", "--iidfile", "/tmp/iid", "/ctx",
    ]  # fmt: skip
    assert classic_build_command("/ctx") == ["DOCKER_BUILDKIT=0", "docker", "build", "/ctx"]
    with pytest.raises(ValueError, match="build arg name"):
        classic_build_command("/ctx", build_args={"": "x"})


@pytest.mark.parametrize("multiline", [False, True])
def test_shell_text_reads_back_into_the_same_words(multiline):
    command = classic_build_command(
        "/ctx dir", build_args={"A": "it's $HOME; rm -rf /"}, labels={"k": 'a "b"'}, tags="t"
    )
    text = shell_text(command, multiline=multiline)
    assert text.startswith("DOCKER_BUILDKIT=0 docker build")
    assert ("\\\n  --build-arg" in text) is multiline
    # bash runs it with `docker` standing for a printf of its words: the same words come back.
    done = subprocess.run(
        ["bash", "-c", f'docker() {{ printf "%s\\n" "$DOCKER_BUILDKIT" "$@"; }}; {text}'],
        capture_output=True,
        text=True,
        check=True,
    )
    assert done.stdout.splitlines() == ["0"] + command[2:]
