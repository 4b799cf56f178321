"""Variable substitution in Dockerfile words, as BuildKit's shell lexer does it in FROM lines."""

from __future__ import annotations

import re

from .instructions import Instruction

_VARIABLE = re.compile(r"\$(?:\{(?P<braced>[A-Za-z_][A-Za-z0-9_]*)(?:(?P<op>:?[-+])"
                       r"(?P<word>[^}]*))?\}|(?P<plain>[A-Za-z_][A-Za-z0-9_]*))")


def expand(word: str, env: dict[str, str | None], escape: str = "\\") -> str:
    """Expand $VAR, ${VAR}, ${VAR:-default} and ${VAR:+alt} in a word; unset expands to ""."""
    out = []
    position = 0
    while position < len(word):
        if word[position] == escape and position + 1 < len(word) and word[position + 1] == "$":
            out.append("$")
            position += 2
            continue
        match = _VARIABLE.match(word, position)
        if not match:
            out.append(word[position])
            position += 1
            continue
        name = match.group("braced") or match.group("plain")
        value = env.get(name)
        op, alt = match.group("op"), match.group("word") or ""
        if op in (":-", "-"):
            unset = value is None or (op == ":-" and value == "")
            value = expand(alt, env, escape) if unset else value
        elif op in (":+", "+"):
            isset = value is not None and (op == "+" or value != "")
            value = expand(alt, env, escape) if isset else ""
        out.append(value or "")
        position = match.end()
    return "".join(out)


def unquote(value: str) -> str:
    """Remove one pair of matching outer quotes."""
    if len(value) >= 2 and value[0] == value[-1] and value[0] in "\"'":
        return value[1:-1]
    return value


def arg_pairs(ins: Instruction, env: dict[str, str | None]) -> dict[str, str | None]:
    """Return the names an ARG or ENV declares, with their expanded values (None: no default)."""
    pairs = {}
    for word in ins.value:
        key, sep, value = word.partition("=")
        pairs[key] = expand(unquote(value), env) if sep else None
    return pairs


def global_args(instructions: list[Instruction]) -> dict[str, str | None]:
    """Return the ARGs declared before the first FROM, with their defaults."""
    args: dict[str, str | None] = {}
    for ins in instructions:
        if ins.keyword == "FROM":
            break
        args.update(arg_pairs(ins, args))
    return args
