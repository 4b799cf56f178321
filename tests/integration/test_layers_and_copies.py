"""On the real engine, both builders: which history entries are layers, what each builder
leaves in the image list, copying files out of an image, and host folders in a run."""

import os

import pytest

import stagelab as sl
from stagelab import containers, engine, recording

pytestmark = pytest.mark.engine
BUILDERS = ["buildkit", "classic"]

STEPS = """\
FROM busybox:1.36 AS build
LABEL {label}
RUN echo one > /one.txt
ENV A=1
WORKDIR /src
RUN true
WORKDIR /src
COPY --from=busybox:1.36 /bin/busybox /bb-copy
CMD ["cat", "/one.txt"]

FROM busybox:1.36 AS release
LABEL {label}
COPY --from=build /one.txt /one.txt
"""


@pytest.fixture(scope="module")
def busybox(docker_engine) -> str:
    """An image with busybox's shell, made by a build (the engine may have only its stand-in)."""
    return sl.build("FROM busybox:1.36\n", progress=False).image_id


def saved_flags(image: str) -> list[bool]:
    return containers._saved_layer_flags(image, len(sl.history(image)))


@pytest.mark.parametrize("builder", BUILDERS)
def test_history_says_which_entries_are_layers_as_the_image_config_does(docker_engine, builder):
    label = f"stagelab.test.layers={sl.unique('test layers')}{builder}"
    built = sl.build(STEPS.format(label=label), builder=builder, target="build", progress=False)
    history = sl.history(built.image_id)
    flags = [entry["layer"] for entry in history]
    assert flags == saved_flags(built.image_id)  # exact: the config's empty_layer
    image = engine.client().api.inspect_image(built.image_id)
    assert sum(flags) == len(image["RootFS"]["Layers"])
    words = [
        entry["instruction"].replace("#(nop)", "").removesuffix(" # buildkit").split()
        for entry in history
    ]
    config_only = [
        entry["layer"] for entry, w in zip(history, words) if w[0] in ("ENV", "LABEL", "CMD")
    ]
    assert config_only and not any(config_only)
    changed_nothing = [entry["layer"] for entry, w in zip(history, words) if w[-1] == "true"]
    # BuildKit keeps a layer for a RUN that changed nothing; the classic builder does not.
    assert changed_nothing == [builder == "buildkit"], history


@pytest.mark.parametrize("builder", BUILDERS)
def test_only_the_classic_builder_leaves_images_of_the_other_stages(docker_engine, builder):
    label = f"stagelab.test.stages={sl.unique('test stage images')}{builder}"
    built = sl.build(STEPS.format(label=label), builder=builder, progress=False)
    listed = sl.image_list(label)
    every = sl.image_list(label, all_images=True)
    if builder == "buildkit":
        assert [row[0] for row in listed.rows] == [built.image_id[7:19]]
        assert len(every.rows) == 1
    else:
        # The output, and the untagged image the build stage ended with.
        assert len(listed.rows) == 2 and built.image_id[7:19] in [row[0] for row in listed.rows]
        assert all(row[1] == "<none>" for row in listed.rows)
        assert len(every.rows) > len(listed.rows)  # every step's image, with --all


def test_copy_out_copies_a_file_from_a_created_container(docker_engine, tmp_path):
    built = sl.build("FROM busybox:1.36\nRUN mkdir /out && echo hi > /out/a.txt\n", progress=False)
    written = sl.copy_out(built.image_id, "/out", tmp_path / "dest")
    assert written == ["out/a.txt"]
    assert (tmp_path / "dest" / "out" / "a.txt").read_text() == "hi\n"
    with pytest.raises(sl.StagelabError, match="not in the image"):
        sl.copy_out(built.image_id, "/nowhere", tmp_path / "dest")


def test_a_run_reads_and_writes_host_folders_and_each_run_starts_fresh(busybox, tmp_path):
    source, out = tmp_path / "src", tmp_path / "out"
    source.mkdir()
    out.mkdir()
    (source / "in.txt").write_text("data\n")
    (out / "kept.txt").write_text("mine\n")
    command = "sh -c 'cat /src/in.txt > /out/copy.txt; echo scratch > /note; ls /out'"
    printed = sl.run(busybox, command, folders={"/src": source, "/out": out})
    assert printed.split() == ["copy.txt", "kept.txt"]
    assert (out / "copy.txt").read_text() == "data\n" and (out / "kept.txt").read_text() == "mine\n"
    code, _ = sl.run_status(busybox, "test -e /note")
    assert code == 1  # a new container: nothing of the last run's writes outside the folders
    with pytest.raises(sl.StagelabError, match="absolute"):
        sl.run(busybox, "true", folders={"out": out})


def test_run_status_runs_the_default_command_or_replaces_the_entry_point(docker_engine):
    script = '#!/bin/sh\necho "entry point: $*"\nexit 4\n'
    dockerfile = (
        'FROM busybox:1.36\nCOPY --chmod=755 entry.sh /entry.sh\nENTRYPOINT ["/entry.sh"]\n'
    )
    image = sl.build(dockerfile, files={"entry.sh": script}, progress=False).image_id
    assert sl.run_status(image) == (4, "entry point: \n")
    assert sl.run_status(image, "a b") == (4, "entry point: a b\n")
    assert sl.run_status(image, "echo replaced", entrypoint=[]) == (0, "replaced\n")


def test_a_recorded_run_with_folders_replays_what_it_wrote(busybox, tmp_path, monkeypatch):
    monkeypatch.setenv("STAGELAB_RECORD", "1")
    monkeypatch.setenv("STAGELAB_RECORDINGS", str(tmp_path / "recordings"))
    out = tmp_path / "out"
    out.mkdir()
    command = "sh -c 'echo made > /out/made.txt'"
    sl.run(busybox, command, folders={"/out": out})
    assert (out / "made.txt").read_text() == "made\n"
    (out / "made.txt").unlink()
    monkeypatch.setattr(engine, "answers", lambda: False)
    recording._takes_replayed.clear()
    sl.run(busybox, command, folders={"/out": out})
    assert (out / "made.txt").read_text() == "made\n"
    assert os.listdir(out) == ["made.txt"]


def test_a_container_given_the_engine_asks_it_and_an_engine_that_cannot_see_the_client_says_so(
    busybox, tmp_path, monkeypatch
):
    """engine_access mounts the socket and the CLI; an engine that does not see the client's
    file (as one in a container of its own) refuses the mount, and stagelab says why."""
    code, printed = sl.run_status(busybox, ["ls", "-l", engine.SOCKET_INSIDE], engine_access=True)
    assert code == 0 and printed.startswith("s"), printed
    assert "DOCKER_HOST=unix://" + engine.SOCKET_INSIDE in sl.run(
        busybox, ["env"], engine_access=True
    )
    missing = tmp_path / "no-such-docker-cli"
    monkeypatch.setattr(engine.shutil, "which", lambda name: str(missing))
    with pytest.raises(sl.StagelabError, match="does not see this machine's files"):
        sl.run(busybox, ["true"], engine_access=True)
    assert not missing.exists()
