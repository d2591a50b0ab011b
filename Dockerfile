# syntax=docker/dockerfile:1
# Build a static binary (no cgo: the embedded database is pure Go), then run
# it as a non-root user on a distroless base with CA certificates and tzdata.
FROM golang:1.26-bookworm AS build
WORKDIR /src
COPY go.mod go.sum ./
RUN go mod download
COPY . .
RUN CGO_ENABLED=0 go build -trimpath -ldflags="-s -w" -o /out/foyer ./cmd/foyer \
 && mkdir -p /out/data

FROM gcr.io/distroless/static-debian12:nonroot
COPY --from=build /out/foyer /usr/local/bin/foyer
COPY --from=build --chown=65532:65532 /out/data /var/lib/foyer
USER 65532:65532
ENV FOYER_HTTP_ADDR=:8080 \
    FOYER_DATA_DIR=/var/lib/foyer
VOLUME /var/lib/foyer
EXPOSE 8080
ENTRYPOINT ["/usr/local/bin/foyer"]
CMD ["serve"]
