"""Which entries of an image's history are layers: a pure reading of what the engine reports.

An image's history has one entry per instruction that changed it, but only some entries add a
layer (a file-system diff); the others only change its config and carry `empty_layer` in the
image's config (OCI image spec, config.md, `history`). The engine's history API drops that
flag: it reports a layer's size for an entry with a layer and 0 B for one without (moby
daemon/images/image_history.go), so an entry of 0 B is either. What each builder does, measured
on Docker Engine 28.5.2 (tests/integration/test_layers.py):

- CMD, ENV, LABEL and the other config instructions never add a layer, on either builder;
- BuildKit adds a layer for every RUN, COPY, ADD and WORKDIR, even one that changes nothing
  (a layer of 0 B);
- the classic builder adds one only when the step changed files: its commit marks an empty
  diff as `empty_layer` (moby daemon/commit.go).
"""

from __future__ import annotations

# Instructions that change only the image's config: BuildKit commits them to the history
# without a layer (dockerfile2llb convert.go, commitToHistory(..., false, ...)); the classic
# builder commits them with no container (`#(nop)` in its history).
CONFIG_ONLY = frozenset(
    {
        "ARG",
        "CMD",
        "ENTRYPOINT",
        "ENV",
        "EXPOSE",
        "HEALTHCHECK",
        "LABEL",
        "MAINTAINER",
        "ONBUILD",
        "SHELL",
        "STOPSIGNAL",
        "USER",
        "VOLUME",
    }
)


def keyword(instruction: str) -> str:
    """Return the Dockerfile keyword a history entry's instruction starts with ("" for none)."""
    words = instruction.replace("#(nop)", " ").split()
    return words[0].upper() if words else ""


def layer_flags(entries: list[dict], layer_count: int) -> list[bool] | None:
    """Tell which history entries (oldest first, each {"size", "instruction"}) add a layer,
    given the image's number of layers; None when the sizes and instructions cannot tell
    (some 0 B RUN, COPY, ADD or WORKDIR entries are layers and others are not).

    An entry with a size is a layer; a config instruction is not; the 0 B entries left are
    all layers or none, when the layer count says so.
    """
    flags: list[bool | None] = []
    for entry in entries:
        if entry["size"] > 0:
            flags.append(True)
        elif keyword(entry["instruction"]) in CONFIG_ONLY:
            flags.append(False)
        else:
            flags.append(None)
    undecided = [index for index, flag in enumerate(flags) if flag is None]
    left = layer_count - flags.count(True)
    if left not in (0, len(undecided)):
        return None
    for index in undecided:
        flags[index] = left > 0
    return [bool(flag) for flag in flags]
