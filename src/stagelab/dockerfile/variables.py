"""Variable substitution in Dockerfile words, as both builders do it.

A port of BuildKit's shell lexer (moby/buildkit frontend/dockerfile/shell/lex.go), which the
classic builder vendors too: quotes are removed, `$VAR`, `${VAR}`, `${VAR:-word}`,
`${VAR-word}`, `${VAR:+word}`, `${VAR+word}`, `${VAR:?message}`, `${VAR#pattern}`,
`${VAR##pattern}`, `${VAR%pattern}`, `${VAR%%pattern}`, `${VAR/pattern/text}` and
`${VAR//pattern/text}` expand; an unset variable expands to "".
"""

from __future__ import annotations

import re

from ..errors import DockerfileError
from .instructions import Instruction

_SPECIAL_PARAMETERS = "@*#?-$!0"


class _Lexer:
    """One word being expanded: the text, where the scanner is, and the variables seen."""

    def __init__(self, word: str, env: dict[str, str | None], escape: str):
        self.text = word
        self.at = 0
        self.env = env
        self.escape = escape
        self.raw_escapes = False
        self.used: set[str] = set()
        self.unmatched: set[str] = set()

    def peek(self) -> str:
        return self.text[self.at] if self.at < len(self.text) else ""

    def next(self) -> str:
        char = self.peek()
        self.at += 1 if char else 0
        return char

    def until(self, stop: str, raw_escapes: bool = False) -> str:
        """Expand up to `stop` (consumed; "" means the end of the word)."""
        outer, self.raw_escapes = self.raw_escapes, raw_escapes
        try:
            out = []
            while self.peek():
                char = self.peek()
                if stop and char == stop:
                    self.next()
                    return "".join(out)
                if char == "$":
                    out.append(self.dollar())
                elif char == "'":
                    out.append(self.single_quoted())
                elif char == '"':
                    out.append(self.double_quoted())
                else:
                    self.next()
                    if char == self.escape:
                        if self.raw_escapes:
                            out.append(char)
                        char = self.next()
                        if not char:
                            break
                    out.append(char)
            if stop:
                raise ValueError(f"unexpected end of statement while looking for matching {stop}")
            return "".join(out)
        finally:
            self.raw_escapes = outer

    def single_quoted(self) -> str:
        self.next()
        end = self.text.find("'", self.at)
        if end < 0:
            raise ValueError("unexpected end of statement while looking for matching single-quote")
        value, self.at = self.text[self.at : end], end + 1
        return value

    def double_quoted(self) -> str:
        self.next()
        out = []
        while True:
            char = self.peek()
            if not char:
                raise ValueError(
                    "unexpected end of statement while looking for matching double-quote"
                )
            if char == '"':
                self.next()
                return "".join(out)
            if char == "$":
                out.append(self.dollar())
                continue
            self.next()
            if char == self.escape:
                if self.raw_escapes:
                    out.append(char)
                if not self.peek():
                    continue
                if self.peek() in ('"', "$", self.escape):
                    char = self.next()
            out.append(char)

    def name(self) -> str:
        start = self.at
        if self.peek().isdigit():
            while self.peek().isdigit():
                self.next()
            return self.text[start : self.at]
        if self.peek() and self.peek() in _SPECIAL_PARAMETERS:
            return self.next()
        while self.peek() and (self.peek().isalnum() or self.peek() == "_"):
            self.next()
        return self.text[start : self.at]

    def lookup(self, name: str) -> tuple[str, bool]:
        value = self.env.get(name)
        if value is None:
            self.unmatched.add(name)
            return "", False
        self.used.add(name)
        return value, True

    def dollar(self) -> str:
        self.next()
        if self.peek() != "{":
            name = self.name()
            return self.lookup(name)[0] if name else "$"
        self.next()
        if not self.peek():
            raise ValueError("syntax error: missing '}'")
        if self.peek() in "{}:":
            raise ValueError("syntax error: bad substitution")
        name = self.name()
        op = self.next()
        if op == "}":
            return self.lookup(name)[0]
        if op == "/":
            return self.replace(name)
        null_is_unset = op == ":"
        if null_is_unset:
            op = self.next()
        if not op or op not in "+-?#%":
            raise ValueError(
                f"unsupported modifier ({':' if null_is_unset else ''}{op}) in substitution"
            )
        try:
            word = self.until("}", raw_escapes=op in "#%")
        except ValueError:
            if not self.peek():
                raise ValueError("syntax error: missing '}'") from None
            raise
        value, is_set = self.lookup(name)
        empty = not is_set or (null_is_unset and value == "")
        if op == "-":
            return word if empty else value
        if op == "+":
            return "" if empty else word
        if op == "?":
            if empty:
                unset = "unset" if not is_set else "empty"
                raise ValueError(f"{name}: {word or f'is not allowed to be {unset}'}")
            return value
        greedy = word.startswith(op)
        pattern = word[1:] if greedy else word
        if op == "#":
            return _trim_prefix(pattern, value, greedy)
        reversed_pattern = _reverse_pattern(pattern)
        return _trim_prefix(reversed_pattern, value[::-1], greedy)[::-1]

    def replace(self, name: str) -> str:
        every = self.peek() == "/"
        if every:
            self.next()
        pattern = self.until("/", raw_escapes=True)
        replacement = self.until("}", raw_escapes=True)
        value, _ = self.lookup(name)
        regex = _pattern_regex(pattern, greedy=True, anchored=False)
        return regex.sub(lambda _: replacement, value, count=0 if every else 1)


def _pattern_regex(pattern: str, greedy: bool, anchored: bool) -> re.Pattern:
    """A shell wildcard pattern (`*`, `?`, backslash escapes) as a regular expression."""
    out = ["^"] if anchored else []
    star = ".*" if greedy else ".*?"
    at = 0
    while at < len(pattern):
        char = pattern[at]
        at += 1
        if char == "*":
            out.append(star)
        elif char == "?":
            out.append(".")
        elif char == "\\":
            if at < len(pattern) and pattern[at] in "}/":
                continue
            escaped = pattern[at] if at < len(pattern) else ""
            at += 1
            if escaped not in ("*", "?", "\\"):
                raise ValueError(f"invalid escape '\\{escaped}'")
            out.append(re.escape(escaped))
        else:
            out.append(re.escape(char))
    return re.compile("".join(out), re.DOTALL)


def _trim_prefix(pattern: str, value: str, greedy: bool) -> str:
    match = _pattern_regex(pattern, greedy, anchored=True).search(value)
    return value[match.end() :] if match else value


def _reverse_pattern(pattern: str) -> str:
    """Reverse a pattern, keeping each escape before the character it escapes."""
    tokens = []
    at = 0
    while at < len(pattern):
        if pattern[at] == "\\" and at + 1 < len(pattern):
            tokens.append(pattern[at : at + 2])
            at += 2
        else:
            tokens.append(pattern[at])
            at += 1
    return "".join(reversed(tokens))


def expand_word(word: str, env: dict[str, str | None], escape: str = "\\") -> tuple[str, set[str]]:
    """Expand one word as BuildKit does; return it and the names of the variables it used.

    `env` maps names to values (None: declared without a value, which expands like unset).
    Raises ValueError, with the lexer's own message, for a malformed substitution.
    """
    lexer = _Lexer(word, env, escape)
    return lexer.until(""), lexer.used


def expand_matches(
    word: str, env: dict[str, str | None], escape: str = "\\"
) -> tuple[str, set[str], set[str]]:
    """Expand one word; return it, the variables it found and those it looked up in vain
    (shell/lex.go `ProcessWordWithMatches`: what UndefinedVar and UndefinedArgInFrom report).

    Raises ValueError, with the lexer's own message, for a malformed substitution.
    """
    lexer = _Lexer(word, env, escape)
    result = lexer.until("")
    return result, lexer.used, lexer.unmatched


def expand(word: str, env: dict[str, str | None], escape: str = "\\") -> str:
    """Expand variables and remove quotes in a word, as BuildKit's shell lexer does.

    Returns the expanded word; raises ValueError for a malformed substitution.
    """
    return expand_word(word, env, escape)[0]


def arg_pairs(
    ins: Instruction, env: dict[str, str | None], escape: str = "\\"
) -> dict[str, str | None]:
    """Return the names an ARG or ENV declares, with their expanded values (None: no default).

    Raises DockerfileError naming the line for a malformed substitution.
    """
    pairs = {}
    for word in ins.value:
        key, sep, value = word.partition("=")
        try:
            pairs[key] = expand(value, env, escape) if sep else None
        except ValueError as error:
            raise DockerfileError(f"{ins.keyword} {word}: {error}", line=ins.line) from None
    return pairs


def global_args(instructions: list[Instruction], escape: str = "\\") -> dict[str, str | None]:
    """Return the ARGs declared before the first FROM, with their defaults expanded (None: no
    default; a default that does not expand, as `${NAME:?message}` with NAME unset, as
    written: whether a builder refuses it is the planner's question, see rules.from_env)."""
    args: dict[str, str | None] = {}
    for ins in instructions:
        if ins.keyword == "FROM":
            break
        for word in ins.value:
            key, equals, default = word.partition("=")
            try:
                args[key] = expand(default, args, escape) if equals else None
            except ValueError:
                args[key] = default
    return args
