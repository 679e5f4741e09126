# syntax=docker/dockerfile:1
# Groundwork's one image for every role: serve (default), worker, and
# "migrate up" as the release step. With DATABASE_URL it uses that database;
# without it, the embedded PostgreSQL 15 cluster under the /data volume.
#   docker run -p 8080:8080 -v groundwork:/data IMAGE
# Build with `make image` (docker or podman); VERSION, COMMIT and BUILD_TIME are
# stamped into the binary and into the OCI labels, so /version matches them.

ARG GO_IMAGE=golang:1.26-bookworm

FROM ${GO_IMAGE} AS build
WORKDIR /src
ENV CGO_ENABLED=0 GOFLAGS=-buildvcs=false
COPY go.mod go.sum ./
RUN --mount=type=cache,target=/go/pkg/mod go mod download
COPY cmd ./cmd
COPY internal ./internal
ARG VERSION=dev
ARG COMMIT=unknown
ARG BUILD_TIME=unknown
RUN --mount=type=cache,target=/go/pkg/mod --mount=type=cache,target=/root/.cache/go-build \
    go build -trimpath \
      -ldflags "-s -w -X main.version=${VERSION} -X main.commit=${COMMIT} -X main.buildTime=${BUILD_TIME}" \
      -o /out/groundwork ./cmd/groundwork

FROM debian:bookworm-slim AS runtime
# PostgreSQL 15 server and client tools (the embedded default, pg_dump for
# backups), pgBackRest (point-in-time recovery), curl for the health check.
RUN apt-get update \
 && apt-get install -y --no-install-recommends \
      postgresql-15 postgresql-client-15 pgbackrest ca-certificates curl tzdata \
 && rm -rf /var/lib/apt/lists/* \
 && groupadd --system --gid 65532 groundwork \
 && useradd --system --uid 65532 --gid 65532 --home-dir /data --shell /usr/sbin/nologin groundwork \
 && mkdir -p /data && chown 65532:65532 /data && chmod 0700 /data
COPY --from=build /out/groundwork /usr/local/bin/groundwork

ARG VERSION=dev
ARG COMMIT=unknown
ARG BUILD_TIME=unknown
ARG SOURCE=https://github.com/groundwork-dev/groundwork
LABEL org.opencontainers.image.title="groundwork" \
      org.opencontainers.image.description="Groundwork: multi-tenant B2B SaaS foundation, one Go binary on PostgreSQL" \
      org.opencontainers.image.source="${SOURCE}" \
      org.opencontainers.image.revision="${COMMIT}" \
      org.opencontainers.image.version="${VERSION}" \
      org.opencontainers.image.created="${BUILD_TIME}"

ENV PATH=/usr/lib/postgresql/15/bin:$PATH \
    GROUNDWORK_DATA_DIR=/data \
    HOST=0.0.0.0 \
    PORT=8080
USER 65532:65532
WORKDIR /data
VOLUME ["/data"]
EXPOSE 8080
STOPSIGNAL SIGTERM
HEALTHCHECK --interval=10s --timeout=3s --start-period=60s --retries=3 \
  CMD curl -fsS "http://127.0.0.1:${PORT}/readyz" >/dev/null || exit 1
ENTRYPOINT ["/usr/local/bin/groundwork"]
CMD ["serve"]
