# CPU image: installs seqmodels with its test dependencies and runs the tests by default.
#   docker build -t seqmodels .
#   docker run --rm seqmodels                                   # the test suite
#   docker run --rm seqmodels python scripts/train.py           # the default training job
# For a CUDA image, start from an official PyTorch CUDA runtime instead, e.g.
#   FROM pytorch/pytorch:2.5.1-cuda12.4-cudnn9-runtime
# and drop the CPU-only torch install below (the base image already has a CUDA torch).
FROM python:3.11-slim

WORKDIR /app
RUN pip install --no-cache-dir torch --index-url https://download.pytorch.org/whl/cpu
COPY pyproject.toml README.md ./
COPY seqmodels ./seqmodels
COPY conf ./conf
RUN pip install --no-cache-dir -e ".[dev,export]"
COPY scripts ./scripts
COPY tests ./tests

CMD ["python", "-m", "pytest"]
