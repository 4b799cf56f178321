"""Checks for lab 04: one Dockerfile gives a dev image and a prod image."""

import stagelab as sl
from stagelab import labs
from stagelab.labs import (
    COMPILER_PATHS,
    answer_hint,
    criterion,
    expect,
    fail,
    pointer_hint,
    question_hint,
)

TITLE = "Dev and prod from one Dockerfile"
GOAL = (
    "Turn the dev-only Dockerfile into one that gives two images: `dev` (compiler, make, "
    "source, debug build) by `--target dev` or `--build-arg MODE=dev`, and a small `prod` "
    "image by default."
)
EXPECTED_OUTPUT = "sum of 1..10 = 55"
PROD_LIMIT_MB = 20
SOURCE_FILES = {"app.c", "Makefile"}
AFTER_LESSON = "07"
HINTS = [
    question_hint(
        "Which stage does a build give when it names no target, and how does a build pick "
        "another one? What does production need of the dev image: the tools, or one file?"
    ),
    pointer_hint(
        "07",
        "One Dockerfile, two images: `--target`",
        "each image is a stage of the same file; the target picks one, the last is the default.",
    ),
    answer_hint(
        "Name the current stage `dev`. Compile a static binary "
        "(`make CFLAGS=-O2 LDFLAGS=-static`) in a second gcc stage named `build`, then add "
        "`FROM busybox:1.36 AS prod` with `COPY --from=build /src/app /usr/local/bin/app` and "
        '`CMD ["app"]`, last. For the build argument: `ARG MODE=prod` before the first FROM '
        "and a final `FROM ${MODE}`."
    ),
]


def dev_image(work):
    """Build the dev image the way the learner's Dockerfile offers it."""
    parsed = work.dockerfile
    if any(stage.ref == "dev" for stage in parsed.stages):
        return work.build(target="dev"), "--target dev"
    if "MODE" in parsed.global_args:
        return work.build(build_args={"MODE": "dev"}), "--build-arg MODE=dev"
    fail(
        "nothing selects a dev image: name a stage `dev`, or declare `ARG MODE` before the "
        "first FROM"
    )


@criterion(
    "The dev image builds with `--target dev` or `--build-arg MODE=dev`",
    hint="`--target dev` picks a stage by its name: which stage is the development one?",
)
def dev_reachable(work):
    result, how = dev_image(work)
    return f"{how}: {result.size_mb:.1f} MB"


@criterion(
    "The dev image has the compiler, make and the source, and runs the program",
    hint="Keep the dev stage as the starter had it: FROM gcc, COPY the source, RUN make.",
)
def dev_contents(work):
    image = dev_image(work)[0].image_id
    workdir = sl.image_config(image).get("WorkingDir") or "/"
    wanted = ["/usr/bin/gcc", "/usr/bin/make"] + [
        f"{workdir.rstrip('/')}/{name}" for name in sorted(SOURCE_FILES)
    ]
    present = labs.existing_paths(image, wanted)
    missing = [path for path in wanted if path not in present]
    expect(not missing, f"the dev image lacks {', '.join(missing)}")
    output = sl.run(image).strip()
    expect(output == EXPECTED_OUTPUT, f"it printed {output!r}, expected {EXPECTED_OUTPUT!r}")
    return f"has {', '.join(wanted)}; prints {output!r}"


def prod_image(work):
    """Build the default image; fail when it is the development image itself."""
    default = work.build()
    try:
        dev, how = dev_image(work)
    except labs.CheckFailed:
        fail("the default build gives the only image this Dockerfile makes: the development one")
    expect(
        default.image_id != dev.image_id,
        f"the default build gives the same image as {how}: the development one",
    )
    return default.image_id


prod_runs = labs.prints(
    EXPECTED_OUTPUT,
    title="The default build gives prod, and it runs the program",
    hint="The default build gives the last stage: is that a production image?",
    image=prod_image,
)


@criterion(
    "The prod image holds no compiler, no make and no source",
    hint="The tools come with the image a stage starts FROM: what does prod start "
    "FROM, and what does it copy in?",
)
def prod_contents(work):
    image = work.build().image_id
    tools = labs.existing_paths(image, COMPILER_PATHS + ["/usr/bin/make"])
    expect(not tools, f"the prod image holds {', '.join(tools)}")
    sources = [path for path in sl.files(image) if path.rsplit("/", 1)[-1] in SOURCE_FILES]
    expect(not sources, f"the prod image holds {', '.join(sources)}")
    return "only the program"


@criterion(
    f"prod is under {PROD_LIMIT_MB} MB and at least ten times smaller than dev",
    hint="The toolchain stays in dev; prod is a 2 MB base plus one static binary.",
)
def sizes(work):
    prod_mb = work.build().size_mb
    dev_mb = dev_image(work)[0].size_mb
    shown = f"prod {prod_mb:.1f} MB, dev {dev_mb:.1f} MB"
    expect(prod_mb < PROD_LIMIT_MB and prod_mb * 10 <= dev_mb, shown)
    return shown
