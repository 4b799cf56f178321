"""Exceptions: one base carrying the command, exit code and output, with narrow subclasses."""

from __future__ import annotations


class StagelabError(Exception):
    """Base of every stagelab error; its message is short and says what to do."""

    def __init__(
        self,
        message: str,
        *,
        command: list[str] | None = None,
        exit_code: int | None = None,
        output: str = "",
    ):
        super().__init__(message)
        self.command = command
        self.exit_code = exit_code
        self.output = output

        self.note = ""

    def explain(self, note: str) -> None:
        """Add `note` (why it failed, what to do) to the end of the message; "" adds nothing."""
        if note:
            self.note = note
            self.args = (f"{self.args[0]}\n{note}", *self.args[1:])

    def _render_traceback_(self) -> list[str]:
        # IPython shows this instead of a traceback wall: the message is the advice.
        return [f"{type(self).__name__}: {self}"]


class DockerfileError(StagelabError):
    """A Dockerfile that does not parse or breaks a rule; names the line."""

    def __init__(self, message: str, *, line: int | None = None):
        where = f"Dockerfile line {line}: " if line else "Dockerfile: "
        super().__init__(where + message)
        self.line = line


class BuildContextError(StagelabError):
    """A build context cannot be made as asked: a file name outside it, or no such folder."""


class EngineUnavailable(StagelabError):
    """No Docker engine answers; the message is the doctor's advice."""


class ProvisionError(StagelabError):
    """stagelab could not install or start a piece it needs."""


class ImageUnavailable(StagelabError):
    """A base image is neither present, pullable nor buildable as a stand-in."""


class RunFailed(StagelabError):
    """A command run in a container exited non-zero; `exit_code` and `output` say how."""


class RunTimedOut(RunFailed):
    """A command run in a container did not end in time; it was stopped and removed."""


class ClaimFailed(AssertionError):
    """A lesson's claim does not hold on the real result (`sl.claim`): names the claim and
    what was seen. An AssertionError, so a notebook stops there as it would on `assert`."""


class BuildFailed(StagelabError):
    """A build failed: names the stage, the instruction, its line and exit code."""

    def __init__(
        self,
        *,
        stage: str | None,
        instruction: str | None,
        line: int | None,
        exit_code: int | None,
        log_tail: str,
        command: list[str] | None = None,
        reason: str = "",
        log: str = "",
        result=None,
        advice: str = "",
    ):
        self.stage = stage
        self.advice = advice
        self.instruction = instruction
        self.line = line
        self.log_tail = log_tail
        self.reason = reason
        self.result = result
        # Set when a notebook's progress board has shown this failure in full.
        self.shown = False
        head = f"Build failed in stage {stage!r}" if stage is not None else "Build failed"
        if line:
            head += f", Dockerfile line {line}"
        self.headline = head + (f", exit code {exit_code}" if exit_code is not None else "")
        lines = [head + ":"]
        if instruction:
            lines.append(f"  {instruction}")
        if exit_code is not None:
            lines.append(
                f"  exit code {exit_code}"
                + (f" ({_EXIT_MEANINGS[exit_code]})" if exit_code in _EXIT_MEANINGS else "")
            )
        elif reason:
            lines.append(f"  {reason}")
        if advice:  # what the failure means and what to do, in plain words
            lines.append(f"  {advice}")
        # Show the log's tail unless it is only the reason, already shown above.
        if log_tail and not (exit_code is None and log_tail.strip() == reason.strip()):
            lines.append("  last lines of the log:")
            lines.extend("    " + part for part in log_tail.splitlines())
        super().__init__("\n".join(lines), command=command, exit_code=exit_code, output=log)

    def _render_traceback_(self) -> list[str]:
        if self.shown:  # the board above shows the whole message: do not repeat it
            return [f"BuildFailed: {self.headline} (shown above)", *self.note.splitlines()]
        return super()._render_traceback_()


_EXIT_MEANINGS = {
    127: "command not found in this stage",
    126: "command found but not executable",
    1: "the command reported an error",
    2: "the command was used wrongly",
    137: "killed, often out of memory",
}
