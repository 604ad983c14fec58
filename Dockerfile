# syntax=docker/dockerfile:1
# Rabt's image: one static-ish binary on a small Debian runtime, running as a user
# without privileges. The same image runs every process: `rabt serve --role api`,
# `rabt serve --role worker`, `rabt migrate`, `rabt simulate` (docs/operations.md,
# "Building the image"). Build from the repository's root:
#   docker build -t rabt:0.1.0 .
# (No container engine runs on the project's build machines; the file is checked by
# hadolint in the test suite.)

# --- build ---------------------------------------------------------------------------
FROM rust:1.95-slim-bookworm AS build
WORKDIR /src
# aws-lc-rs (rustls' crypto) builds C with cmake; nothing links OpenSSL.
RUN apt-get update \
    && apt-get install -y --no-install-recommends cmake clang \
    && rm -rf /var/lib/apt/lists/*
COPY . .
RUN cargo build --release --locked -p rabt \
    && install -m 0755 target/release/rabt /usr/local/bin/rabt

# --- runtime -------------------------------------------------------------------------
FROM debian:bookworm-slim AS runtime
# CA certificates: the agencies' HTTPS endpoints and an amqps:// broker are verified.
RUN apt-get update \
    && apt-get install -y --no-install-recommends ca-certificates \
    && rm -rf /var/lib/apt/lists/* \
    && groupadd --system --gid 10001 rabt \
    && useradd --system --uid 10001 --gid rabt --home-dir /var/lib/rabt --create-home rabt
COPY --from=build /usr/local/bin/rabt /usr/local/bin/rabt
USER 10001:10001
WORKDIR /var/lib/rabt
# The API (api.listen), the operators' listener of api processes (api.ops_listen: the
# console, /ops/v1, /metrics) and the metrics listener of workers.
EXPOSE 8080 9091 9464
ENV RABT_LISTEN=0.0.0.0:8080 \
    RABT_OPS_LISTEN=0.0.0.0:9091 \
    RABT_LOG_FORMAT=json
ENTRYPOINT ["/usr/local/bin/rabt"]
CMD ["serve", "--role", "all"]
