# syntax=docker/dockerfile:1
# tera-operator image: built with the project's Rust toolchain, run from a distroless image as
# a non-root user. Nothing is written to the root filesystem at run time (the install
# manifests set readOnlyRootFilesystem: true), and the bundled charts live at
# /etc/tera-operator/charts with their mapping file, watches.yaml.
#
#   docker build -t tera-operator:0.1.0 .
#   kind load docker-image tera-operator:0.1.0      # or: minikube image load tera-operator:0.1.0
#   tera-operator manifests | kubectl apply --server-side -f -

FROM rust:1.95-bookworm AS builder
WORKDIR /src
# Everything cargo needs to resolve the manifest (benches/ and tests/ are declared targets);
# .dockerignore keeps target/, .git and the like out.
COPY . .
# The caches speed up rebuilds; the binary is copied out of the cached target/ directory. The
# `dist` profile (Cargo.toml) is the release profile with fat LTO and one codegen unit.
RUN --mount=type=cache,target=/usr/local/cargo/registry \
    --mount=type=cache,target=/src/target \
    cargo build --profile dist --locked --bin tera-operator \
    && install -D -m 0755 target/dist/tera-operator /out/tera-operator

# glibc, CA certificates and a `nonroot` user (uid/gid 65532), no shell.
FROM gcr.io/distroless/cc-debian12:nonroot
COPY --from=builder /out/tera-operator /usr/local/bin/tera-operator
# The bundled charts, read-only, where the install manifests' `run --config` points.
COPY --chown=0:0 charts/ /etc/tera-operator/charts/
USER 65532:65532
EXPOSE 8080
ENTRYPOINT ["/usr/local/bin/tera-operator"]
CMD ["run", "--config", "/etc/tera-operator/charts/watches.yaml", "--metrics-addr", "0.0.0.0:8080"]
