# syntax=docker/dockerfile:1
# hubdesk: a static binary on a distroless, nonroot runtime.

FROM golang:1.26.8-bookworm AS build
WORKDIR /src
# Modules first, as their own layer: rebuilt only when go.mod/go.sum change.
COPY go.mod go.sum ./
RUN go mod download
COPY . .
# The same command .ci/run builds with.
RUN CGO_ENABLED=0 go build -trimpath -ldflags="-s -w" -o /out/hubdesk .
# Smoke run: the binary starts and knows its subcommands.
RUN /out/hubdesk help | grep -q "hubdesk emulator"
RUN mkdir -p /out/data && chown 65532:65532 /out/data

FROM gcr.io/distroless/static-debian12:nonroot
COPY --from=build /out/hubdesk /usr/local/bin/hubdesk
COPY --from=build --chown=65532:65532 /out/data /data
USER 65532:65532
ENV HUBDESK_ADDR=0.0.0.0:8080 \
    HUBDESK_DATA_DIR=/data
VOLUME ["/data"]
EXPOSE 8080
HEALTHCHECK --interval=10s --timeout=5s --start-period=20s --retries=3 CMD ["/usr/local/bin/hubdesk", "healthcheck"]
ENTRYPOINT ["/usr/local/bin/hubdesk"]
