"""Why each stage ran or was skipped, and why each step came from the cache or was built.

`result.why()` returns a Why (view.py). A build's explanation is made in three parts: what
each builder's cache compares for each step (inputs.py, with the build context's files from
contextfiles.py), why each stage ran at all (stages.py), and the walk that predicts each step
from those inputs and stagelab's record of earlier builds (ledger.py), then compares the
prediction with the engine's statuses (explain.py). stagelab.why_record runs them around a
real build; a replayed build reads its explanation back from the recording.
"""

from .view import REASONS, Reason, StageWhy, StepWhy, Why

__all__ = ["REASONS", "Reason", "StageWhy", "StepWhy", "Why"]
