# Build the single pressline binary (cgo: libvips for image renditions),
# then run it as a non-root user with libvips at runtime.
FROM golang:1.26-bookworm AS build
RUN apt-get update && apt-get install -y --no-install-recommends libvips-dev && rm -rf /var/lib/apt/lists/*
WORKDIR /src
COPY go.mod go.sum ./
RUN go mod download
COPY . .
RUN go build -trimpath -o /out/pressline ./cmd/pressline

FROM debian:bookworm-slim
RUN apt-get update && apt-get install -y --no-install-recommends ca-certificates tzdata libvips42 \
    && rm -rf /var/lib/apt/lists/* && useradd --system --uid 10001 pressline
COPY --from=build /out/pressline /usr/local/bin/pressline
# glibc gives every thread its own malloc arena; libvips' threads would
# hold on to memory in each. Two arenas keep image workers' memory flat.
ENV MALLOC_ARENA_MAX=2
USER pressline
ENTRYPOINT ["pressline"]
