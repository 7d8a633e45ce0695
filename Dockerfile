# Build the single pressline binary (cgo: libvips for image renditions),
# then run it as a non-root user with only libvips' runtime beside it.
FROM golang:1.26-bookworm AS build
RUN apt-get update && apt-get install -y --no-install-recommends libvips-dev && rm -rf /var/lib/apt/lists/*
WORKDIR /src
COPY go.mod go.sum ./
RUN go mod download
COPY . .
RUN go build -trimpath -ldflags="-s -w" -o /out/pressline ./cmd/pressline

FROM debian:bookworm-slim
RUN apt-get update && apt-get install -y --no-install-recommends ca-certificates tzdata libvips42 \
    && rm -rf /var/lib/apt/lists/* && useradd --system --uid 10001 --no-create-home pressline
COPY --from=build /out/pressline /usr/local/bin/pressline
# glibc gives every thread its own malloc arena; libvips' threads would
# hold on to memory in each. Two arenas keep image workers' memory flat.
ENV MALLOC_ARENA_MAX=2 \
    PRESSLINE_OPS_ADDR=0.0.0.0:9464 \
    PRESSLINE_LOG_FORMAT=json
USER 10001
EXPOSE 8080 9464
# Ready means NATS and S3 answer (/readyz); the binary probes itself, as
# the image has no curl.
HEALTHCHECK --interval=15s --timeout=5s --start-period=20s --retries=3 \
    CMD ["pressline", "probe", "http://127.0.0.1:9464/readyz"]
ENTRYPOINT ["pressline"]
CMD ["help"]
