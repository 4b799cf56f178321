"""Dockerfile text to instructions, through the official BuildKit parser (PyPI `dockerfile`)."""

from __future__ import annotations

import re
from dataclasses import dataclass, replace

import dockerfile as buildkit_parser

from ..errors import DockerfileError

# The instructions of the Dockerfile reference (https://docs.docker.com/reference/dockerfile/).
INSTRUCTIONS = {
    "ADD",
    "ARG",
    "CMD",
    "COPY",
    "ENTRYPOINT",
    "ENV",
    "EXPOSE",
    "FROM",
    "HEALTHCHECK",
    "LABEL",
    "MAINTAINER",
    "ONBUILD",
    "RUN",
    "SHELL",
    "STOPSIGNAL",
    "USER",
    "VOLUME",
    "WORKDIR",
}
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
    # ONBUILD's instruction, parsed with its own flags (the parser drops them from ONBUILD).
    trigger: Instruction | None = None

    def flag(self, name: str) -> list[str]:
        """Return the values of every `--name=value` flag, in order (empty when there is none)."""
        prefix = f"--{name}="
        return [f[len(prefix) :] for f in self.flags if f.lower().startswith(prefix)]

    def __str__(self) -> str:
        return self.original.split("\n", 1)[0]


def parse_instructions(text: str) -> list[Instruction]:
    """Parse Dockerfile text into its instructions, in order.

    Raises DockerfileError naming the line when the text is not valid UTF-8 (a lone surrogate,
    as from bytes read with surrogateescape), the parser refuses the text, an instruction is
    unknown or lacks its arguments, something other than ARG comes before the first FROM, or
    there is no FROM at all.
    """
    _refuse_invalid_text(text)
    try:
        commands = buildkit_parser.parse_string(text)
    except buildkit_parser.GoParseError as error:
        raise DockerfileError(str(error), line=_failing_line(text, str(error))) from None
    instructions = [_instruction(c) for c in commands]
    seen_from = False
    for ins in instructions:
        if ins.keyword not in INSTRUCTIONS:
            raise DockerfileError(f"unknown instruction {ins.keyword}", line=ins.line)
        if ins.keyword in NEEDS_ARGUMENTS and not any(v.strip() for v in ins.value):
            raise DockerfileError(f"{ins.keyword} needs at least one argument", line=ins.line)
        if ins.keyword == "FROM":
            seen_from = True
        elif not seen_from and ins.keyword != "ARG":
            raise DockerfileError(
                f"{ins.keyword} comes before the first FROM: only ARG may "
                "appear there; start a stage with FROM first",
                line=ins.line,
            )
    if not seen_from:
        raise DockerfileError("no FROM instruction: a Dockerfile needs at least one stage")
    return instructions


def _instruction(command) -> Instruction:
    trigger = None
    if command.cmd.upper() == "ONBUILD" and command.sub_cmd:
        expression = re.sub(r"(?is)^\s*ONBUILD\s+", "", command.original)
        parsed = buildkit_parser.parse_string(expression)
        trigger = replace(
            _instruction(parsed[0]), line=command.start_line, end_line=command.end_line
        )
    return Instruction(
        command.cmd.upper(),
        command.original,
        command.start_line,
        command.end_line,
        tuple(command.flags),
        tuple(command.value),
        trigger,
    )


def _refuse_invalid_text(text: str) -> None:
    """Refuse text the parser library cannot take: a lone surrogate aborts the process."""
    match = _SURROGATE.search(text)
    if match:
        line = text.count("\n", 0, match.start()) + 1
        raise DockerfileError(
            "this line is not valid UTF-8 text (a byte such as "
            f"{_escaped_byte(match.group())} that no UTF-8 character "
            "makes): save the Dockerfile as UTF-8",
            line=line,
        )


def _escaped_byte(char: str) -> str:
    code = ord(char)
    return f"\\x{code - 0xDC00:02x}" if 0xDC80 <= code <= 0xDCFF else f"U+{code:04X}"


def _failing_line(text: str, message: str) -> int | None:
    """Find the line an error of the parser is about, in time linear in the text's length."""
    lines = text.splitlines()
    if "unterminated heredoc" in message:
        return _unterminated_heredoc(lines)
    if "max allowed size" in message:
        return next((n for n, line in enumerate(lines, 1) if len(line) > 65535), None)
    if "escape" in message:
        return next(
            (
                n
                for n, line in enumerate(lines, 1)
                if re.match(r"^\s*#\s*escape\s*=", line, re.IGNORECASE)
            ),
            None,
        )
    return None


# A heredoc's opening word, as the parser reads it: <<EOF, <<-EOF, <<"EOF", <<'EOF'.
_HEREDOC = re.compile(r"<<(-?)\s*([\"']?)([A-Za-z0-9_.-]+)\2")
_HEREDOC_INSTRUCTION = re.compile(r"^\s*(RUN|COPY|ADD)\b", re.IGNORECASE)
_SURROGATE = re.compile("[\ud800-\udfff]")


def _unterminated_heredoc(lines: list[str]) -> int | None:
    """Return the line of the first heredoc whose closing word never comes (one pass)."""
    open_heredocs: list[tuple[int, bool, str]] = []  # (line, strip tabs, closing word)
    for number, line in enumerate(lines, 1):
        if open_heredocs:
            _, strip_tabs, word = open_heredocs[0]
            if (line.lstrip("\t") if strip_tabs else line) == word:
                open_heredocs.pop(0)
            continue
        if _HEREDOC_INSTRUCTION.match(line):
            open_heredocs = [(number, bool(dash), word) for dash, _, word in _HEREDOC.findall(line)]
    return open_heredocs[0][0] if open_heredocs else None


def escape_char(text: str) -> str:
    """Return the escape character the `# escape=` parser directive sets (default backslash)."""
    for line in text.splitlines():
        match = re.match(r"^\s*#\s*escape\s*=\s*(\S)", line, re.IGNORECASE)
        if match:
            return match.group(1)
        if not re.match(r"^\s*#\s*\w+\s*=", line):
            break
    return "\\"
