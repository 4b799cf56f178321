"""Which Dockerfile a recorded step came from, so that "this step, last time" is never a step
of another Dockerfile that happened to be built at the same line on the same parent (two
Dockerfiles whose first stage starts FROM the same image share that parent).

Both builders' caches do not care which Dockerfile made a step (moby/moby builder/dockerfile
imageprobe.go looks a step up by its parent image and configuration; BuildKit by its operation
and inputs), so a cache hit needs no Dockerfile identity. Only the reason for a rebuild does:
"the instruction's text changed (last time: ...)" must quote this Dockerfile's own last text.

A build of a folder names its Dockerfile by its path. A build of Dockerfile text has no path,
so stagelab can only compare texts: an earlier step counts as this step's last build when
its Dockerfile was the same text in every other instruction, at the same lines. Where neither
holds, stagelab cannot know that the step is the same, and says it has no earlier build of it.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass


@dataclass(frozen=True)
class Document:
    """A Dockerfile as the record names it: `file`, the Dockerfile's resolved path for a build
    of a folder (None for Dockerfile text), and every instruction as (line, text as written)."""

    file: str | None
    instructions: tuple[tuple[int, str], ...]

    @classmethod
    def of(cls, dockerfile, file: str | None = None) -> Document:
        """Return the document of a parsed Dockerfile (stagelab.dockerfile.Dockerfile)."""
        return cls(file, tuple((ins.line, ins.original) for ins in dockerfile.instructions))

    def mark(self, line: int | None) -> dict:
        """Return what a step at `line` records of its Dockerfile: the file, and a digest of
        every other instruction with its line."""
        others = [[at, text] for at, text in self.instructions if at != line]
        digest = hashlib.sha256(json.dumps(others).encode()).hexdigest()[:24]
        return {"file": self.file, "others": digest}


def same_document(recorded: dict, mark: dict) -> bool:
    """Tell whether a recorded step's detail comes from the Dockerfile `mark` describes: the
    same file, or the same text but for the step's own instruction. A step recorded with no
    mark (by an earlier stagelab) cannot be told apart, so it is not taken."""
    old = recorded.get("document")
    if not isinstance(old, dict):
        return False
    if mark.get("file") and old.get("file") == mark["file"]:
        return True
    return old.get("others") == mark["others"]
