"""The whole-file pass both builders make before building anything: every instruction of every
stage parsed into its command, with its flags (moby/buildkit frontend/dockerfile/instructions/
parse.go `ParseInstruction` and its `parse*` functions, bflag.go `BFlags.Parse`,
commands_runmount.go and commands_runnetwork.go for RUN's flags). The classic builder calls
the same package (moby/moby builder/dockerfile/builder.go `build`), so an instruction that does
not parse refuses the file on both builders, whatever the target. Sentences are the engine's
(Docker Engine 28.5.2: tests/integration/test_planner_truth.py and test_planner_rules.py).
"""

from __future__ import annotations

import re

from .frontend import BOOL, STRINGS, Frontend
from .instructions import INSTRUCTIONS, Instruction

_EXACTLY_ONE = {"WORKDIR", "USER", "MAINTAINER", "STOPSIGNAL"}
_AT_LEAST_ONE = {"ENV", "LABEL", "EXPOSE", "VOLUME", "ONBUILD", "HEALTHCHECK", "ARG"}
# Instructions whose parse function never reads its flags (the parser still splits them off).
_FLAGS_IGNORED = {"ARG", "STOPSIGNAL"}
NETWORK_MODES = {"none", "host", "default"}
_HEREDOC_WORD = re.compile(r"^<<-?[\"']?[A-Za-z0-9_.-]+[\"']?$")
_DURATION_UNITS = {
    "ns": 1e-9,
    "us": 1e-6,
    "µs": 1e-6,
    "μs": 1e-6,
    "ms": 1e-3,
    "s": 1.0,
    "m": 60.0,
    "h": 3600.0,
}
_DURATION_PART = re.compile(r"(\d+\.?\d*|\.\d+)([a-zµμ]*)")


def first_unparsable(
    instructions: list[Instruction], frontend: Frontend
) -> tuple[Instruction, str, str] | None:
    """Return the first instruction that does not parse, the engine's sentence and advice.

    None when every instruction parses. An ONBUILD's trigger is parsed only once a stage
    starting from its stage runs (see `trigger_refusal`).
    """
    seen_from = False
    for ins in instructions:
        refusal = parse_refusal(ins, frontend)
        if refusal is not None:
            return ins, *refusal
        seen_from = seen_from or ins.keyword == "FROM"
        if not seen_from and ins.keyword != "ARG":
            return (
                ins,
                f"{ins.keyword} comes before the first FROM: only ARG may appear there",
                "start a stage with FROM first",
            )
    return None


def parse_refusal(ins: Instruction, frontend: Frontend) -> tuple[str, str] | None:
    """Return (the engine's sentence, advice) when `ins` does not parse, else None."""
    keyword, args = ins.keyword, list(ins.value)
    if keyword not in INSTRUCTIONS:
        near = closest(ins.written.upper(), sorted(INSTRUCTIONS))
        hint = f" (did you mean {near}?)" if near else ""
        return (
            f"unknown instruction: {ins.written}{hint}",
            f"write {near} if you meant it" if near else "use an instruction of the reference",
        )
    early = _arguments(keyword, ins, args)
    if early is not None:
        return early
    if keyword not in _FLAGS_IGNORED and not (
        keyword == "HEALTHCHECK" and args[0].upper() == "NONE"
    ):
        refused = flag_refusal(keyword, ins.flags, frontend)
        if refused is not None:
            return refused
    late = _after_flags(keyword, ins, args)
    return late


def _arguments(keyword: str, ins: Instruction, args: list[str]) -> tuple[str, str] | None:
    """What each parse function checks before it parses the flags."""
    if keyword in ("COPY", "ADD") and len(args) < 2:
        return (
            f"{keyword} requires at least two arguments, but only one was provided. "
            "Destination could not be determined",
            f"give {keyword} a source and a destination, as in `{keyword} app /app`",
        )
    if keyword == "FROM":
        if len(args) == 3 and args[1].lower() == "as":
            if not re.match(r"^[a-z][a-z0-9._-]*$", args[2].lower()):
                return (
                    f'invalid name for build stage: "{args[2]}", name can\'t start with a '
                    "number or contain symbols",
                    "start a stage name with a letter, then use letters, digits, '-', '_' or '.'",
                )
        elif len(args) != 1:
            return (
                "FROM requires either one or three arguments",
                "write `FROM image` or `FROM image AS name`",
            )
    if keyword in _EXACTLY_ONE and len(args) != 1:
        return f"{keyword} requires exactly one argument", f"give {keyword} its one argument"
    if keyword in _AT_LEAST_ONE and not args and not ins.trigger:
        return f"{keyword} requires at least one argument", f"give {keyword} an argument"
    if keyword == "HEALTHCHECK" and args[0].upper() == "NONE" and len(args) > 1:
        return "HEALTHCHECK NONE takes no arguments", "write `HEALTHCHECK NONE` alone"
    return None


def _after_flags(keyword: str, ins: Instruction, args: list[str]) -> tuple[str, str] | None:
    """What each parse function checks once its flags parsed."""
    if keyword in ("COPY", "ADD") and _HEREDOC_WORD.match(args[-1]):
        return (
            f"{keyword} cannot accept a heredoc as a destination",
            f"end {keyword} with a path, as in `{keyword} <<EOF /file`",
        )
    if keyword in ("ENV", "LABEL", "ARG") and _blank_name(keyword, args):
        return f"{keyword} names can not be blank", "give every name a value as `NAME=value`"
    if keyword == "ONBUILD" and ins.trigger is not None:
        trigger = ins.trigger.keyword
        if trigger == "ONBUILD":
            return (
                "Chaining ONBUILD via `ONBUILD ONBUILD` isn't allowed",
                "a trigger runs once, in the stage built FROM this one",
            )
        if trigger in ("MAINTAINER", "FROM"):
            return (
                f"{trigger} isn't allowed as an ONBUILD trigger",
                "a stage starts with its own FROM: write it as a stage instead",
            )
    if keyword == "VOLUME" and any(not v.strip() for v in args):
        return "VOLUME specified can not be an empty string", "name each volume's path"
    if keyword == "SHELL":
        if ins.json and not args:
            return "SHELL requires at least one argument", 'write `SHELL ["/bin/sh", "-c"]`'
        if not ins.json:
            return (
                "SHELL requires the arguments to be in JSON form",
                'write `SHELL ["/bin/sh", "-c"]`',
            )
    if keyword == "HEALTHCHECK":
        return _healthcheck(ins, args)
    if keyword == "RUN":
        return _run(ins)
    return None


def _blank_name(keyword: str, args: list[str]) -> bool:
    if keyword == "ARG":
        return any(arg.partition("=")[1] and not arg.partition("=")[0] for arg in args)
    return any(not name for name in args[0::2])


def flag_refusal(
    keyword: str, flags: tuple[str, ...], frontend: Frontend
) -> tuple[str, str] | None:
    """Parse `--name[=value]` flags as BuildKit's BFlags.Parse does; None when they parse."""
    known = frontend.flags.get(keyword, {})
    used: set[str] = set()
    for word in flags:
        if word == "--":
            return None
        name, equals, value = word[2:].partition("=")
        kind = known.get(name)
        if kind is None:
            if not frontend.refuses_unknown(keyword, name):
                continue
            listed = ", ".join(f"--{flag}" for flag in known) or "none"
            return (
                f"unknown flag: --{name}",
                f"{keyword} takes these flags on this engine: {listed}",
            )
        if name in used and kind != STRINGS:
            return f"duplicate flag specified: --{name}", f"give --{name} once"
        used.add(name)
        if kind == BOOL:
            if equals and not value:
                return f"missing a value on flag: --{name}", f"write --{name} or --{name}=true"
            if value and value.lower() not in ("true", "false"):
                return (
                    f"expecting boolean value for flag --{name}, not: {value}",
                    f"write --{name}, --{name}=true or --{name}=false",
                )
        elif not equals:
            return f"missing a value on flag: --{name}", f"write --{name}=VALUE"
    return None


def _healthcheck(ins: Instruction, args: list[str]) -> tuple[str, str] | None:
    kind = args[0].upper()
    if kind == "NONE":
        return None
    if kind != "CMD":
        return f'Unknown type "{kind}" in HEALTHCHECK (try CMD)', "write `HEALTHCHECK CMD ...`"
    if len(args) < 2 or not any(a.strip() for a in args[1:]):
        return "Missing command after HEALTHCHECK CMD", "give the command HEALTHCHECK runs"
    for name in ("interval", "timeout", "start-period", "start-interval"):
        for value in ins.flag(name):
            try:
                seconds = go_duration(value)
            except ValueError as error:
                return str(error), f"write --{name} as a duration, as in --{name}=30s"
            if 0 < seconds < 1e-3:
                return (
                    f'Interval "{name}" cannot be less than 1ms',
                    f"give --{name} at least 1ms",
                )
    for value in ins.flag("retries"):
        if not re.fullmatch(r"[+-]?\d+", value):
            return f'strconv.ParseInt: parsing "{value}": invalid syntax', "give a whole number"
        if not -(2**31) <= int(value) < 2**31:
            return f'strconv.ParseInt: parsing "{value}": value out of range', "give fewer retries"
        if int(value) < 0:
            return f"--retries cannot be negative ({int(value)})", "give 0 or more retries"
    return None


def _run(ins: Instruction) -> tuple[str, str] | None:
    for mount in ins.flag("mount"):
        options = dict(part.partition("=")[::2] for part in mount.split(","))
        if re.search(r"\$", options.get("from", "")):
            return (
                "'from' doesn't support variable expansion, define alias stage instead",
                "name the stage in from= as written",
            )
    for mode in ins.flag("network"):
        if mode not in NETWORK_MODES:
            return (
                f'invalid network mode "{mode}"',
                f"--network takes one of {', '.join(sorted(NETWORK_MODES))}",
            )
    return None


def go_duration(text: str) -> float:
    """Parse a Go duration ("1m30s", "500ms") into seconds; ValueError with Go's sentence."""
    rest = text.lstrip("+-")
    if rest in ("0", ""):
        if rest == "0":
            return 0.0
        raise ValueError(f'time: invalid duration "{text}"')
    total = 0.0
    while rest:
        match = _DURATION_PART.match(rest)
        if not match:
            raise ValueError(f'time: invalid duration "{text}"')
        number, unit = match.groups()
        if not unit:
            raise ValueError(f'time: missing unit in duration "{text}"')
        if unit not in _DURATION_UNITS:
            raise ValueError(f'time: unknown unit "{unit}" in duration "{text}"')
        total += float(number) * _DURATION_UNITS[unit]
        rest = rest[match.end() :]
    return -total if text.startswith("-") else total


def closest(word: str, options: list[str]) -> str | None:
    """Return the option nearest `word` by edit distance when near enough to be a slip (as
    BuildKit's util/suggest offers "did you mean"), else None."""
    best, distance = None, max(1, len(word) // 2) + 1
    for option in options:
        found = edit_distance(word, option)
        if found < distance and option != word:
            best, distance = option, found
    return best


def edit_distance(left: str, right: str) -> int:
    """Return the Levenshtein distance between two words."""
    previous = list(range(len(right) + 1))
    for i, a in enumerate(left, 1):
        current = [i]
        for j, b in enumerate(right, 1):
            current.append(min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + (a != b)))
        previous = current
    return previous[-1]
