"""The classroom's disk rule (sizing.py): what an account's disk must hold when base images load
on first use (class_images.py), and what `up` says of a disk below the whole course's need."""

from __future__ import annotations

from stagelab.classroom.sizing import (
    BUILDS_BYTES,
    DISK_RANGE,
    GIB,
    MIB,
    ImageNeed,
    Limits,
    Machine,
    check_fits,
    default_limits,
    disk_needed,
    disk_note,
    not_fitting,
)

# Shaped as the course's images are: busybox tiny, gcc built on debian, golang the largest.
BUSYBOX = ImageNeed("busybox:1.36", 2 * MIB, 3 * MIB, ("lesson 01", "lesson 02"))
DEBIAN = ImageNeed("debian:bookworm-slim", 75 * MIB, 77 * MIB, ("lesson 06",))
GCC = ImageNeed("gcc:12-bookworm", 325 * MIB, 400 * MIB, ("lesson 05", "lab 02"))
GOLANG = ImageNeed("golang:1.19-bookworm", 460 * MIB, 535 * MIB, ("lesson 19",))
COURSE = [BUSYBOX, DEBIAN, GCC, GOLANG]


def test_the_need_is_every_image_s_own_layers_the_largest_archive_and_the_builds():
    assert disk_needed([]) == BUILDS_BYTES
    assert disk_needed([BUSYBOX]) == 2 * MIB + 3 * MIB + BUILDS_BYTES
    # Layers add up; only one archive is staged at a time, so only the largest counts.
    assert disk_needed(COURSE) == (2 + 75 + 325 + 460 + 535) * MIB + BUILDS_BYTES


def test_a_disk_that_holds_the_course_says_nothing():
    assert not_fitting(disk_needed(COURSE), COURSE) == []
    assert disk_note(disk_needed(COURSE), COURSE) is None


def test_a_smaller_disk_names_the_images_and_lessons_that_would_not_fit():
    just_short = disk_needed(COURSE) - 1
    assert not_fitting(just_short, COURSE) == [GOLANG]
    note = disk_note(just_short, COURSE)
    assert "golang:1.19-bookworm would not fit (lesson 19)" in note
    assert "gcc" not in note and "--disk" in note
    small = disk_needed([BUSYBOX, DEBIAN])
    assert not_fitting(small, COURSE) == [GCC, GOLANG]
    assert "(lab 02, lesson 05, lesson 19)" in disk_note(small, COURSE)
    # An image that does not fit is not loaded: a smaller one after it still may be, unless
    # it is built on one that does not fit.
    assert not_fitting(small, [BUSYBOX, GOLANG, DEBIAN]) == [GOLANG]
    jdk = ImageNeed("eclipse-temurin:17-jdk", MIB, 2 * MIB, ("lesson 19",), (GOLANG.official,))
    assert not_fitting(small, [BUSYBOX, GOLANG, DEBIAN, jdk]) == [GOLANG, jdk]


def test_the_first_lessons_minimum_is_a_hard_floor():
    machine = Machine(24 * GIB, 2, 32768, 200 * GIB)
    below = Limits(GIB, 1.0, 2048, DISK_RANGE[0] - MIB)
    assert any("first lessons" in problem for problem in check_fits(below, 3, machine))
    assert check_fits(Limits(GIB, 1.0, 2048, DISK_RANGE[0]), 3, machine) == []


def test_the_default_disk_shares_the_free_disk_in_steps_of_256_mib():
    # 31 accounts (30 learners and the instructor) on 52 GiB free: (52 - 5) / 31 = 1.516 GiB.
    machine = Machine(24 * GIB, 2, 32768, 52 * GIB)
    chosen = default_limits(31, machine)
    assert chosen.disk_bytes == 1.5 * GIB
    assert check_fits(chosen, 31, machine) == []
    # A crowded disk still gets the first lessons' floor, which check_fits then refuses.
    crowded = Machine(24 * GIB, 2, 32768, 20 * GIB)
    floor = default_limits(31, crowded)
    assert floor.disk_bytes == DISK_RANGE[0]
    assert any("--disk" in problem for problem in check_fits(floor, 31, crowded))
