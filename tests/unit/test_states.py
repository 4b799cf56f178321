"""One status vocabulary, one mapping to what progress displays show, one colour for each."""

import pytest

from stagelab.states import COLORS, PROGRESS_STATES, STAGE_STATUSES, color, progress_state


def test_every_stage_status_maps_to_a_progress_state():
    assert {progress_state(status) for status in STAGE_STATUSES} <= set(PROGRESS_STATES)
    assert progress_state("built") == "done" and progress_state("skipped") == "skipped"


def test_an_unknown_status_is_refused():
    with pytest.raises(ValueError, match="unknown stage status"):
        progress_state("done")


def test_every_word_of_both_vocabularies_has_its_colour():
    assert set(STAGE_STATUSES) | set(PROGRESS_STATES) == set(COLORS)
    assert color("built") == color("done") and color("nonsense") == "#ffffff"
