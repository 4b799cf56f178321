"""Which build-context files a COPY or ADD reads, and what each holds: the inputs both
builders' caches compare for a copy from the context.

Both builders checksum the content and mode of the files a COPY selects, never their times:
BuildKit through a content hash of the selected paths (moby/buildkit
solver/llbsolver/ops/file.go `CacheMap`, opsutils/contenthash.go), the classic builder through
the source hash in the step's comment (moby/moby builder/dockerfile/internals.go
`performCopy`, `getSourceHashFromInfos`). Files that `.dockerignore` excludes never reach the
engine (moby/patternmatcher, as both read the file); the Dockerfile and `.dockerignore` itself
are context files like any other unless a pattern excludes them. Nothing here asks the engine.
"""

from __future__ import annotations

import hashlib
import os
import re
from dataclasses import dataclass
from pathlib import Path

DOCKERIGNORE = ".dockerignore"
_WILDCARD = re.compile(r"[*?\[]")


@dataclass(frozen=True)
class IgnorePattern:
    """One `.dockerignore` line: a cleaned pattern, and whether `!` re-includes what it matches."""

    pattern: str
    exclusion: bool
    regex: re.Pattern


def read_ignore_patterns(text: str) -> list[IgnorePattern]:
    """Parse `.dockerignore` text as moby/patternmatcher's ignorefile.ReadAll does: one pattern a
    line, `#` comments and blank lines skipped, a leading `/` dropped, `!` for an exception."""
    patterns = []
    for raw in text.splitlines():
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        exclusion = line.startswith("!")
        line = line[1:].strip() if exclusion else line
        cleaned = os.path.normpath(line).lstrip("/") if line not in ("", "/") else "."
        if cleaned == "":
            continue
        patterns.append(IgnorePattern(cleaned, exclusion, _pattern_regex(cleaned)))
    return patterns


def _pattern_regex(pattern: str, folders: bool = True) -> re.Pattern:
    """A pattern as a regular expression over a whole relative path: `*` and `?` never cross a
    `/`; with `folders` (patternmatcher's syntax) `**` matches any number of folders, without
    it (Go's filepath.Match, which COPY sources use) `**` is two `*`."""
    out, at = [], 0
    while at < len(pattern):
        char = pattern[at]
        if folders and pattern.startswith("**", at):
            at += 2
            out.append("(.*/)?" if pattern.startswith("/", at) else ".*")
            at += 1 if pattern.startswith("/", at) else 0
            continue
        at += 1
        if char == "*":
            out.append("[^/]*")
        elif char == "?":
            out.append("[^/]")
        elif char == "[" and pattern.find("]", at) >= 0:
            end = pattern.find("]", at)
            body = pattern[at:end].replace("\\", "\\\\")
            out.append("[" + ("^" + body[1:] if body.startswith("^") else body) + "]")
            at = end + 1
        elif char == "\\" and at < len(pattern):
            out.append(re.escape(pattern[at]))
            at += 1
        else:
            out.append(re.escape(char))
    return re.compile("^" + "".join(out) + "$")


def ignored(path: str, patterns: list[IgnorePattern]) -> bool:
    """Tell whether `.dockerignore` keeps `path` (relative, with `/`) out of the context: the last
    pattern matching the path or one of its parent folders decides (patternmatcher
    `MatchesOrParentMatches`)."""
    parts = path.split("/")
    prefixes = ["/".join(parts[: n + 1]) for n in range(len(parts))]
    verdict = False
    for item in patterns:
        if any(item.regex.match(prefix) for prefix in prefixes):
            verdict = not item.exclusion
    return verdict


@dataclass(frozen=True)
class ContextFile:
    """One entry of the build context: its path (relative, `/`-separated), what it holds (a
    sha256 of its bytes, `dir` for a folder, or `link:TARGET`) and its permission bits."""

    path: str
    digest: str
    mode: int

    @property
    def identity(self) -> str:
        """Return what the caches compare about this entry: content and mode, not its time."""
        return f"{self.digest}:{self.mode:o}"


class BuildContext:
    """The files of a build-context folder that reach the engine, read once and hashed on demand.

    Raises nothing for unreadable entries: they are skipped, as they could not be sent either.
    """

    def __init__(self, root: str | os.PathLike):
        self.root = Path(root)
        ignore = self.root / DOCKERIGNORE
        text = ignore.read_text(errors="replace") if ignore.is_file() else ""
        self.patterns = read_ignore_patterns(text)
        self.paths = self._walk()
        self._digests: dict[str, ContextFile] = {}

    def _walk(self) -> list[str]:
        found = []
        for folder, directories, names in os.walk(self.root):
            relative_folder = Path(folder).relative_to(self.root).as_posix()
            prefix = "" if relative_folder == "." else relative_folder + "/"
            directories.sort()
            for name in sorted(directories + names):
                path = prefix + name
                if not ignored(path, self.patterns):
                    found.append(path)
        return sorted(found)

    def entry(self, path: str) -> ContextFile:
        """Return what one context path holds (hashed the first time it is asked for)."""
        if path not in self._digests:
            full = self.root / path
            if full.is_symlink():
                digest, mode = "link:" + os.readlink(full), 0o777
            elif full.is_dir():
                digest, mode = "dir", full.stat().st_mode & 0o7777
            else:
                digest = hashlib.sha256(full.read_bytes()).hexdigest()
                mode = full.stat().st_mode & 0o7777
            self._digests[path] = ContextFile(path, digest, mode)
        return self._digests[path]

    def select(self, source: str) -> dict[str, str]:
        """Return {path: identity} of the context entries a COPY/ADD source copies.

        `source` is the source as written after variable expansion: a file, a folder (all that
        is under it), `.` (the whole context) or a pattern of Go's filepath.Match (`*`, `?`,
        `[...]`, matched against whole relative paths). A source that matches nothing selects
        nothing (the engine then refuses the step).
        """
        cleaned = os.path.normpath(source.lstrip("/")) if source.strip("/") else "."
        if cleaned == ".":
            chosen = list(self.paths)
        else:
            if _WILDCARD.search(cleaned):
                regex = _pattern_regex(cleaned, folders=False)
                roots = {path for path in self.paths if regex.match(path)}
            else:
                roots = {cleaned} & set(self.paths)
            chosen = [
                path
                for path in self.paths
                if path in roots or any(path.startswith(root + "/") for root in roots)
            ]
        return {path: self.entry(path).identity for path in chosen}
