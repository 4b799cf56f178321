"""What the Dockerfile frontend of one Docker Engine version accepts: the flags of each
instruction, the BuildKit-only flags the classic builder refuses, and the build checks.

Both builders of an engine parse with the same vendored BuildKit package
(moby/buildkit frontend/dockerfile/instructions/parse.go; the classic builder calls it from
moby/moby builder/dockerfile/builder.go `build`), so a flag the package does not know refuses
the file on both. Which flags it knows changes between versions: flags still in BuildKit's
"labs" channel (COPY --parents, RUN --security) are unknown to the frontend built into an
engine, and become known once a release promotes them. The one profile here was measured on
Docker Engine 28.5.2 with buildx 0.29.1 (tests/integration/test_planner_truth.py builds it);
`frontend_for` keys it on the engine's version and, for a version nobody measured, refuses
nothing whose support depends on the version.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace

# How a flag takes its value (instructions/bflag.go): a bool may stand alone or be
# `=true`/`=false`; a string needs `=value` and may appear once; strings may repeat.
BOOL, STRING, STRINGS = "bool", "string", "strings"

_ENGINE_28_5_FLAGS = {
    "ADD": {
        "chown": STRING,
        "chmod": STRING,
        "link": BOOL,
        "keep-git-dir": BOOL,
        "checksum": STRING,
        "unpack": BOOL,
        "exclude": STRINGS,
    },
    "COPY": {"chown": STRING, "from": STRING, "chmod": STRING, "link": BOOL, "exclude": STRINGS},
    "FROM": {"platform": STRING},
    "RUN": {"mount": STRINGS, "network": STRING, "device": STRINGS},
    "HEALTHCHECK": {
        "interval": STRING,
        "timeout": STRING,
        "start-period": STRING,
        "start-interval": STRING,
        "retries": STRING,
    },
}
# Flags whose support depends on the frontend's version (labs, or promoted lately).
_VERSION_DEPENDENT = {"COPY": {"parents"}, "ADD": {"parents"}, "RUN": {"security"}}


@dataclass(frozen=True)
class Frontend:
    """The Dockerfile frontend of one engine version, as the planner models it.

    `engine` is the engine version it was measured on ("" for none); `flags` maps an
    instruction to its flags and their kind (BOOL, STRING, STRINGS); an instruction missing
    from `flags` takes none, except ARG, whose flags the parser never reads.
    `unknown_flags_refused` is False for an engine nobody measured: a flag that a later or
    labs frontend knows (`maybe_known`) is then left to the engine. `dispatch_refused` maps
    (instruction, flag) to the sentence BuildKit refuses it with when it dispatches the step
    (a flag it parses but this version does not run). `classic_lacks` maps (instruction,
    flag) to the classic builder's refusal of a BuildKit-only flag at that step (moby
    builder/dockerfile/dispatchers.go).
    """

    engine: str
    flags: dict[str, dict[str, str]]
    maybe_known: dict[str, set[str]] = field(default_factory=dict)
    unknown_flags_refused: bool = True
    dispatch_refused: dict[tuple[str, str], str] = field(default_factory=dict)
    classic_lacks: dict[tuple[str, str], str] = field(default_factory=dict)

    def refuses_unknown(self, keyword: str, flag: str) -> bool:
        """Tell whether an unknown `--flag` of `keyword` refuses the file on this frontend."""
        return self.unknown_flags_refused or flag not in self.maybe_known.get(keyword, set())


def _requires_buildkit(option: str) -> str:
    return (
        f"the {option} option requires BuildKit. Refer to "
        "https://docs.docker.com/go/buildkit/ to learn how to build images with BuildKit enabled"
    )


ENGINE_28_5 = Frontend(
    engine="28.5",
    flags=_ENGINE_28_5_FLAGS,
    maybe_known=_VERSION_DEPENDENT,
    dispatch_refused={
        ("RUN", "device"): "device feature is only supported in Dockerfile frontend "
        "1.14.0-labs or later",
    },
    classic_lacks={
        ("RUN", "mount"): _requires_buildkit("--mount"),
        ("RUN", "network"): _requires_buildkit("--network"),
        ("RUN", "device"): _requires_buildkit("--device"),
        ("COPY", "chmod"): _requires_buildkit("--chmod"),
        ("ADD", "chmod"): _requires_buildkit("--chmod"),
    },
)
# Engine versions (major, minor) whose frontend was measured.
FRONTENDS = {(28, 5): ENGINE_28_5}


def frontend_for(version: tuple[int, ...] | None) -> Frontend:
    """Return the frontend of the engine of this version ((28, 5, 2); None: unknown).

    A measured version gets its profile; with no version (no engine: recordings come from
    28.5) the measured one; any other version the same profile with the version-dependent
    flags left to the engine.
    """
    if not version:
        return ENGINE_28_5
    found = FRONTENDS.get(tuple(version[:2]))
    if found is not None:
        return found
    return replace(
        ENGINE_28_5,
        engine=".".join(map(str, version)),
        unknown_flags_refused=False,
        dispatch_refused={},
    )
