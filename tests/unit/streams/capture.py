"""Capture the progress streams the unit tests read, from real builds on this machine's engine.

    .venv/bin/python tests/unit/streams/capture.py [CASE ...]

For each case (every case when none is named) it writes NAME.Dockerfile, then NAME.rawjson
(what `docker buildx build --progress=rawjson` printed, line by line) and NAME.classic.jsonl
(each message the classic builder's API sent, with the seconds after the build started when
it arrived). Run it again only to refresh the captures: the tests read the committed files.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

from stagelab import engine, images
from stagelab.classic import classic_build_options, classic_context
from stagelab.context import build_request, buildx_command

HERE = Path(__file__).resolve().parent
SALT = str(time.time_ns())
TEN_STEPS = "".join(f"RUN echo step {n} {SALT} >> /steps\n" for n in range(1, 10))

CASES = {
    # A first build, then the same build again: every step comes from the cache.
    "built": f"FROM busybox:1.36 AS base\nRUN echo base {SALT} > /base\n"
    f"FROM base AS app\nRUN echo app {SALT} > /app\n"
    "FROM busybox:1.36 AS unused\nRUN echo never\n"
    "FROM busybox:1.36\nCOPY --from=app /app /app\n",
    "failure": f"FROM busybox:1.36 AS ok\nRUN echo fine {SALT} > /ok\n"
    f"FROM busybox:1.36 AS broken\nRUN echo about to fail {SALT} && exit 3\n"
    "FROM busybox:1.36\nCOPY --from=ok /ok /ok\nCOPY --from=broken /etc/passwd /p\n",
    "cancelled": f"FROM busybox:1.36 AS slow\nRUN echo {SALT} && sleep 60\n",
    # BuildKit pads the step number of a stage with ten or more steps: "[ten  1/10]".
    "ten_steps": f"FROM busybox:1.36 AS ten\n{TEN_STEPS}FROM ten AS after\nRUN cat /steps\n",
    # Two stages doing identical work on the same base: BuildKit runs it once, under one name.
    "shared": f"FROM busybox:1.36 AS one\nRUN echo same {SALT} > /same\n"
    f"FROM busybox:1.36 AS two\nRUN echo same {SALT} > /same\n"
    "FROM busybox:1.36 AS final\nCOPY --from=one /same /one\nCOPY --from=two /same /two\n",
    # A build that joins a step another build started 2 s earlier: BuildKit runs it once for
    # both, and tells this build when the other one started it.
    "joined": f"FROM busybox:1.36 AS slow\nRUN echo {SALT} && sleep 4 && echo done > /slow\n"
    "FROM slow AS after\nRUN cat /slow\n",
    # ONBUILD triggers of the stage app starts from: BuildKit runs them as app's first steps,
    # the classic builder inside app's FROM step. Then (NAME_edited) only the stage the second
    # trigger copies from changes: the first trigger comes from the cache, the second runs.
    "triggers": f"FROM busybox:1.36 AS parts\nRUN echo part {SALT} > /part\n"
    f"FROM busybox:1.36 AS base\nONBUILD RUN echo trigger {SALT} > /trigger\n"
    "ONBUILD COPY --from=parts /part /from-parts\n"
    "FROM base AS app\nRUN cat /from-parts\n",
}
EDITED = {"triggers": ("echo part", "echo part again")}
JOIN_AFTER_S = 2.0


def capture_buildkit(name: str, text: str, cancel_after_s: float | None = None) -> list[str]:
    with build_request(text) as request:
        request.substitutions = images.substitutions(request.dockerfile.images())
        with tempfile.TemporaryDirectory() as tmp:
            command = buildx_command(request, iidfile=Path(tmp) / "iid")
            process = subprocess.Popen(
                command,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.PIPE,
                text=True,
                start_new_session=True,
            )
            if cancel_after_s is not None:
                threading.Timer(
                    cancel_after_s, lambda: os.killpg(process.pid, signal.SIGINT)
                ).start()
            lines = list(process.stderr)
            process.wait()
    # The temporary context's path differs each run; the reader never looks at it.
    return [line.replace(str(request.context_dir), "/context") for line in lines]


def capture_classic(text: str, cancel_after_s: float | None = None) -> list[dict]:
    with build_request(text, builder="classic") as request, tempfile.TemporaryFile() as context:
        request.substitutions = images.substitutions(request.dockerfile.images())
        classic_context(request, context)
        began = time.monotonic()
        stream = engine.client().api.build(**classic_build_options(request, context))
        messages = []
        if cancel_after_s is not None:  # as Ctrl-C in a notebook: the runner closes the stream
            threading.Timer(cancel_after_s, lambda: os.kill(os.getpid(), signal.SIGINT)).start()
        try:
            for chunk in stream:
                messages.append({"at": round(time.monotonic() - began, 3), "chunk": chunk})
        except KeyboardInterrupt:
            stream.close()
    return messages


def capture_joined(name: str, text: str) -> list[str]:
    """Capture a build started JOIN_AFTER_S after an identical one, while that one runs."""
    first = threading.Thread(target=capture_buildkit, args=(name, text))
    first.start()
    time.sleep(JOIN_AFTER_S)
    lines = capture_buildkit(name, text)
    first.join()
    return lines


def main(names: list[str]) -> int:
    for name, text in CASES.items():
        if names and name not in names:
            continue
        (HERE / f"{name}.Dockerfile").write_text(text)
        cancel = 3.0 if name == "cancelled" else None
        if name == "joined":
            lines = capture_joined(name, text)
            (HERE / f"{name}.rawjson").write_text("".join(lines))
            print(f"captured {name}: {len(lines)} rawjson lines")
            continue
        lines = capture_buildkit(name, text, cancel)
        if name == "built":  # the same build again, now cached
            (HERE / "cached.Dockerfile").write_text(text)
            (HERE / "cached.rawjson").write_text("".join(capture_buildkit(name, text)))
        (HERE / f"{name}.rawjson").write_text("".join(lines))
        if name == "shared":
            continue  # the classic builder runs both stages: nothing to see there
        messages = capture_classic(text, cancel)
        if name == "built":
            again = capture_classic(text)
            (HERE / "cached.classic.jsonl").write_text("".join(json.dumps(m) + "\n" for m in again))
        (HERE / f"{name}.classic.jsonl").write_text("".join(json.dumps(m) + "\n" for m in messages))
        if name in EDITED:
            edited = text.replace(*EDITED[name])
            (HERE / f"{name}_edited.Dockerfile").write_text(edited)
            (HERE / f"{name}_edited.rawjson").write_text("".join(capture_buildkit(name, edited)))
            again = capture_classic(edited)
            (HERE / f"{name}_edited.classic.jsonl").write_text(
                "".join(json.dumps(m) + "\n" for m in again)
            )
        print(f"captured {name}: {len(lines)} rawjson lines, {len(messages)} classic messages")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
