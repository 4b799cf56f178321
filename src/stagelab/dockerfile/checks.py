"""BuildKit's build checks as a build meets them: the `# check=` directive, the checks of the
whole-file pass (every stage, needed or not), and the refusal `error=true` makes of them.

Sources: moby/buildkit frontend/dockerfile/parser/directives.go (`ParseDirective`: the first
word of the directive's value), frontend/dockerfile/linter/linter.go (`ParseLintOptions`,
`Linter.Run`, `Linter.Error`) and ruleset.go (the rules), instructions/parse.go (FROM and ARG
checks while parsing), dockerfile2llb/convert.go (`newRuleLinter`, the checks of base names and
platforms for every stage, `lint.Error` after every needed stage was dispatched) and
validations.go. The checks of the steps of the stages a target needs are dispatch.py's.
The classic builder reads `# check=` as a comment. Measured on Docker Engine 28.5.2: a blank
line does not end a description comment, an empty `#` line does.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from .instructions import Instruction
from .parsing import closest
from .platforms import split_platform
from .rules import CheckHit, valid_reference
from .stages import Stage
from .variables import expand_matches

_DIRECTIVE = re.compile(r"^#\s*([a-zA-Z][a-zA-Z0-9]*)\s*=\s*(.+?)\s*$")
_DIRECTIVES = {"syntax", "escape", "check"}
# Rules that run only when `experimental=` names them (ruleset.go `Experimental: true`).
EXPERIMENTAL = {"InvalidDefinitionDescription", "CopyIgnoredFile"}
# How to fix what each check reports (docs.docker.com/go/dockerfile/rule/<rule>/).
FIXES = {
    "StageNameCasing": "write the stage name in lowercase",
    "FromAsCasing": "write AS in the case of FROM (FROM ... AS, or from ... as)",
    "NoEmptyContinuation": "remove the empty line inside the continued instruction",
    "ConsistentInstructionCasing": "write every instruction in one case (upper, as FROM)",
    "DuplicateStageName": "give each stage its own name",
    "ReservedStageName": "name the stage something other than scratch or context",
    "JSONArgsRecommended": 'write the command as a JSON array: CMD ["program", "arg"]',
    "MaintainerDeprecated": 'use LABEL org.opencontainers.image.authors="..." instead',
    "UndefinedArgInFrom": "declare the ARG before the first FROM (or fix its name)",
    "WorkdirRelativePath": "give WORKDIR an absolute path, starting with /",
    "UndefinedVar": "declare the variable (ARG or ENV) above the line that uses it",
    "MultipleInstructionsDisallowed": "keep only the last of these instructions in the stage",
    "LegacyKeyValueFormat": "write KEY=value",
    "RedundantTargetPlatform": "drop --platform=$TARGETPLATFORM: it is the default",
    "SecretsUsedInArgOrEnv": "pass secrets with RUN --mount=type=secret, not ARG or ENV",
    "InvalidDefaultArgInFrom": "give the ARG a default that makes a valid image name",
    "FromPlatformFlagConstDisallowed": "use a platform ARG such as $BUILDPLATFORM, or drop it",
    "InvalidDefinitionDescription": "start the comment above with the name it describes",
    "ExposeProtoCasing": "write the protocol in lowercase (80/tcp)",
    "ExposeInvalidFormat": "expose the container port only (EXPOSE 80)",
}
_RESERVED_NAMES = {"context", "scratch"}


@dataclass(frozen=True)
class CheckConfig:
    """What `# check=` (or the BUILDKIT_DOCKERFILE_CHECK build arg) asks: the rules skipped
    (`skip_all`: every one but the experimental ones asked for), the experimental rules run,
    whether a check that fires refuses the build, and the directive's line."""

    skip: frozenset[str] = frozenset()
    skip_all: bool = False
    experimental: frozenset[str] = frozenset()
    experimental_all: bool = False
    error: bool = False
    line: int | None = None

    def runs(self, rule: str) -> bool:
        """Tell whether `rule` reports anything under this configuration (`Linter.Run`)."""
        if rule in EXPERIMENTAL:
            return self.experimental_all or rule in self.experimental
        return not self.skip_all and rule not in self.skip


@dataclass
class FileChecks:
    """The configuration, the checks of the whole-file pass, and a configuration refusal."""

    config: CheckConfig = field(default_factory=CheckConfig)
    hits: list[CheckHit] = field(default_factory=list)
    refusal: str = ""


def check_directive(text: str) -> tuple[str | None, int | None]:
    """Return the `# check=` directive's value as BuildKit reads it (its first word) and its
    line, or (None, None) when the file has none (directives.go `ParseDirective`)."""
    lines = text.lstrip("\ufeff").splitlines()
    first = 1 if lines and lines[0].startswith("#!") else 0
    for number, line in enumerate(lines[first:], first + 1):
        match = _DIRECTIVE.match(line)
        if not match or match.group(1).lower() not in _DIRECTIVES:
            break
        if match.group(1).lower() == "check":
            return match.group(2).split(" ", 1)[0], number
    return None, None


def parse_check_options(value: str, line: int | None = None) -> CheckConfig:
    """Parse check options ("skip=A,B;error=true;experimental=all") as `ParseLintOptions`.

    Raises ValueError with BuildKit's sentence for an option it refuses.
    """
    value = value.strip()
    if not value:
        return CheckConfig(line=line)
    options: dict = {"line": line}
    for part in value.split(";", 2):
        key, equals, setting = part.partition("=")
        if not equals:
            raise ValueError(f'invalid check option "{part}"')
        key, setting = key.strip(), setting.strip()
        if key in ("skip", "experimental"):
            if setting == "all":
                options[f"{key}_all"] = True
            else:
                options[key] = frozenset(rule.strip() for rule in setting.split(","))
        elif key == "error":
            if setting not in _GO_BOOLS:
                raise ValueError(
                    f'failed to parse check option "{part}": strconv.ParseBool: parsing '
                    f'"{setting}": invalid syntax'
                )
            options["error"] = _GO_BOOLS[setting]
        else:
            raise ValueError(f'invalid check option "{key}"')
    return CheckConfig(**options)


_GO_BOOLS = {
    **dict.fromkeys(("1", "t", "T", "TRUE", "true", "True"), True),
    **dict.fromkeys(("0", "f", "F", "FALSE", "false", "False"), False),
}


def file_checks(
    text: str,
    instructions: list[Instruction],
    stages: list[Stage],
    build_args: dict[str, str],
    default_env: dict[str, str | None],
    meta_env: dict[str, str | None],
) -> FileChecks:
    """Configure the checks and run those of the whole-file pass over every stage.

    `default_env` holds the variables FROM lines see with no build arg (platform ARGs and
    meta ARG defaults), `meta_env` those they see in this build.
    """
    value, line = check_directive(text)
    if "BUILDKIT_DOCKERFILE_CHECK" in build_args:
        value, line = build_args["BUILDKIT_DOCKERFILE_CHECK"], None
    try:
        config = parse_check_options(value or "", line)
    except ValueError as error:
        return FileChecks(refusal=f"failed to parse check options: {error}")
    hits = _parse_time_hits(text, instructions, stages)
    hits += _from_hits(instructions, stages, default_env, meta_env)
    return FileChecks(config, [h for h in hits if config.runs(h.rule)])


def _parse_time_hits(
    text: str, instructions: list[Instruction], stages: list[Stage]
) -> list[CheckHit]:
    hits = []
    comments = description_comments(text, instructions)
    for ins in instructions:
        words = list(ins.value)
        if ins.keyword == "MAINTAINER":
            hits.append(
                CheckHit(
                    "MaintainerDeprecated",
                    ins.line,
                    "Maintainer instruction is deprecated in favor of using label",
                )
            )
        if ins.keyword == "FROM" and len(words) == 3:
            if words[2] != words[2].lower():
                hits.append(
                    CheckHit(
                        "StageNameCasing", ins.line, f"Stage name '{words[2]}' should be lowercase"
                    )
                )
            written = ins.written
            if written in (written.lower(), written.upper()) and words[1] != (
                words[1].lower() if written == written.lower() else words[1].upper()
            ):
                hits.append(
                    CheckHit(
                        "FromAsCasing",
                        ins.line,
                        f"'{words[1]}' and '{written}' keywords' casing do not match",
                    )
                )
        keys = (
            [words[2].lower()]
            if ins.keyword == "FROM" and len(words) == 3
            else [w.partition("=")[0] for w in words]
            if ins.keyword == "ARG"
            else []
        )
        last = comments.get(ins.line)
        if keys and last is not None and last.split(" ")[0] not in keys:
            example = keys[0] if len(keys) == 1 else "<arg_key>"
            hits.append(
                CheckHit(
                    "InvalidDefinitionDescription",
                    ins.line,
                    f"Comment for {ins.keyword} should follow the format: "
                    f"`# {example} <description>`",
                )
            )
    hits += _empty_continuations(text, instructions)
    hits += _stage_name_hits(stages)
    hits += _casing_hits(stages)
    return hits


def description_comments(text: str, instructions: list[Instruction]) -> dict[int, str]:
    """Return, for each instruction's first line, the last comment right above it (the
    parser's PrevComment): comments gather over blank lines, an empty `#` clears them, and
    the parser directives at the top are none."""
    lines = text.splitlines()
    starts = {ins.line for ins in instructions}
    ends = {ins.end_line for ins in instructions}
    found: dict[int, str] = {}
    gathered: list[str] = []
    in_directives = True
    for number, line in enumerate(lines, 1):
        stripped = line.strip()
        if (
            in_directives
            and _DIRECTIVE.match(stripped)
            and _DIRECTIVE.match(stripped).group(1).lower() in _DIRECTIVES
        ):
            continue
        in_directives = False
        if number in starts:
            if gathered:
                found[number] = gathered[-1]
            gathered = []
        elif stripped.startswith("#") and not any(s < number <= e for s, e in _spans(starts, ends)):
            comment = stripped[1:].strip()
            gathered = gathered + [comment] if comment else []
    return found


def _spans(starts: set[int], ends: set[int]) -> list[tuple[int, int]]:
    return list(zip(sorted(starts), sorted(ends)))


def _empty_continuations(text: str, instructions: list[Instruction]) -> list[CheckHit]:
    lines = text.splitlines()
    hits = []
    for ins in instructions:
        inside = lines[ins.line : ins.end_line]
        if any(not line.strip() for line in inside) and ins.end_line > ins.line:
            before = lines[ins.line - 1 : ins.end_line - 1]
            if any(b.rstrip().endswith(("\\", "`")) for b in before):
                hits.append(
                    CheckHit("NoEmptyContinuation", ins.end_line, "Empty continuation line")
                )
    return hits


def _stage_name_hits(stages: list[Stage]) -> list[CheckHit]:
    hits, seen = [], set()
    for stage in stages:
        if not stage.name:
            continue
        name = stage.name.lower()
        if name in _RESERVED_NAMES:
            hits.append(
                CheckHit(
                    "ReservedStageName",
                    stage.lines[0],
                    f'Stage name should not use the same name as reserved stage "{name}"',
                )
            )
        if name in seen:
            hits.append(
                CheckHit(
                    "DuplicateStageName",
                    stage.lines[0],
                    f'Duplicate stage name "{name}", stage names should be unique',
                )
            )
        seen.add(name)
    return hits


def _casing_hits(stages: list[Stage]) -> list[CheckHit]:
    """ConsistentInstructionCasing: every instruction of the stages against the majority
    (validations.go `validateCommandCasing`; the meta ARGs are in no stage)."""
    written = [ins for stage in stages for ins in stage.instructions]
    lower = sum(1 for ins in written if ins.written == ins.written.lower())
    upper = sum(1 for ins in written if ins.written == ins.written.upper())
    majority_lower = lower > upper
    hits = []
    for ins in written:
        wanted = ins.written.lower() if majority_lower else ins.written.upper()
        if ins.written != wanted:
            case = "lowercase" if majority_lower else "uppercase"
            hits.append(
                CheckHit(
                    "ConsistentInstructionCasing",
                    ins.line,
                    f"Command '{ins.written}' should match the case of the command majority "
                    f"({case})",
                )
            )
    return hits


def _from_hits(
    instructions: list[Instruction],
    stages: list[Stage],
    default_env: dict[str, str | None],
    meta_env: dict[str, str | None],
) -> list[CheckHit]:
    """UndefinedArgInFrom, RedundantTargetPlatform, FromPlatformFlagConstDisallowed and
    InvalidDefaultArgInFrom, over every stage's FROM (convert.go, validations.go)."""
    declared = set(meta_env) | {
        w.partition("=")[0] for ins in instructions if ins.keyword == "ARG" for w in ins.value
    }
    hits = _invalid_defaults(stages, default_env)
    for stage in stages:
        line = stage.lines[0]
        words = [stage.written_base] + stage.instructions[0].flag("platform")
        for position, word in enumerate(words):
            try:
                result, matched, unmatched = expand_matches(word, meta_env)
            except ValueError:
                continue
            for name in sorted(unmatched - declared):
                near = closest(name, sorted(declared))
                hint = f" (did you mean {near}?)" if near else ""
                hits.append(
                    CheckHit(
                        "UndefinedArgInFrom",
                        line,
                        f"FROM argument '{name}' is not declared{hint}",
                    )
                )
            if position == 0:
                continue
            if (
                matched == {"TARGETPLATFORM"}
                and not unmatched
                and result == meta_env.get("TARGETPLATFORM")
            ):
                hits.append(
                    CheckHit(
                        "RedundantTargetPlatform",
                        line,
                        f"Setting platform to predefined {word} in FROM is redundant as "
                        "this is the default behavior",
                    )
                )
            if not matched and not unmatched and _constant_platform(stage, result):
                hits.append(
                    CheckHit(
                        "FromPlatformFlagConstDisallowed",
                        line,
                        f'FROM --platform flag should not use constant value "{result}"',
                    )
                )
    return hits


def _constant_platform(stage: Stage, platform: str) -> bool:
    try:
        os_name, arch, _ = split_platform(platform)
    except ValueError:
        return False
    name = stage.name.lower() if stage.name else ""
    return os_name not in name and arch not in name


def _invalid_defaults(stages: list[Stage], default_env: dict[str, str | None]) -> list[CheckHit]:
    hits = []
    for stage in stages:
        try:
            base, _, _ = expand_matches(stage.written_base, default_env)
        except ValueError:
            return []  # the check stops at an error; the build fails on it later
        if base != "scratch" and not valid_reference(base):
            hits.append(
                CheckHit(
                    "InvalidDefaultArgInFrom",
                    stage.lines[0],
                    f"Default value for ARG {stage.written_base} results in empty or invalid "
                    "base image name",
                )
            )
    return hits
