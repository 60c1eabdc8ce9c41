# peft-code-repro image: Python 3.11, every dependency from a hash-locked file, the
# package, and `python -m repro` as entrypoint. See docs/CONTAINERS.md.
#
# GPU image (default): CUDA 13.0 runtime on Ubuntu 22.04, matching the CUDA 13.0 build
# of torch 2.13.0 that requirements/gpu.lock pins.
#   docker build -t peft-code-repro:gpu .
# CPU image from a locally made Debian base (no registry needed):
#   docker build --build-arg BASE_IMAGE=peft-code-repro/debian-minbase:bookworm \
#                --build-arg LOCK_FILE=requirements/cpu.lock -t peft-code-repro:cpu .
# Wheels placed in build/wheelhouse/ make the pip step offline (see stage 1).

ARG BASE_IMAGE=nvidia/cuda:13.0.0-runtime-ubuntu22.04@sha256:3e7f34f5e9dd5315b67ab30d71a92e578c5911236e14370647df020bdee2ca8a

# Stage 1: Python and the locked dependencies (this layer survives source edits).
FROM ${BASE_IMAGE} AS dependencies
ARG LOCK_FILE=requirements/gpu.lock
SHELL ["/bin/bash", "-o", "pipefail", "-c"]

# Python 3.11 has the same package names on Ubuntu 22.04 (universe) and Debian 12.
RUN apt-get update \
    && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends \
        python3.11 python3.11-venv ca-certificates \
    && rm -rf /var/lib/apt/lists/* \
    && python3.11 -m venv /opt/venv

ENV PATH=/opt/venv/bin:$PATH \
    PYTHONDONTWRITEBYTECODE=1 \
    PYTHONHASHSEED=0 \
    PIP_DISABLE_PIP_VERSION_CHECK=1

# Wheels placed in build/wheelhouse/ land in the same folder; when there are any, pip
# installs from them alone (no index), so the build needs no access to a package index.
# Either way every file must match a hash in the lock.
COPY requirements/ build/wheelhous[e] /tmp/pip-inputs/
RUN if ls /tmp/pip-inputs/*.whl >/dev/null 2>&1; then export PIP_NO_INDEX=1; fi \
    && pip install --no-cache-dir --require-hashes --no-deps \
        --find-links /tmp/pip-inputs -r "/tmp/pip-inputs/${LOCK_FILE#requirements/}" \
    && rm -rf /tmp/pip-inputs

# Stage 2: the checkout without the wheelhouse (which would otherwise stay in a layer).
FROM dependencies AS source
COPY . /src/
RUN rm -rf /src/build /src/*.egg-info

# Stage 3: the image.
FROM dependencies
ARG BASE_IMAGE
ARG LOCK_FILE=requirements/gpu.lock
ARG GIT_COMMIT=unknown
ARG GIT_DIRTY=unknown

# The package, built offline: setuptools comes from the lock.
WORKDIR /opt/peft-code-repro
COPY --from=source /src/ /opt/peft-code-repro/
RUN pip install --no-cache-dir --no-deps --no-build-isolation --no-index . \
    && rm -rf build ./*.egg-info

# Writable places: results, the locally built tiny models (artifacts/models, a cache
# that stays inside the container) and the model cache. Sticky and world-writable, so
# `docker run --user <any uid>` works too.
RUN useradd --create-home --uid 1000 --shell /bin/bash repro \
    && mkdir -p /cache/huggingface results artifacts/models \
    && chmod 1777 /cache/huggingface results artifacts artifacts/models

ENV HF_HOME=/cache/huggingface \
    REPRO_BASE_IMAGE=${BASE_IMAGE} \
    REPRO_LOCK_FILE=${LOCK_FILE} \
    REPRO_GIT_COMMIT=${GIT_COMMIT} \
    REPRO_GIT_DIRTY=${GIT_DIRTY}

LABEL org.opencontainers.image.title="peft-code-repro" \
      org.opencontainers.image.revision="${GIT_COMMIT}" \
      org.opencontainers.image.base.name="${BASE_IMAGE}" \
      io.peft-code-repro.lock-file="${LOCK_FILE}"

VOLUME ["/cache/huggingface", "/opt/peft-code-repro/results"]
USER 1000:1000
ENTRYPOINT ["python", "-m", "repro"]
CMD ["--help"]
