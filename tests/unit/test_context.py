"""The build context: what `files=` may name, empty text, and paths that are not folders."""

import os
import re

import pytest

import stagelab as sl
from stagelab.context import build_request, read_dockerfile
from stagelab.dockerfile.instructions import MAX_DOCKERFILE_BYTES

DOCKERFILE = "FROM busybox:1.36\nCOPY . /ctx\n"


@pytest.mark.parametrize(
    "name",
    [
        "../../somewhere/x.txt",
        "a/../../x.txt",
        "/etc/stagelab-x",
        "..",
        ".",
        "",
        "a\x00b",
        "Dockerfile",
        "./Dockerfile",
    ],
)
def test_file_names_outside_the_context_are_refused_before_anything_is_written(tmp_path, name):
    target = tmp_path / "inside" / "deep"
    target.mkdir(parents=True)
    planted = name.replace("/etc/", str(tmp_path) + "/etc/") if name.startswith("/") else name
    before = sorted(p for p in tmp_path.rglob("*"))
    with pytest.raises(sl.BuildContextError, match="files="):
        with build_request(DOCKERFILE, files={planted: "x", "ok.txt": "fine"}):
            pass
    assert sorted(p for p in tmp_path.rglob("*")) == before


def test_an_absolute_path_never_overwrites_a_file(tmp_path):
    precious = tmp_path / "precious.txt"
    precious.write_text("keep me\n")
    with pytest.raises(sl.BuildContextError, match="outside the build context"):
        with build_request(DOCKERFILE, files={str(precious): "overwritten"}):
            pass
    assert precious.read_text() == "keep me\n"


def test_names_inside_the_context_are_written_there():
    with build_request(
        DOCKERFILE, files={"app/src/main.c": "int main;", "b.bin": b"\x00\x01"}
    ) as request:
        assert (request.context_dir / "app/src/main.c").read_text() == "int main;"
        assert (request.context_dir / "b.bin").read_bytes() == b"\x00\x01"
        assert request.context_dir.name.startswith("stagelab-context-")


@pytest.mark.parametrize("text", ["", "  \n\n"])
def test_empty_dockerfile_text_is_refused(text):
    with pytest.raises(sl.DockerfileError, match="empty"):
        with build_request(text):
            pass


def test_a_path_that_is_no_folder_says_so(tmp_path):
    with pytest.raises(sl.BuildContextError, match="No folder /nonexistent"):
        with build_request("/nonexistent"):
            pass
    (tmp_path / "Dockerfile.dev").write_text("FROM busybox:1.36\n")
    with pytest.raises(sl.BuildContextError, match="is a file: pass its folder"):
        with build_request(str(tmp_path / "Dockerfile.dev")):
            pass


def test_a_one_line_dockerfile_is_text_not_a_path():
    with build_request("FROM busybox:1.36") as request:
        assert request.dockerfile.stages[0].base == "busybox:1.36"
    with build_request("from busybox:1.36") as request:
        assert request.dockerfile.stages[0].base == "busybox:1.36"


@pytest.mark.parametrize(
    "name", ["nope", "sub/nope", "ok/../nope", "~/nope", ".nope", "/no/pe", "sub/a b"]
)
def test_a_one_line_string_that_is_no_dockerfile_text_is_a_missing_folder(name, monkeypatch):
    monkeypatch.chdir(os.path.dirname(__file__))
    with pytest.raises(sl.BuildContextError, match=f"No folder {re.escape(name)}: give"):
        with build_request(name):
            pass


@pytest.mark.parametrize(
    ("text", "said"), [("FORM busybox", "did you mean FROM"), ("# x", "file with no instructions")]
)
def test_one_line_text_with_an_instruction_typo_is_still_dockerfile_text(text, said):
    with pytest.raises(sl.DockerfileError, match=said):
        with build_request(text):
            pass


@pytest.mark.parametrize(
    ("text", "said"),
    [
        # What both builders answer for these files (docker build, BuildKit and classic).
        ("", "the Dockerfile cannot be empty"),
        (" \n\n", "file with no instructions"),
        ("# only a comment\n", "file with no instructions"),
    ],
)
def test_an_empty_dockerfile_gets_a_short_message_at_every_entry(tmp_path, text, said):
    (tmp_path / "Dockerfile").write_text(text)
    for parse in (sl.parse_dockerfile, sl.Dockerfile, sl.listing, sl.stage_table):
        with pytest.raises(sl.DockerfileError, match=f"line 1: {said}"):
            parse(text)
    with pytest.raises(sl.DockerfileError, match=f"line 1: {said}"):
        with build_request(tmp_path):
            pass


def test_a_dockerfile_that_is_not_utf8_names_its_line(tmp_path):
    path = tmp_path / "Dockerfile"
    path.write_bytes(b"FROM busybox:1.36\nRUN echo caf\xe9\n")
    with pytest.raises(sl.DockerfileError, match=r"line 2: .* is not UTF-8"):
        read_dockerfile(path)
    with pytest.raises(sl.DockerfileError, match="line 2"):
        with build_request(tmp_path):
            pass


@pytest.mark.parametrize("name", ["", " ", "A=B"])
def test_a_build_arg_name_that_no_arg_line_can_declare_is_refused(name):
    with pytest.raises(ValueError, match="is no build arg name"):
        with build_request(DOCKERFILE, build_args={name: "x"}):
            pass


def test_a_file_over_the_size_limit_is_refused_before_it_is_read(tmp_path):
    huge = tmp_path / "huge" / "Dockerfile"
    huge.parent.mkdir()
    with huge.open("wb") as sparse:  # 300 MiB that take no disk
        sparse.truncate(300 * 1024 * 1024)
    with pytest.raises(sl.DockerfileError, match=r"is 300\.0 MiB, over stagelab's limit of 1 MiB"):
        read_dockerfile(huge)
    with pytest.raises(sl.DockerfileError, match="over stagelab's limit"):
        with build_request(huge.parent):
            pass


def test_text_over_the_size_limit_is_refused_and_text_at_the_limit_is_read():
    head = "FROM busybox:1.36\nRUN echo hi\n"
    comment = "#" * 1023 + "\n"
    padding = MAX_DOCKERFILE_BYTES - len(head)
    at_limit = head + comment * (padding // 1024) + "#" * (padding % 1024 - 1) + "\n"
    assert len(at_limit) == MAX_DOCKERFILE_BYTES
    assert len(sl.parse_dockerfile(at_limit).stages) == 1
    with pytest.raises(sl.DockerfileError, match=r"text is 1\.0 MiB, over stagelab's limit"):
        sl.parse_dockerfile(at_limit + "\n")
    with pytest.raises(sl.DockerfileError, match=r"Dockerfile text is 1\.0 MiB, over"):
        with build_request(at_limit + "\n"):
            pass
    with pytest.raises(sl.DockerfileError, match="over stagelab's limit"):  # bytes, not characters
        sl.parse_dockerfile(head + "#" + "é" * (MAX_DOCKERFILE_BYTES // 2))
