# The learner image of classroom/kubernetes/image/Dockerfile, written as one stage: the same
# steps, in an order that keeps the runtime's packages from Debian 12 (before Debian's forky
# suite is added to apt's sources). benchmarks/bench_classroom_image.py builds it with the same
# build context, named contexts and secret, to compare its size with the multi-stage image.
FROM python:3.11-slim-bookworm AS learner
RUN apt-get update \
    && apt-get install -y --no-install-recommends graphviz zstd \
    && apt-get clean && rm -rf /var/lib/apt/lists/*
RUN useradd --uid 1000 --gid 100 --create-home --shell /bin/bash jovyan
COPY requirements.txt /tmp/requirements.txt
RUN --mount=type=secret,id=ca-certificates \
    if [ -s /run/secrets/ca-certificates ]; then export PIP_CERT=/run/secrets/ca-certificates; fi \
    && python -m venv /opt/stagelab/venv \
    && /opt/stagelab/venv/bin/pip install -r /tmp/requirements.txt
ARG ENGINE_SUITE=forky
ARG APT_CHECK_VALID_UNTIL=true
RUN echo "deb http://deb.debian.org/debian ${ENGINE_SUITE} main" \
        > /etc/apt/sources.list.d/engine.list \
    && apt-get -o Acquire::Check-Valid-Until="${APT_CHECK_VALID_UNTIL}" update \
    && mkdir /debs && cd /debs \
    && apt-get download docker.io docker-cli containerd docker-buildx tini \
    && for deb in *.deb; do dpkg -x "$deb" /unpacked; done
RUN cp /unpacked/usr/bin/docker /usr/local/bin/docker \
    && mkdir -p /usr/local/libexec/docker/cli-plugins \
    && cp /unpacked/usr/libexec/docker/cli-plugins/docker-buildx \
          /usr/local/libexec/docker/cli-plugins/docker-buildx
WORKDIR /src
COPY --from=stagelab-source pyproject.toml README.md ./
COPY --from=stagelab-source src ./src
RUN --mount=type=secret,id=ca-certificates \
    if [ -s /run/secrets/ca-certificates ]; then export PIP_CERT=/run/secrets/ca-certificates; fi \
    && python -m pip wheel --no-deps --wheel-dir /wheels . \
    && /opt/stagelab/venv/bin/pip install --no-deps --no-index /wheels/*.whl \
    && /opt/stagelab/venv/bin/pip check
COPY --from=base-images-archive stagelab-images.tar /archive/
RUN mkdir -p /opt/stagelab/images \
    && tar -xOf /archive/stagelab-images.tar manifest.json | python -c \
       'import json, sys; print(*[t for i in json.load(sys.stdin) for t in i["RepoTags"] or []], sep="\n")' \
       > /opt/stagelab/images/base-images.txt \
    && zstd -q -T0 -10 /archive/stagelab-images.tar -o /opt/stagelab/images/base-images.tar.zst \
    && chmod 0644 /opt/stagelab/images/*
COPY jupyter_server_config.json /opt/stagelab/venv/etc/jupyter/jupyter_server_config.json
COPY --from=stagelab-source notebooks /opt/stagelab/course/notebooks
COPY --from=stagelab-source labs /opt/stagelab/course/labs
COPY --from=stagelab-source classroom/kubernetes/image \
     /opt/stagelab/course/classroom/kubernetes/image
COPY learner-start /usr/local/bin/learner-start
ENV PATH=/opt/stagelab/venv/bin:$PATH \
    DOCKER_HOST=unix:///run/stagelab-engine/docker.sock
USER 1000
WORKDIR /home/jovyan
ENTRYPOINT ["learner-start"]
CMD ["jupyterhub-singleuser"]
