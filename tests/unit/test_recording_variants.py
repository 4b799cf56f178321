"""A lesson variant's recordings join those of the defaults, and its unique values are its own."""

import time

import pytest

from stagelab import recording, replay


@pytest.fixture
def store(tmp_path, monkeypatch):
    monkeypatch.setenv(recording.DIRECTORY_ENV, str(tmp_path))
    monkeypatch.setattr(recording, "_takes_recorded", {})
    monkeypatch.setattr(recording, "_takes_kept", {})
    monkeypatch.setattr(recording, "_takes_replayed", {})
    return tmp_path


def takes(key):
    return [take["n"] for take in recording.load(key)["takes"]]


def test_the_defaults_replace_older_takes_and_a_variant_appends_its_own(store, monkeypatch):
    recording.add_take("k", {}, {"n": "old"}, "28")
    monkeypatch.setattr(recording, "_takes_recorded", {})  # a new recording session
    monkeypatch.setenv(recording.SINCE_ENV, str(time.time() - 1))
    recording.add_take("k", {}, {"n": "default 1"}, "28")
    recording.add_take("k", {}, {"n": "default 2"}, "28")
    assert takes("k") == ["default 1", "default 2"]
    monkeypatch.setattr(recording, "_takes_recorded", {})  # the variant's own process
    monkeypatch.setenv(recording.VARIANT_ENV, '{"builder": "classic"}')
    recording.add_take("k", {}, {"n": "variant 1"}, "28")
    recording.add_take("k", {}, {"n": "variant 2"}, "28")
    assert takes("k") == ["default 1", "default 2", "variant 1", "variant 2"]


def test_a_variant_drops_takes_of_an_earlier_session(store, monkeypatch):
    recording.add_take("k", {}, {"n": "last week"}, "28")
    monkeypatch.setattr(recording, "_takes_recorded", {})
    monkeypatch.setenv(recording.SINCE_ENV, str(time.time() + 60))
    monkeypatch.setenv(recording.VARIANT_ENV, '{"target": "build"}')
    recording.add_take("k", {}, {"n": "variant"}, "28")
    assert takes("k") == ["variant"]


def test_a_variant_salts_its_builds_with_values_of_its_own(store, monkeypatch):
    monkeypatch.setenv(recording.RECORD_ENV, "1")
    monkeypatch.setattr(replay.engine, "answers", lambda: True)
    monkeypatch.setattr(replay, "recording_engine", lambda: "28")
    default = replay.unique("lesson salt")
    monkeypatch.setenv(recording.VARIANT_ENV, '{"builder": "classic"}')
    variant = replay.unique("lesson salt")
    monkeypatch.setattr(replay.engine, "answers", lambda: False)
    assert replay.unique("lesson salt") == variant
    monkeypatch.delenv(recording.VARIANT_ENV)
    assert replay.unique("lesson salt") == default
