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


# The largest Dockerfile stagelab reads, in bytes. Neither BuildKit's frontend nor the Docker
# CLI sets a limit for the whole file (the parser's only limit is 64 KiB per line, see
# _failing_line); 1 MiB is far above any Dockerfile a lesson or a lab needs, and a larger file
# would cost seconds and gigabytes to parse before its error could be said.
MAX_DOCKERFILE_BYTES = 1024 * 1024


def refuse_oversized(size: int, what: str = "the text") -> None:
    """Raise DockerfileError when `size` (bytes) is over MAX_DOCKERFILE_BYTES; `what` names
    the file in the message."""
    if size > MAX_DOCKERFILE_BYTES:
        raise DockerfileError(
            f"{what} is {size / 1024 / 1024:.1f} MiB, over stagelab's limit of 1 MiB for a "
            "Dockerfile: is it the right file? A Dockerfile is a few kilobytes of instructions."
        )


@dataclass(frozen=True)
class Instruction:
    """One instruction as the parser returned it: keyword (upper case; `written` as the file
    writes it), flags, words, whether they were a JSON array, and its lines (1-based)."""

    keyword: str
    original: str
    line: int
    end_line: int
    flags: tuple[str, ...]
    value: tuple[str, ...]
    # ONBUILD's instruction, parsed with its own flags (the parser drops them from ONBUILD).
    trigger: Instruction | None = None
    written: str = ""
    json: bool = False

    def flag(self, name: str) -> list[str]:
        """Return the values of every `--name=value` flag, in order (empty when there is none)."""
        prefix = f"--{name}="
        return [f[len(prefix) :] for f in self.flags if f.lower().startswith(prefix)]

    def __str__(self) -> str:
        return self.original.split("\n", 1)[0]


def parse_instructions(text: str) -> list[Instruction]:
    """Parse Dockerfile text into its instructions, in order, as BuildKit's parser package
    splits them (moby/buildkit frontend/dockerfile/parser/parser.go).

    Raises DockerfileError naming the line when the text is not valid UTF-8 (a lone surrogate,
    as from bytes read with surrogateescape) or the parser refuses the text. Whether each
    instruction then parses into its command is parsing.py's question. Text over
    MAX_DOCKERFILE_BYTES is refused before parsing. Empty text (0 bytes) is
    refused as both builders refuse it ("the Dockerfile cannot be empty"); text of only blanks
    or comments as the parser refuses it ("file with no instructions").
    """
    # Each character is at least one byte: only text near the limit needs encoding to tell.
    too_long = len(text) > MAX_DOCKERFILE_BYTES
    refuse_oversized(len(text) if too_long else len(text.encode("utf-8", "surrogatepass")))
    if not text:
        raise DockerfileError(
            "the Dockerfile cannot be empty: write at least a FROM line, as in FROM busybox:1.36",
            line=1,
        )
    _refuse_invalid_text(text)
    try:
        commands = buildkit_parser.parse_string(text)
    except buildkit_parser.GoParseError as error:
        raise DockerfileError(str(error), line=_failing_line(text, str(error))) from None
    lines = text.splitlines()
    escape = escape_char(text)
    return [_instruction(c, lines, escape) for c in commands]


def _instruction(command, lines: list[str], escape: str) -> Instruction:
    trigger = None
    if command.cmd.upper() == "ONBUILD" and command.sub_cmd:
        # The trigger as BuildKit stores it (instructions/parse.go `parseOnBuild`): the line
        # without ONBUILD, then each heredoc's body and closing word, which follow it.
        last = _logical_end(lines, command.start_line, command.end_line, escape)
        expression = "\n".join(
            [re.sub(r"(?is)^\s*ONBUILD\s+", "", command.original)] + lines[last : command.end_line]
        )
        try:
            parsed = buildkit_parser.parse_string(expression + "\n")
        except buildkit_parser.GoParseError as error:
            raise DockerfileError(str(error), line=command.start_line) from None
        trigger = replace(
            _instruction(parsed[0], expression.splitlines(), escape),
            line=command.start_line,
            end_line=command.end_line,
        )
    return Instruction(
        command.cmd.upper(),
        command.original,
        command.start_line,
        command.end_line,
        tuple(command.flags),
        tuple(command.value),
        trigger,
        command.cmd,
        bool(command.json),
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


def _logical_end(lines: list[str], start: int, end: int, escape: str) -> int:
    """Return the 1-based last line of the instruction starting at `start` before its heredoc
    bodies: lines ending in the escape character continue it, and comment or empty lines
    inside it are skipped (parser.go `Parse`)."""
    at = start
    while at < end and lines[at - 1].rstrip(" \t").endswith(escape):
        at += 1
        while at < end and re.match(r"^\s*(#.*)?$", lines[at - 1]):
            at += 1
    return at


def _failing_line(text: str, message: str) -> int | None:
    """Find the line an error of the parser is about, in time linear in the text's length
    (a search over prefixes of the text for the other errors: O(log n) parses)."""
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
    return _first_failing_instruction(lines, escape_char(text))


def _first_failing_instruction(lines: list[str], escape: str) -> int | None:
    """Return where the instruction the parser refuses starts: the shortest prefix of the text
    it refuses ends that instruction, which starts after the last one the rest parses into."""
    low, high = 1, len(lines)
    if _parses(lines[:high]):
        return None
    while low < high:
        middle = (low + high) // 2
        if _parses(lines[:middle]):
            low = middle + 1
        else:
            high = middle
    parsed = buildkit_parser.parse_string("\n".join(lines[: low - 1]) + "\n") if low > 1 else ()
    code = [line for line in lines[: low - 1] if not re.match(r"^\s*(#.*)?$", line)]
    if parsed and code and code[-1].rstrip(" \t").endswith(escape):
        return parsed[-1].start_line  # the line `low` continues that instruction
    after = parsed[-1].end_line if parsed else 0
    return next(
        (n for n in range(after + 1, low + 1) if not re.match(r"^\s*(#.*)?$", lines[n - 1])),
        low,
    )


def _parses(lines: list[str]) -> bool:
    try:
        buildkit_parser.parse_string("\n".join(lines) + "\n")
    except buildkit_parser.GoParseError:
        return False
    return True


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
