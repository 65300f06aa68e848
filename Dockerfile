# syntax=docker/dockerfile:1
# The same image as `make image` (scripts/image.sh), for those who build with Docker or BuildKit:
#   docker build -t ghcr.io/connect-gr/connect-gr:0.1.0 .
# The root filesystem is assembled by the same script from the same Debian packages; only the
# layer bytes (and so the digest) differ, as Docker writes its own tar.
ARG RUST_VERSION=1.95
FROM docker.io/library/rust:${RUST_VERSION}-bookworm AS build
WORKDIR /src
COPY . .
RUN --mount=type=cache,target=/usr/local/cargo/registry \
    --mount=type=cache,target=/src/target \
    cargo build --release --locked --bin connect-gr \
 && apt-get update -qq \
 && bash scripts/image.sh rootfs target/release/connect-gr /rootfs

FROM scratch
COPY --from=build /rootfs/ /
USER 65532:65532
ENV PATH=/usr/local/bin SSL_CERT_FILE=/etc/ssl/certs/ca-certificates.crt
EXPOSE 8080/tcp
LABEL org.opencontainers.image.title=connect-gr \
      org.opencontainers.image.licenses=Apache-2.0 \
      org.opencontainers.image.source=https://github.com/connect-gr/connect-gr
ENTRYPOINT ["/usr/local/bin/connect-gr"]
CMD ["controller"]
