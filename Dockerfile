# hotline-scribe on a CUDA runtime. Models are mounted at /models (SCRIBE_ASR__MODELS_DIR), data at /data.
FROM nvidia/cuda:12.4.1-cudnn-runtime-ubuntu22.04
ENV DEBIAN_FRONTEND=noninteractive PYTHONUNBUFFERED=1 \
    SCRIBE_DATA_DIR=/data SCRIBE_ASR__MODELS_DIR=/models SCRIBE_ASR__DEVICE=auto SCRIBE_MODE=production
RUN apt-get update && apt-get install -y --no-install-recommends python3.11 python3.11-venv curl \
    && rm -rf /var/lib/apt/lists/*
WORKDIR /app
COPY pyproject.toml README.md ./
COPY service service
COPY eval eval
COPY models models
COPY prompts prompts
# editable, so that models/ (manifest, risk model) and prompts/ are read from /app as in a checkout
RUN python3.11 -m venv /opt/venv && /opt/venv/bin/pip install --no-cache-dir -e .
ENV PATH=/opt/venv/bin:$PATH
VOLUME ["/models", "/data"]
EXPOSE 8000
HEALTHCHECK CMD curl -fs http://127.0.0.1:8000/healthz || exit 1
CMD ["scribe", "serve", "--host", "0.0.0.0", "--port", "8000"]
