"""Predictions: before a build, a lesson asks what it will do; after it, the learner's answer
is compared with what the engine did, and the reasons are shown, never raised.

    stages_run = sl.predict_stages("Which stages will BuildKit run?", dockerfile, answer=None)
    result = sl.build(dockerfile)
    stages_run.check(result)

The learner answers with the buttons under the question, or with `answer=` in the cell where
buttons do not show (nbval, the static site, a terminal).
"""

from __future__ import annotations

from .kinds import (
    CachePrediction,
    FailurePrediction,
    SizePrediction,
    StagePrediction,
    predict,
    predict_cached,
    predict_failure,
    predict_size,
    predict_stages,
)
from .question import Prediction, Verdict

__all__ = [
    "CachePrediction",
    "FailurePrediction",
    "Prediction",
    "SizePrediction",
    "StagePrediction",
    "Verdict",
    "predict",
    "predict_cached",
    "predict_failure",
    "predict_size",
    "predict_stages",
]
