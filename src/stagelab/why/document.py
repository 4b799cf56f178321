"""Which Dockerfile a recorded step came from, so that "this step, last time" is never a step
of another Dockerfile that happened to be built at the same line on the same parent (two
Dockerfiles whose stages start FROM the same image share that parent).

Neither builder's cache cares which Dockerfile made a step (moby/moby builder/dockerfile
imageprobe.go looks a step up by its parent image and configuration; BuildKit by its operation
and inputs), so a cache hit needs no Dockerfile identity. Only the reason for a rebuild does:
"the instruction's text changed (last time: ...)" must quote this Dockerfile's own last text.

A build of a folder names its Dockerfile by its path. A build of Dockerfile text has no path,
so stagelab compares shapes: the same FROM lines and the same kind of instruction at every
line. An edited RUN, COPY or ARG keeps the shape; a step of another Dockerfile of the same shape,
whose stage is the same up to that step, is what stagelab cannot tell from this Dockerfile
edited. Where neither holds, stagelab says it has no earlier build of the step.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass


@dataclass(frozen=True)
class Document:
    """A Dockerfile as the record names it: `file`, the Dockerfile's resolved path for a build
    of a folder (None for Dockerfile text), and its shape: each instruction's line and keyword,
    and the whole text of each FROM."""

    file: str | None
    shape: tuple[tuple[int, str], ...]

    @classmethod
    def of(cls, dockerfile, file: str | None = None) -> Document:
        """Return the document of a parsed Dockerfile (stagelab.dockerfile.Dockerfile)."""
        shape = tuple(
            (ins.line, ins.original if ins.keyword == "FROM" else ins.keyword)
            for ins in dockerfile.instructions
        )
        return cls(file, shape)

    def mark(self) -> dict:
        """Return what each step records of its Dockerfile: the file and a digest of the shape."""
        digest = hashlib.sha256(json.dumps(self.shape).encode()).hexdigest()[:24]
        return {"file": self.file, "shape": digest}


def same_document(recorded: dict, mark: dict) -> bool:
    """Tell whether a recorded step's detail comes from the Dockerfile `mark` describes: the
    same file, or the same shape. A step recorded with no mark (by an earlier stagelab) cannot
    be told apart, so it is not taken."""
    old = recorded.get("document")
    if not isinstance(old, dict):
        return False
    if mark.get("file") and old.get("file") == mark["file"]:
        return True
    return old.get("shape") == mark["shape"]
