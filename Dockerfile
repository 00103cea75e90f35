# syntax=docker/dockerfile:1
# Portcullis container image: build with the locked dependencies, run as a non-root user
# on an empty base (the binary and the few system libraries it links, nothing else: no
# shell, no package manager).

# ---- build ------------------------------------------------------------------------
FROM rust:1.95-bookworm AS build
RUN apt-get update \
 && apt-get install -y --no-install-recommends cmake \
 && rm -rf /var/lib/apt/lists/*
WORKDIR /src
COPY Cargo.toml Cargo.lock ./
COPY src ./src
COPY benches ./benches
RUN cargo build --release --locked --bin portcullis
# Everything the binary needs at run time, gathered in one tree: the binary, the C
# libraries `ldd` names, and the CA bundle for TLS backends.
RUN mkdir -p /out/usr/local/bin /out/etc/ssl/certs /out/tmp \
 && cp target/release/portcullis /out/usr/local/bin/portcullis \
 && ldd target/release/portcullis | awk '/=>/ { print $3 } /ld-linux/ { print $1 }' \
      | xargs -I{} cp --parents -L {} /out/ \
 && cp /etc/ssl/certs/ca-certificates.crt /out/etc/ssl/certs/ \
 && chmod 1777 /out/tmp

# ---- run --------------------------------------------------------------------------
FROM scratch
COPY --from=build /out/ /
# 65532: the conventional "nonroot" id; no user database is needed for a numeric id.
USER 65532:65532
EXPOSE 8080 9090
ENTRYPOINT ["/usr/local/bin/portcullis"]
CMD ["serve", "--config", "/etc/portcullis/config/portcullis.yaml"]
