# The podroute image the DaemonSet in deploy/ runs (tag podroute:0.1.0):
# the agent and the two CNI plugins in /usr/local/bin; the init container
# copies the plugins to the host's /opt/cni/bin.
#   docker build -t podroute:0.1.0 .
FROM rust:1.95-bookworm AS build
WORKDIR /src
COPY . .
RUN cargo build --release --locked --bin podroute --bin podroute-bridge --bin podroute-ipam

FROM debian:bookworm-slim
# The plugins run on the host (the kernel's nft must be there for ipMasq);
# the image only needs iproute2 for operators' debugging.
RUN apt-get update \
    && apt-get install -y --no-install-recommends iproute2 ca-certificates \
    && rm -rf /var/lib/apt/lists/*
COPY --from=build /src/target/release/podroute /src/target/release/podroute-bridge /src/target/release/podroute-ipam /usr/local/bin/
COPY dist/rt_protos.d/podroute.conf /etc/iproute2/rt_protos.d/podroute.conf
ENTRYPOINT ["/usr/local/bin/podroute"]
