"""BuildKit's cycle search walks each stage's uses in Go's map order (convert.go
`validateCircularDependency`): the stage it names is fixed, the closing command it reports is
one of a set. Pure logic on small graphs: the set of lines `closing_uses` finds under every
order, and the refusal that carries it (the engine's side:
tests/integration/test_planner_cycle_lines.py).
"""

import pytest

from stagelab.dockerfile import Dockerfile
from stagelab.dockerfile.cycles import closing_uses
from stagelab.errors import DockerfileError


def _refusal(text: str) -> DockerfileError:
    refs, refusal = Dockerfile(text).attempt(None, "buildkit")
    assert refusal is not None and refs == []
    return refusal


def _stage(name: str, *uses: str) -> str:
    return f"FROM busybox:1.36 AS {name}\n" + "".join(
        f"COPY --from={used} /bin/busybox /{name}-{n}\n" for n, used in enumerate(uses)
    )


# a uses b (line 2) and c (line 3); b and c each use a: either closes the cycle.
TWO_ROUTES_BACK = _stage("a", "b", "c") + _stage("b", "a") + _stage("c", "a")
# a leads into b; b uses a (line 4) and c (line 5); c uses b (line 7).
TWO_CLOSINGS_AFTER_A_CHAIN = _stage("a", "b") + _stage("b", "a", "c") + _stage("c", "b")
# One loop only: a -> b -> a; c also uses a, but the search from a never reaches c.
ONE_LOOP = _stage("a", "b") + _stage("b", "a") + _stage("c", "a")
# a reaches c by two paths (directly, and through b); only c's use of a closes the loop.
TWO_PATHS_ONE_CLOSING = _stage("a", "b", "c") + _stage("b", "c") + _stage("c", "a")


@pytest.mark.parametrize(
    "text, line, lines",
    [
        pytest.param(TWO_ROUTES_BACK, 5, (5, 7), id="two-routes-back"),
        pytest.param(TWO_CLOSINGS_AFTER_A_CHAIN, 4, (4, 7), id="two-closings-after-a-chain"),
        pytest.param(ONE_LOOP, 4, (4,), id="one-loop"),
        pytest.param(TWO_PATHS_ONE_CLOSING, 7, (7,), id="two-paths-one-closing"),
    ],
)
def test_the_refusal_carries_every_line_a_search_in_any_order_reports(text, line, lines):
    refusal = _refusal(text)
    assert (refusal.line, refusal.lines) == (line, lines)
    assert "circular dependency detected on stage: a." in str(refusal)
    said = f"BuildKit may report line {lines[0]} or line {lines[-1]}: it walks"
    assert (said in str(refusal)) == (len(lines) > 1), str(refusal)


def test_three_closing_uses_are_listed_in_the_message():
    text = _stage("a", "b", "c", "d") + _stage("b", "a") + _stage("c", "a") + _stage("d", "a")
    refusal = _refusal(text)
    assert refusal.lines == (6, 8, 10)
    assert "BuildKit may report line 6, line 8 or line 10:" in str(refusal)


def test_the_stage_named_is_the_first_start_that_reaches_a_cycle():
    # x uses nothing in a loop; y leads into the loop b <-> c, which either use closes.
    text = _stage("x") + _stage("y", "b") + _stage("b", "c") + _stage("c", "b", "y")
    refusal = _refusal(text)
    assert "circular dependency detected on stage: y." in str(refusal)
    # From y: b, then c; c's uses of b (line 7) and y (line 8) are both on the path.
    assert refusal.lines == (7, 8)


def _by_ref(text: str):
    return {s.ref: s for s in Dockerfile(text).resolve(None, "buildkit")}


def test_closing_uses_skips_what_earlier_starts_visited():
    stages = _by_ref(TWO_ROUTES_BACK)
    a, b, c = (stages[r] for r in ("a", "b", "c"))
    assert closing_uses(a, stages, set()) == ({(b.index, a.index), (c.index, a.index)}, True)
    # Were c visited (by an earlier start, which then reached no cycle), only b closes it.
    assert closing_uses(a, stages, {c.index}) == ({(b.index, a.index)}, True)


def test_closing_uses_stops_at_its_cap_and_says_so():
    complete = "".join(_stage(f"s{i}", *(f"s{j}" for j in range(7) if j != i)) for i in range(7))
    stages = _by_ref(complete)
    found, finished = closing_uses(stages["s0"], stages, set(), cap=3)
    assert not finished and found
    every, finished = closing_uses(stages["s0"], stages, set())
    assert finished and found <= every


def test_a_refusal_with_one_line_names_only_it():
    assert DockerfileError("x", line=3).lines == (3,)
    assert DockerfileError("x").lines == ()


def test_a_refusal_whose_search_was_cut_short_says_so(monkeypatch):
    monkeypatch.setattr("stagelab.dockerfile.cycles.ORDER_CAP", 3)
    text = "".join(_stage(f"s{i}", *(f"s{j}" for j in range(5) if j != i)) for i in range(5))
    refusal = _refusal(text)
    assert "(at least: stagelab stopped after 3 search states)" in str(refusal)
    assert refusal.line in refusal.lines


@pytest.mark.parametrize("line", [5, 7])
def test_an_engine_refusal_at_either_line_is_explained_with_the_plans_advice(line):
    explained = Dockerfile(TWO_ROUTES_BACK).explain(
        "ERROR: failed to build: failed to solve: circular dependency detected on stage: a", line
    )
    assert explained.line == line and explained.advised
    assert "BuildKit may report line 5 or line 7" in explained.reason
