"""Stage graph, timeline, tables and progress boards from hand-made results (no engine)."""

import html
import io
import re
import shutil
import types

import pytest

import stagelab as sl
from stagelab import BuildFailed, BuildResult, Step, builds, magic, progress
from stagelab.dockerfile import Dockerfile
from stagelab.progress import Progress
from stagelab.render import graphs
from stagelab.render.html import human_size, progress_html, summary_html
from stagelab.states import COLORS as STATUS_COLORS

DOCKERFILE = """\
FROM busybox:1.36 AS base
RUN echo base > /base.txt

FROM base AS build
RUN --mount=type=bind,from=base,target=/b cp /b/base.txt /app.txt

FROM busybox:1.36 AS test
RUN echo testing

FROM scratch AS final
COPY --from=build /app.txt /app.txt
COPY --from=busybox:1.36 /bin/busybox /busybox
"""


def result(
    builder="buildkit", target=None, statuses=None, steps=(), duration=2.0, size=2_000_000, **extra
):
    parsed = Dockerfile(DOCKERFILE)
    statuses = statuses or {"base": "built", "build": "cached", "test": "skipped", "final": "built"}
    return BuildResult(
        builder=builder,
        target=target,
        dockerfile=parsed,
        stage_status=statuses,
        steps=list(steps),
        image_id="sha256:" + "ab" * 32,
        size_bytes=size,
        duration_s=duration,
        **{"log": "", **extra},
    )


def edge_kinds(graph):
    return {(e.source, e.child, e.kind) for e in graph.edges}


def test_graph_nodes_are_stages_and_external_images():
    graph = sl.graph(DOCKERFILE)
    stages = [n.ref for n in graph.nodes.values() if n.kind == "stage"]
    images = [n.ref for n in graph.nodes.values() if n.kind == "image"]
    assert stages == ["base", "build", "test", "final"]
    assert images == ["busybox:1.36"]  # scratch is no image


def test_graph_edge_kinds():
    assert edge_kinds(sl.graph(DOCKERFILE)) == {
        ("busybox:1.36", "base", "from"),
        ("base", "build", "from"),
        ("base", "build", "mount"),
        ("busybox:1.36", "test", "from"),
        ("build", "final", "copy"),
        ("busybox:1.36", "final", "copy"),
    }


def test_graph_highlights_target_and_what_the_plan_needs():
    graph = sl.graph(DOCKERFILE)
    assert graph.target == "final"
    assert graph.highlighted == {"base", "build", "final"}
    assert graph.nodes["final"].target and not graph.nodes["build"].target
    assert graph.nodes["test"].fill == "#ffffff"
    assert graph.nodes["build"].fill == graphs.PLANNED_FILL
    assert graph.nodes["busybox:1.36"].fill == graphs.IMAGE_FILL


def test_graph_plan_depends_on_target_and_builder():
    assert sl.graph(DOCKERFILE, target="test").highlighted == {"test"}
    # The classic builder has no RUN --mount: it runs base, then refuses build's line 5.
    classic = sl.graph(DOCKERFILE, target="test", builder="classic")
    assert classic.highlighted == {"base", "build"}
    assert classic.refusal.line == 5 and "--mount" in str(classic.refusal)
    assert sl.graph(
        DOCKERFILE.replace("RUN --mount=type=bind,from=base,target=/b cp /b/", "RUN cp /"),
        target="test",
        builder="classic",
    ).highlighted == {"base", "build", "test"}


def test_graph_accepts_a_parsed_dockerfile_and_build_args():
    text = "ARG BASE=busybox:1.36\nFROM ${BASE} AS one\nFROM one\n"
    graph = sl.graph(Dockerfile(text), build_args={"BASE": "debian:bookworm-slim"})
    assert ("debian:bookworm-slim", "one", "from") in edge_kinds(graph)


def test_result_graph_colours_nodes_by_status():
    graph = result().graph()
    assert graph.statuses == {
        "base": "built",
        "build": "cached",
        "test": "skipped",
        "final": "built",
    }
    assert graph.nodes["base"].fill == STATUS_COLORS["built"]
    assert graph.nodes["build"].fill == STATUS_COLORS["cached"]
    assert graph.nodes["test"].fill == STATUS_COLORS["skipped"]
    failed = result(
        statuses={"base": "failed", "build": "skipped", "test": "skipped", "final": "skipped"}
    ).graph()
    assert failed.nodes["base"].fill == STATUS_COLORS["failed"]


@pytest.mark.skipif(shutil.which("dot") is None, reason="graphviz's dot is not installed")
def test_graph_renders_inline_svg_with_legend():
    graph = result().graph()
    svg = html.unescape(graph.svg)
    assert svg.startswith("<svg") and svg.rstrip().endswith("</svg>")
    for word in (
        "base",
        "build",
        "final (target)",
        "busybox:1.36",
        "cached",
        "skipped",
        "COPY --from",
    ):
        assert word in svg
    assert graph._repr_html_().startswith("<div class='stagelab-graph'><svg")
    assert "stroke-dasharray" in svg  # dashed and dotted edges


def test_timeline_rows_follow_each_builds_steps():
    buildkit = result(
        steps=[
            Step("base", "RUN echo base", 2, "built", 0.5, 0.1),
            Step("test", "RUN echo testing", 8, "built", 0.4, 0.1),
            Step("final", "COPY --from=build", 10, "built", 0.1, 1.0),
        ],
        duration=1.2,
    )
    classic = result(
        "classic",
        steps=[
            Step("base", "FROM busybox:1.36 AS base", 1, "cached", 0.0, 0.0),
            Step("base", "RUN echo base", 2, "built", 0.5, 0.0),
            Step("test", "RUN echo testing", 8, "built", 0.4, 0.5),
        ],
        duration=3.0,
    )
    chart = sl.timeline(buildkit, classic)
    assert chart.labels == ["buildkit", "classic"]
    rows = [(r.build, r.stage, r.start, r.end) for r in chart.rows]
    assert rows[:3] == [
        ("buildkit", "base", 0.1, 0.6),
        ("buildkit", "test", 0.1, 0.5),
        ("buildkit", "final", 1.0, 1.1),
    ]
    assert rows[3:] == [
        ("classic", "base", 0.0, 0.0),
        ("classic", "base", 0.0, 0.5),
        ("classic", "test", 0.5, 0.9),
    ]
    assert chart.span == 3.0  # one time axis: the longest build
    assert chart.svg.count('id="stagelab-step-') == 6
    assert chart.lanes("buildkit") == ["base", "build", "test", "final"]


def test_timeline_labels():
    one, two = result(), result()
    assert sl.timeline(one, two).labels == ["1. buildkit", "2. buildkit"]
    assert sl.timeline(one, two, labels=["cold", "warm"]).labels == ["cold", "warm"]
    assert sl.timeline({"a": one, "b": two}).labels == ["a", "b"]
    with pytest.raises(ValueError):
        sl.timeline(one, labels=["a", "b"])


def test_compare_gives_one_row_per_stage_and_one_column_per_build():
    table = sl.compare(
        {
            "classic": result(
                "classic",
                statuses={"base": "built", "build": "built", "test": "built", "final": "built"},
            ),
            "BuildKit": result(),
        }
    )
    assert table.columns == ["stage", "classic", "BuildKit"]
    assert table.rows == [
        ["base", "built", "built"],
        ["build", "built", "cached"],
        ["test", "built", "skipped"],
        ["final", "built", "built"],
    ]
    assert "stagelab-compare" in table._repr_html_()
    assert "skipped" in repr(table)


def test_sizes_from_results():
    chart = sl.sizes({"small": result(size=2_000_000), "big": result(size=80_000_000)})
    assert [(r.label, r.size) for r in chart.rows] == [("small", 2_000_000), ("big", 80_000_000)]
    assert "80.0 MB" in chart.svg and "2.0 MB" in chart.svg
    with pytest.raises(ValueError):
        sl.sizes({"none": result(size=None)})


def test_human_size():
    assert [human_size(n) for n in (0, 999, 1500, 2_000_000, 3_100_000_000)] == [
        "0 B",
        "999 B",
        "1.5 kB",
        "2.0 MB",
        "3.1 GB",
    ]


def test_summary_shows_stages_steps_seconds_and_size():
    done = result(steps=[Step("base", "RUN echo base", 2, "built", 0.5, 0.1)])
    text = summary_html(done)
    assert "stagelab-summary" in text and "2.0 MB" in text and "0.5" in text
    assert done._repr_html_() == text
    replayed = summary_html(result(replayed=True, recorded_engine="28.5.2"))
    assert "replayed" in replayed and "28.5.2" in replayed


class Recording(progress.BoardProgress):
    def __init__(self):
        super().__init__()
        self.seen = []

    def changed(self, row):
        self.seen.append((row.ref, row.state))


def test_board_starts_planned_stages_waiting_and_ends_from_the_result():
    board = Recording()
    board.start(Dockerfile(DOCKERFILE), "buildkit", None)
    assert {r.ref: r.state for r in board.rows.values()} == {
        "base": "waiting",
        "build": "waiting",
        "test": "skipped",
        "final": "waiting",
    }
    board.stage("base", "running", "[base 1/2] RUN echo base")
    board.stage("base", "done", "[base 1/2] RUN echo base")
    board.stage("build", "running", "[build 1/2] RUN ...")
    assert board.seen == [("base", "running"), ("base", "done"), ("build", "running")]
    board.finish(result(steps=[Step("base", "RUN echo base", 2, "built", 0.5, 0.1)]))
    assert {r.ref: r.state for r in board.rows.values()} == {
        "base": "done",
        "build": "cached",
        "test": "skipped",
        "final": "done",
    }
    assert board.rows["base"].elapsed(0) == 0.5


def test_board_marks_the_failed_stage():
    board = Recording()
    board.start(Dockerfile(DOCKERFILE), "classic", None)
    board.stage("base", "running", "RUN echo base")
    error = BuildFailed(
        stage="base", instruction="RUN echo base", line=2, exit_code=1, log_tail="boom"
    )
    board.finish(None, error)
    assert board.rows["base"].state == "failed"
    assert board.rows["final"].state == "skipped"
    assert "Build failed in stage 'base'" in board.error_text()


def test_replayed_result_without_events_fills_the_board():
    board = Recording()
    board.finish(result(replayed=True))
    assert board.started and board.rows["test"].state == "skipped"


def test_terminal_progress_prints_transitions_and_summary():
    out = io.StringIO()
    terminal = progress.TerminalProgress(out)
    terminal.start(Dockerfile(DOCKERFILE), "buildkit", None)
    terminal.stage("base", "running", "[base 1/2] RUN echo base")
    terminal.finish(result())
    text = out.getvalue()
    assert "stages base, build, final" in text
    assert "base" in text and "running" in text
    assert "image ababababab" in text and "2.0 MB" in text


def test_auto_progress_is_silent_without_kernel_or_terminal(monkeypatch):
    monkeypatch.setattr(progress.sys, "stderr", io.StringIO())
    assert type(progress.auto_progress()) is Progress


def test_progress_html_has_one_row_per_stage():
    board = Recording()
    board.start(Dockerfile(DOCKERFILE), "buildkit", None)
    text = progress_html("h", board.rows.values(), 0.0)
    assert text.count("class='stagelab-progress-row'") == 4


def test_auto_progress_uses_widgets_in_a_kernel(monkeypatch):
    monkeypatch.setattr(progress, "in_kernel", lambda: True)
    assert isinstance(progress.auto_progress(), progress.WidgetProgress)


class Shell:
    def __init__(self):
        self.user_ns = {}


def test_magic_options():
    options = magic.parse_options(
        "--target build --builder classic --tag demo:1 "
        "--build-arg A=1 --build-arg B='two words' --no-cache "
        "--name out"
    )
    assert (options.target, options.builder, options.tag, options.no_cache, options.name) == (
        "build",
        "classic",
        "demo:1",
        True,
        "out",
    )
    assert options.build_arg == ["A=1", "B=two words"]
    with pytest.raises(sl.StagelabError, match="usage"):
        magic.parse_options("--builder podman")
    with pytest.raises(sl.StagelabError, match="not a Python name"):
        magic.parse_options("--name 1x")


def test_magic_shows_errors_as_short_messages(capsys):
    shell = Shell()
    assert magic.dockerfile_magic("--name out", "RUN echo no FROM\n", shell) is None
    err = capsys.readouterr().err
    assert err.startswith("DockerfileError: Dockerfile line 1:") and "Traceback" not in err
    assert shell.user_ns == {}
    magic.dockerfile_magic("--build-arg NOEQUALS", "FROM busybox:1.36\n", shell)
    assert "KEY=VALUE" in capsys.readouterr().err


def test_magic_builds_the_cell_and_stores_the_result(monkeypatch):
    calls = []

    def fake_build(context, **options):
        calls.append((context, options))
        return "the result"

    monkeypatch.setattr(builds, "build", fake_build)
    shell = Shell()
    magic.dockerfile_magic("--target build --build-arg A=1 --name out", "FROM x AS build\n", shell)
    ((context, options),) = calls
    assert context == "FROM x AS build\n"
    assert options["target"] == "build" and options["build_args"] == {"A": "1"}
    assert options["builder"] == "buildkit" and options["no_cache"] is False
    assert shell.user_ns == {"out": "the result"}


def test_extension_registers_the_cell_magic():
    registered = {}

    class FakeIPython:
        def register_magic_function(self, function, magic_kind, magic_name):
            registered[(magic_kind, magic_name)] = function

    sl.load_ipython_extension(FakeIPython())
    assert ("cell", "dockerfile") in registered


def test_graph_without_dot_says_how_to_get_it(monkeypatch):
    monkeypatch.setenv("PATH", "/nonexistent")
    with pytest.raises(sl.ProvisionError, match="stagelab setup"):
        _ = sl.graph(DOCKERFILE).svg


def test_the_legend_lists_only_what_the_picture_holds():
    plain = sl.graph("FROM scratch AS a\nCOPY x /x\nFROM scratch\nCOPY --from=a /x /x\n")
    legend = plain._legend()
    assert "COPY --from" in legend
    for absent in ("FROM stage", "RUN --mount", "ONBUILD", ">image<"):
        assert absent not in legend
    with_image = sl.graph("FROM busybox:1.36 AS a\nFROM a\n")._legend()
    assert "FROM stage" in with_image and ">image<" in with_image
    assert "COPY --from" not in with_image
    built = result().graph()._legend()
    assert "failed" not in built and "skipped" in built


def test_summary_folds_away_the_command_and_the_engines_log():
    command = ["docker", "buildx", "build", "--target", "final", "--build-arg", "A=<b>", "/ctx"]
    log = "\n".join(f"line {n} <tag>" for n in range(1, 501))
    page = summary_html(result(command=command, log=log))
    folds = re.findall(r"<details class='stagelab-(\w+)'[^>]*><summary>([^<]*)</summary>", page)
    assert folds == [("command", "Command"), ("log", "Engine log (500 lines, the last 400 shown)")]
    assert "open" not in page.split("<details", 1)[1].split(">", 1)[0], "folded by default"
    assert "--build-arg &#x27;A=&lt;b&gt;&#x27; \\\n  /ctx" in page
    assert "line 101 &lt;tag&gt;" in page and "line 100 " not in page
    terminal = progress.TerminalProgress(io.StringIO())
    terminal.command(command)
    assert "command: docker buildx build --target final --build-arg 'A=<b>' /ctx" in (
        terminal.stream.getvalue()
    )
    assert "<details" not in summary_html(result()), "nothing to fold: nothing shown"
    replayed = summary_html(result(log="one\ntwo\n", replayed=True))
    assert "Engine log (2 lines, as the recording keeps them)" in replayed


def test_a_failed_builds_board_folds_away_its_command_and_log(monkeypatch):
    board = progress.WidgetProgress.__new__(progress.WidgetProgress)
    progress.BoardProgress.__init__(board)
    board.error = BuildFailed(
        stage="base",
        instruction="RUN false",
        line=2,
        exit_code=1,
        log_tail="",
        command=["DOCKER_BUILDKIT=0", "docker", "build", "/ctx"],
        log="Step 1/2 : FROM busybox\nStep 2/2 : RUN false\n",
    )
    details = board.error_details()
    assert "DOCKER_BUILDKIT=0 docker build \\\n  /ctx" in details
    assert "Engine log (2 lines)" in details and "Step 2/2 : RUN false" in details
    page = progress_html("classic build", [], 0.0, "failed", None, details)
    assert page.index("stagelab-error") < page.index("stagelab-command")


def test_the_live_board_shows_the_command_folded_while_the_build_runs():
    board = progress.WidgetProgress.__new__(progress.WidgetProgress)
    progress.BoardProgress.__init__(board)
    board.widget = types.SimpleNamespace(value="")
    board.command(["docker", "buildx", "build", "--target", "final", "/ctx"])
    assert "<details class='stagelab-command'" in board.widget.value
    assert "--target final \\\n  /ctx" in board.widget.value
