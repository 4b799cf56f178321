"""Dockerfile text to instructions, through the official BuildKit parser (PyPI `dockerfile`)."""

from __future__ import annotations

import re
from dataclasses import dataclass

import dockerfile as buildkit_parser

from ..errors import DockerfileError

# The instructions of the Dockerfile reference (https://docs.docker.com/reference/dockerfile/).
INSTRUCTIONS = {"ADD", "ARG", "CMD", "COPY", "ENTRYPOINT", "ENV", "EXPOSE", "FROM",
                "HEALTHCHECK", "LABEL", "MAINTAINER", "ONBUILD", "RUN", "SHELL", "STOPSIGNAL",
                "USER", "VOLUME", "WORKDIR"}
NEEDS_ARGUMENTS = INSTRUCTIONS - {"CMD", "ENTRYPOINT"}


@dataclass(frozen=True)
class Instruction:
    """One instruction as the parser returned it: keyword, flags, words and its lines (1-based)."""

    keyword: str
    original: str
    line: int
    end_line: int
    flags: tuple[str, ...]
    value: tuple[str, ...]

    def flag(self, name: str) -> list[str]:
        """Return the values of every `--name=value` flag, in order (empty when there is none)."""
        prefix = f"--{name}="
        return [f[len(prefix):] for f in self.flags if f.lower().startswith(prefix)]

    def __str__(self) -> str:
        return self.original.split("\n", 1)[0]


def parse_instructions(text: str) -> list[Instruction]:
    """Parse Dockerfile text into its instructions, in order.

    Raises DockerfileError naming the line when the parser refuses the text, an instruction is
    unknown or lacks its arguments, something other than ARG comes before the first FROM, or
    there is no FROM at all.
    """
    try:
        commands = buildkit_parser.parse_string(text)
    except buildkit_parser.GoParseError as error:
        raise DockerfileError(str(error), line=_first_failing_line(text)) from None
    instructions = [Instruction(c.cmd.upper(), c.original, c.start_line, c.end_line,
                                tuple(c.flags), tuple(c.value)) for c in commands]
    seen_from = False
    for ins in instructions:
        if ins.keyword not in INSTRUCTIONS:
            raise DockerfileError(f"unknown instruction {ins.keyword}", line=ins.line)
        if ins.keyword in NEEDS_ARGUMENTS and not any(v.strip() for v in ins.value):
            raise DockerfileError(f"{ins.keyword} needs at least one argument", line=ins.line)
        if ins.keyword == "FROM":
            seen_from = True
        elif not seen_from and ins.keyword != "ARG":
            raise DockerfileError(f"{ins.keyword} comes before the first FROM: only ARG may "
                                  "appear there; start a stage with FROM first", line=ins.line)
    if not seen_from:
        raise DockerfileError("no FROM instruction: a Dockerfile needs at least one stage")
    return instructions


def _first_failing_line(text: str) -> int | None:
    """Find the first line at which the parser fails, for errors that name none."""
    lines = text.splitlines(keepends=True)
    for count in range(1, len(lines) + 1):
        try:
            buildkit_parser.parse_string("".join(lines[:count]))
        except buildkit_parser.GoParseError as error:
            if "no instructions" not in str(error):
                return _first_line_of_instruction(lines, count)
    return None


def _first_line_of_instruction(lines: list[str], count: int) -> int:
    # A heredoc fails from its opening line on; report that line, not where the file ends.
    for number in range(count, 0, -1):
        if "<<" in lines[number - 1]:
            return number
    return count


def escape_char(text: str) -> str:
    """Return the escape character the `# escape=` parser directive sets (default backslash)."""
    for line in text.splitlines():
        match = re.match(r"^\s*#\s*escape\s*=\s*(\S)", line, re.IGNORECASE)
        if match:
            return match.group(1)
        if not re.match(r"^\s*#\s*\w+\s*=", line):
            break
    return "\\"
