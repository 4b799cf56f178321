"""What a builder meets when it dispatches a stage's steps: the words it expands (with the
ARGs and ENVs in scope), the ARG defaults, the values it validates then, and the build
checks that fire there (BuildKit only).

BuildKit dispatches every stage the target needs before running anything (moby/buildkit
frontend/dockerfile/dockerfile2llb/convert.go `dispatch`, `dispatchArg`, `dispatchEnv`, ...;
validations.go for the checks), so what fails here refuses the build before any step runs.
The classic builder dispatches step by step while it builds (moby/moby builder/dockerfile/
evaluator.go `dispatch`, dispatchers.go), so the same failure stops it at that step, after the
stages and steps above ran. The two differ on ARG defaults: BuildKit expands a default only
when no build arg replaces it, the classic builder always. Nothing here raises.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field, replace

from .frontend import Frontend
from .instructions import Instruction
from .parsing import parse_refusal
from .rules import CheckHit
from .stages import Stage
from .variables import expand_matches

# Every stage has PATH: BuildKit sets it when the image does not (convert.go), and the
# planner knows no image's other variables.
IMAGE_ENV = {"PATH": "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"}
_SECRET = re.compile(
    r"(?i)(?:_|^)(?:apikey|auth|credential|credentials|key|password|pword|passwd|secret|token)"
    r"(?:_|$)"
)
_NOT_SECRET = re.compile(r"(?i)(?:_|^)(?:public|file|version)(?:_|$)")
# moby/sys/signal's names of Linux signals (signal_linux.go), without the SIG prefix.
_SIGNALS = {
    "ABRT", "ALRM", "BUS", "CHLD", "CLD", "CONT", "FPE", "HUP", "ILL", "INT", "IO", "IOT",
    "KILL", "PIPE", "POLL", "PROF", "PWR", "QUIT", "SEGV", "STKFLT", "STOP", "SYS", "TERM",
    "TRAP", "TSTP", "TTIN", "TTOU", "URG", "USR1", "USR2", "VTALRM", "WINCH", "XCPU", "XFSZ",
    "RTMIN", "RTMAX",
}  # fmt: skip
_MOUNT_TYPES = {"bind", "cache", "tmpfs", "secret", "ssh"}
_MOUNT_KEYS = {
    "type", "from", "source", "src", "target", "dst", "destination", "readonly", "ro",
    "readwrite", "rw", "id", "sharing", "required", "mode", "uid", "gid", "size", "env",
}  # fmt: skip
_MOUNT_BOOLS = {"readonly", "ro", "readwrite", "rw", "required"}


@dataclass
class StageState:
    """What a stage hands the stages built FROM it: variables, declared ARGs, and whether a
    SHELL or an absolute WORKDIR was set in this Dockerfile."""

    env: dict[str, str | None] = field(default_factory=lambda: dict(IMAGE_ENV))
    args: set[str] = field(default_factory=set)
    shell: bool = False
    workdir: bool = False


@dataclass
class Dispatched:
    """One stage dispatched: the steps refused, in order, as (instruction, the builder's
    sentence, advice), the build checks that fired, and the state it hands on."""

    refused: list[tuple[Instruction, str, str]]
    hits: list[CheckHit]
    state: StageState


def dispatch_stage(
    stage: Stage,
    builder: str,
    inherited: StageState | None,
    meta: dict[str, str | None],
    build_args: dict[str, str],
    escape: str,
    frontend: Frontend,
    triggers: list[Instruction],
) -> Dispatched:
    """Dispatch `stage` as `builder` does: its parent's ONBUILD `triggers` first (at the
    stage's FROM line), then its steps. `meta` holds the meta ARGs' values (a stage sees one
    it declares again), `inherited` the state of the stage it starts FROM (None: an image)."""
    state = inherited_state(inherited, builder)
    walk = _Walk(stage, builder, state, meta, build_args, escape, frontend)
    for trigger in triggers:
        walk.step(replace(trigger, line=stage.lines[0], end_line=stage.lines[0]), trigger=True)
    for ins in stage.steps:
        walk.step(ins)
    return Dispatched(walk.refused, walk.hits, state)


def inherited_state(parent: StageState | None, builder: str) -> StageState:
    """Return the state a stage starts with. BuildKit carries a parent stage's ARGs on (its
    state's env, convert.go `dispatchState.init`); the classic builder only its ENVs."""
    if parent is None:
        return StageState()
    if builder == "buildkit":
        return StageState(dict(parent.env), set(parent.args), parent.shell, parent.workdir)
    env = {k: v for k, v in parent.env.items() if k not in parent.args or k in IMAGE_ENV}
    return StageState(env, set(), parent.shell, parent.workdir)


class _Walk:
    """Dispatching one stage's steps, one at a time."""

    def __init__(self, stage, builder, state, meta, build_args, escape, frontend):
        self.stage, self.builder, self.state = stage, builder, state
        self.meta, self.build_args, self.escape, self.frontend = meta, build_args, escape, frontend
        self.refused: list[tuple[Instruction, str, str]] = []
        self.hits: list[CheckHit] = []
        self.once: dict[str, Instruction] = {}

    def hit(self, rule: str, ins: Instruction, message: str) -> None:
        if self.builder == "buildkit":
            self.hits.append(CheckHit(rule, ins.line, message, self.stage.index))

    def refuse(self, ins: Instruction, reason: str, advice: str = "") -> None:
        self.refused.append((ins, reason, advice))

    def expand(self, ins: Instruction, word: str) -> str | None:
        """Expand `word` with the variables in scope; refuse the step where it does not."""
        try:
            result, _, unmatched = expand_matches(word, self.state.env, self.escape)
        except ValueError as error:
            self.refuse(
                ins,
                f'failed to process "{word}": {error}',
                _expansion_advice(word, str(error)),
            )
            return None
        for name in sorted(unmatched - self.state.args):
            self.hit("UndefinedVar", ins, f"Usage of undefined variable '${name}'")
        return result

    def step(self, ins: Instruction, trigger: bool = False) -> None:
        if trigger:
            refused = parse_refusal(ins, self.frontend)
            if refused is not None:
                self.refuse(ins, *refused)
                return
        keyword = ins.keyword
        if self.builder == "classic" and self._classic_lacks(ins):
            return
        if keyword == "ARG":
            self._arg(ins)
            return
        words = [self.expand(ins, w) for w in _expanded_words(ins)]
        if any(w is None for w in words):
            return
        check = getattr(self, f"_{keyword.lower()}", None)
        if check is not None:
            check(ins, words)

    def _classic_lacks(self, ins: Instruction) -> bool:
        for (keyword, flag), sentence in self.frontend.classic_lacks.items():
            if ins.keyword == keyword and ins.flag(flag):
                self.refuse(ins, sentence, classic_advice(f"{keyword} --{flag}"))
                return True
        if ins.keyword in ("COPY", "ADD") and any(v.startswith("<<") for v in ins.value):
            self.refuse(
                ins,
                f"{ins.keyword} failed: no source files were specified",
                classic_advice(f"heredocs in {ins.keyword}"),
            )
            return True
        return False

    def _arg(self, ins: Instruction) -> None:
        for word in ins.value:
            key, equals, default = word.partition("=")
            self._secret("ARG", key, ins)
            value: str | None = None
            given = key in self.build_args
            if not equals and not given and self.meta.get(key) is not None:
                value = self.meta[key]
            if equals and (self.builder == "classic" or not given):
                value = self.expand(ins, default)
                if value is None:
                    return
            if given:
                value = self.build_args[key]
            if value is not None:
                self.state.env[key] = value
            self.state.args.add(key)

    def _secret(self, keyword: str, key: str, ins: Instruction) -> None:
        if _SECRET.search(key) and not _NOT_SECRET.search(key):
            self.hit(
                "SecretsUsedInArgOrEnv",
                ins,
                f'Do not use ARG or ENV instructions for sensitive data ({keyword} "{key}")',
            )

    def _env(self, ins: Instruction, words: list[str]) -> None:
        self._key_values("ENV", ins)
        for key, value in zip(words[0::2], words[1::2]):
            self._secret("ENV", key, ins)
            self.state.env[key] = value

    def _label(self, ins: Instruction, words: list[str]) -> None:
        self._key_values("LABEL", ins)

    def _key_values(self, keyword: str, ins: Instruction) -> None:
        rest = re.sub(r"(?is)^\s*\w+\s+", "", ins.original).lstrip()
        if rest and "=" not in rest.split(None, 1)[0]:
            self.hit(
                "LegacyKeyValueFormat",
                ins,
                f'"{keyword} key=value" should be used instead of legacy "{keyword} key value" '
                "format",
            )

    def _shell(self, ins: Instruction, words: list[str]) -> None:
        self.state.shell = True

    def _cmd(self, ins: Instruction, words: list[str]) -> None:
        self._used_once(ins)
        if not ins.json and not self.state.shell:
            self.hit(
                "JSONArgsRecommended",
                ins,
                f"JSON arguments recommended for {ins.written} to prevent unintended behavior "
                "related to OS signals",
            )

    _entrypoint = _cmd

    def _healthcheck(self, ins: Instruction, words: list[str]) -> None:
        self._used_once(ins)

    def _used_once(self, ins: Instruction) -> None:
        earlier = self.once.get(ins.keyword)
        if earlier is not None:
            self.hit(
                "MultipleInstructionsDisallowed",
                earlier,
                f"Multiple {ins.written} instructions should not be used in the same stage "
                "because only the last one will be used",
            )
        self.once[ins.keyword] = ins

    def _workdir(self, ins: Instruction, words: list[str]) -> None:
        if not self.state.workdir and not words[0].startswith("/"):
            self.hit(
                "WorkdirRelativePath",
                ins,
                f'Relative workdir "{words[0]}" can have unexpected results if the base image '
                "changes",
            )
        self.state.workdir = True

    def _stopsignal(self, ins: Instruction, words: list[str]) -> None:
        if not _valid_signal(words[0]):
            self.refuse(
                ins,
                f"invalid signal: {words[0]}",
                "name a signal, as STOPSIGNAL SIGTERM, or give its number",
            )

    def _expose(self, ins: Instruction, words: list[str]) -> None:
        for spec in " ".join(words).split():
            problem = _port_problem(spec, self.builder)
            if problem:
                self.refuse(ins, problem, "write a port, a port/protocol, or a range: 80/tcp")
                return
            port = spec.rsplit(":", 1)[-1]
            protocol = port.partition("/")[2]
            if protocol != protocol.lower():
                self.hit(
                    "ExposeProtoCasing",
                    ins,
                    f"Defined protocol '{port}' in EXPOSE instruction should be lowercase",
                )
            if ":" in spec:
                self.hit(
                    "ExposeInvalidFormat",
                    ins,
                    f"EXPOSE instruction should not define an IP address or host-port mapping, "
                    f"found '{spec}'",
                )

    def _copy(self, ins: Instruction, words: list[str]) -> None:
        for mode in ins.flag("chmod"):
            if mode.isdigit() and (re.search("[89]", mode) or int(mode, 8) > 0o7777):
                self.refuse(
                    ins,
                    f"invalid chmod parameter: '{mode}'. it should be octal string and "
                    "between 0 and 07777",
                    "give --chmod an octal mode such as 755",
                )

    def _add(self, ins: Instruction, words: list[str]) -> None:
        self._copy(ins, words)
        sources = [v for v in ins.value[:-1] if not v.startswith("<<")]
        if ins.flag("checksum") and not all(
            re.match(r"^(https?://|git@|.*\.git)", s) for s in sources
        ):
            self.refuse(
                ins,
                "checksum requires HTTP(S) or Git sources",
                "--checksum checks a download: drop it for files of the build context",
            )

    def _run(self, ins: Instruction, words: list[str]) -> None:
        for (keyword, flag), sentence in self.frontend.dispatch_refused.items():
            if keyword == "RUN" and ins.flag(flag):
                self.refuse(ins, sentence, f"this engine's BuildKit does not run RUN --{flag}")
                return
        for mount in ins.flag("mount"):
            problem = _mount_problem(mount)
            if problem:
                self.refuse(ins, problem, "see the RUN --mount options of the Dockerfile reference")
                return


def _expanded_words(ins: Instruction) -> list[str]:
    """The words BuildKit's and the classic builder's dispatch expand (the commands with
    `Expand`: ENV and LABEL keys and values, COPY/ADD paths and --chown/--chmod, WORKDIR,
    USER, EXPOSE, VOLUME, STOPSIGNAL); a RUN, CMD or ENTRYPOINT goes to the shell as written."""
    keyword = ins.keyword
    if keyword in ("ENV", "LABEL", "WORKDIR", "USER", "EXPOSE", "VOLUME", "STOPSIGNAL"):
        return list(ins.value)
    if keyword in ("COPY", "ADD"):
        paths = [v for v in ins.value if not v.startswith("<<")]
        return paths + ins.flag("chown") + ins.flag("chmod")
    return []


def _valid_signal(text: str) -> bool:
    if text.isdigit():
        return int(text) > 0
    name = text.upper().removeprefix("SIG")
    return name in _SIGNALS or bool(re.fullmatch(r"RTM(IN\+|AX-)(1[0-5]|[1-9])", name))


def _port_problem(spec: str, builder: str) -> str:
    """The engine's sentence for an EXPOSE port it refuses ("" when it takes it)."""
    port, _, protocol = spec.rsplit(":", 1)[-1].partition("/")
    invalid = "Invalid" if builder == "classic" else "invalid"
    if protocol and protocol.lower() not in ("tcp", "udp", "sctp"):
        head = "" if builder == "classic" else f'invalid port: "{spec}": '
        return f"{head}{invalid} proto: {protocol}"
    start, dash, end = port.partition("-")
    numbers = [start, end] if dash else [start]
    if not all(n.isdigit() and int(n) < 65536 for n in numbers) or (dash and int(end) < int(start)):
        return f"{invalid} containerPort: {port}"
    return ""


def _mount_problem(mount: str) -> str:
    """The sentence BuildKit refuses a RUN --mount's options with ("" when it takes them)."""
    options = [part.partition("=") for part in mount.split(",") if part]
    for key, equals, value in options:
        if key not in _MOUNT_KEYS:
            return f"unexpected key '{key}' in '{key}{equals}{value}'"
        if key == "type" and value not in _MOUNT_TYPES:
            return f'unsupported mount type "{value}"'
        if key == "sharing" and value not in ("shared", "private", "locked"):
            return f'unsupported sharing value "{value}"'
        if key in _MOUNT_BOOLS and equals and value.lower() not in ("true", "false", "1", "0"):
            return f"invalid value for {key}: {value}"
    return ""


def _expansion_advice(word: str, error: str) -> str:
    required = re.search(r"\$\{(\w+):?\?", word)
    if required:
        name = required.group(1)
        return (
            f"{name} must be set here: declare `ARG {name}` in this stage and pass it as a build "
            f"arg (build_args={{{name!r}: ...}}), or set it with ENV above this line"
        )
    return f"write the substitution in full, as ${{NAME}} or ${{NAME:-default}} ({error})"


def classic_advice(feature: str) -> str:
    return f'the classic builder does not support {feature}; use BuildKit (builder="buildkit")'
