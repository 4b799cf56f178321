"""What a lesson shows: claims as evidence, one view per build, readable tables (no engine)."""

import dataclasses
import html

import pytest

import stagelab as sl
from stagelab import BuildFailed, BuildResult, Step, display, progress
from stagelab.dockerfile import Dockerfile
from stagelab.render.html import claim_html, describe, progress_html, summary_html

DOCKERFILE = """\
FROM busybox:1.36 AS greeter
RUN echo hi > /greeting.txt

FROM busybox:1.36
RUN echo x > /unnamed.txt

FROM scratch AS release
COPY --from=greeter /greeting.txt /app/greeting.txt
COPY --from=1 /unnamed.txt /app/unnamed.txt
"""


def result(builder="buildkit", **extra):
    statuses = {"greeter": "built", "1": "built", "release": "built"}
    return BuildResult(
        builder=builder,
        target=None,
        dockerfile=Dockerfile(DOCKERFILE),
        stage_status=statuses,
        steps=[Step("greeter", "RUN echo hi", 2, "built", 0.2, 0.1)],
        image_id="sha256:" + "cd" * 32,
        size_bytes=120,
        duration_s=0.5,
        log="",
        **extra,
    )


# ---------------------------------------------------------------- claims


def test_a_claim_that_holds_shows_as_a_checked_line_and_returns_nothing(capsys):
    assert sl.claim("BuildKit skipped the `test` stage", True, seen={"test": "skipped"}) is None
    assert capsys.readouterr().err == (
        "stagelab: checked: BuildKit skipped the `test` stage (seen: test: skipped)\n"
    )


def test_a_claim_that_does_not_hold_fails_like_assert_naming_what_was_seen(capsys):
    with pytest.raises(sl.ClaimFailed) as failed:
        sl.claim("the image prints hello", "bye\n" == "hello\n", seen="bye\n")
    assert isinstance(failed.value, AssertionError)
    assert "the image prints hello" in str(failed.value) and "'bye\\n'" in str(failed.value)
    assert "does not hold: the image prints hello" in capsys.readouterr().err


def test_seen_values_read_as_text():
    assert describe({"build": "built", "test": "skipped"}) == "build: built, test: skipped"
    assert describe(["/app/a", "/app/b"]) == "/app/a, /app/b"
    assert describe([]) == "none"
    assert describe({"b", "a"}) == "a, b"
    assert describe("hello\n") == "'hello\\n'" and describe("plain") == "plain"
    assert describe(0.25) == "0.25" and describe(None) == "None"
    assert describe("x" * 400).endswith("...") and len(describe("x" * 400)) == 300


def test_claim_html_marks_the_claim_and_shows_code_as_code():
    shown = claim_html("BuildKit skipped `test`", True, "skipped")
    assert "data-holds='true'" in shown and "<code>test</code>" in shown
    assert "checked:" in shown and "seen: <code>skipped</code>" in shown
    assert "does not hold:" in claim_html("x", False, "")


# ---------------------------------------------------------------- one view per build


class Handle:
    def __init__(self):
        self.shown = []

    def update(self, value):
        self.shown.append(value.data)


def test_a_build_shown_by_its_board_is_not_shown_again_as_the_cells_value(monkeypatch):
    handle, displayed = Handle(), []
    monkeypatch.setattr(
        progress.lazy.ipython_display,
        "display",
        lambda *args, **kwargs: handle if kwargs.get("display_id") else displayed.append(args),
    )
    monkeypatch.setattr(progress, "current_cell", lambda: 7)
    board = progress.WidgetProgress()
    built = result()
    board.start(built.dockerfile, "buildkit", None)
    board.finish(built)
    assert f"data-build='{built.number}'" in handle.shown[-1]  # the board became the summary
    progress.show_result(built)
    assert displayed == []  # the same cell: nothing repeats it
    monkeypatch.setattr(progress, "current_cell", lambda: 8)
    progress.show_result(built)
    ((bundle,),) = [args[:1] for args in displayed]
    assert f"data-build='{built.number}'" in bundle["text/html"]  # a later cell shows it


def test_a_failure_its_board_showed_is_not_repeated_as_a_traceback(monkeypatch):
    handle = Handle()
    monkeypatch.setattr(progress.lazy.ipython_display, "display", lambda *args, **kwargs: handle)
    failure = BuildFailed(
        stage="app",
        instruction="RUN greet",
        line=8,
        exit_code=127,
        log_tail="greet: not found",
        result=result(),
    )
    assert "not found" in failure._render_traceback_()[0]
    board = progress.WidgetProgress()
    board.start(failure.result.dockerfile, "buildkit", None)
    board.finish(None, failure)
    assert "Build failed in stage 'app'" in html.unescape(handle.shown[-1])
    assert f"data-build='{failure.result.number}'" in handle.shown[-1]
    assert failure._render_traceback_() == [
        "BuildFailed: Build failed in stage 'app', Dockerfile line 8, exit code 127 (shown above)"
    ]


def test_builds_are_numbered_in_the_order_they_are_made():
    first = result()
    second = dataclasses.replace(first)
    assert second.number == first.number + 1
    assert first == second  # the number tells views apart, not results


# ---------------------------------------------------------------- tables laid out for reading


def test_progress_rows_show_the_whole_step_left_aligned():
    step = "RUN " + "x" * 200
    rows = [progress.StageRow("build", "running", step), progress.StageRow("test", "skipped")]
    board = progress_html("buildkit build", rows, 0.0)
    assert step in board  # not cut off
    assert "text-align:left;white-space:pre-wrap" in board
    assert board.count("<code>") == 1  # no empty code box for a stage with no step


def test_summary_says_why_classic_counts_more_steps():
    assert "classic builder counts every instruction" in summary_html(result("classic"))
    assert "classic builder counts" not in summary_html(result())
    assert "stagelab-note" in sl.timeline(result("classic"), result())._repr_html_()


def test_an_unnamed_stage_has_one_name_everywhere():
    parsed = Dockerfile(DOCKERFILE)
    assert parsed.stage(1).label == parsed.stage(1).ref == "1"
    assert sl.graph(parsed).nodes["1"].label == "1"
    assert "stages: greeter, 1, release" in repr(parsed)


def test_stage_table_lists_each_stage_its_lines_and_what_it_copies():
    table = sl.stage_table(DOCKERFILE)
    assert table.columns == ["stage", "index", "starts", "lines", "copies or mounts from"]
    assert table.rows == [
        ["greeter", 0, "FROM busybox:1.36", "1-2", ""],
        ["1", 1, "FROM busybox:1.36", "4-5", ""],
        ["release", 2, "FROM scratch", "7-9", "greeter (COPY --from), 1 (COPY --from)"],
    ]
    toolbox = sl.stage_table("FROM scratch\nCOPY --from=busybox:1.36 /bin/busybox /busybox\n")
    assert toolbox.rows[0][4] == "busybox:1.36 (COPY --from, an image)"


def test_layers_show_the_base_image_as_one_row(monkeypatch):
    base = [
        {"size": 70_000_000, "instruction": "", "comment": "Imported from -", "layer": True},
        {
            "size": 300_000_000,
            "instruction": "RUN /bin/sh -c apt-get install gcc # buildkit",
            "comment": "buildkit.dockerfile.v0",
            "layer": True,
        },
    ]
    mine = [
        {"size": 0, "instruction": "WORKDIR /src", "comment": "", "layer": True},
        {
            "size": 16_000,
            "instruction": "RUN |1 A=b /bin/sh -c gcc -o /hello hello.c # buildkit",
            "comment": "",
            "layer": True,
        },
        {"size": 0, "instruction": 'CMD ["/hello"]', "comment": "", "layer": False},
    ]
    histories = {"sha256:" + "cd" * 32: base + mine, "stagelab/offline-gcc:12-bookworm": base}
    monkeypatch.setattr(display, "history", histories.__getitem__)
    built = BuildResult(
        builder="buildkit",
        target=None,
        dockerfile=Dockerfile(
            'FROM gcc:12-bookworm\nWORKDIR /src\nRUN gcc -o /hello hello.c\nCMD ["/hello"]\n'
        ),
        stage_status={"0": "built"},
        steps=[],
        image_id="sha256:" + "cd" * 32,
        size_bytes=370_016_000,
        duration_s=1.0,
        log="",
        substitutions={"gcc:12-bookworm": "stagelab/offline-gcc:12-bookworm"},
    )
    table = sl.layers(built)
    assert table.columns == ["#", "size", "layer", "instruction"]
    assert table.rows == [
        [
            1,
            "370.0 MB",
            "2 layers",
            "FROM gcc:12-bookworm (served by the stand-in "
            "stagelab/offline-gcc:12-bookworm): the base image's 2 history entries",
        ],
        [2, "0 B", "yes", "WORKDIR /src"],
        [3, "16.0 kB", "yes", "RUN gcc -o /hello hello.c"],
        [4, "0 B", "no: config only", 'CMD ["/hello"]'],
    ]
    # History entries are not layers: the caption counts both.
    assert table.caption == "5 history entries, 4 layers, 370.0 MB"


def test_layers_say_when_the_engine_cannot_tell(monkeypatch):
    entries = [{"size": 0, "instruction": "RUN true", "comment": "", "layer": None}]
    monkeypatch.setattr(display, "history", lambda image: entries)
    table = sl.layers("some-image")
    assert table.rows == [[1, "0 B", "?", "RUN true"]]
    assert table.caption == "1 history entries, layers unknown, 0 B"


def test_a_listing_numbers_lines_as_the_builders_do():
    text = "\nFROM busybox:1.36 AS build\nRUN true\n\nFROM scratch\nCOPY --from=build / /\n"
    shown = sl.listing(text)
    assert shown.lines == [
        (1, "", ""),
        (2, "build (index 0)", "FROM busybox:1.36 AS build"),
        (3, "", "RUN true"),
        (4, "", ""),
        (5, "1", "FROM scratch"),
        (6, "", "COPY --from=build / /"),
    ]
    assert sl.stage_table(text).rows[1][3] == "5-6"  # the numbers the table uses
    assert repr(shown).splitlines()[1] == "2  FROM busybox:1.36 AS build  # stage build (index 0)"
    assert "&lt;" in sl.listing("FROM busybox:1.36\nRUN echo '<b>'\n")._repr_html_()
