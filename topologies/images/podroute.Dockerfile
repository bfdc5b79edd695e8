# The podroute node image the topologies name (ghcr.io/podroute/podroute:latest)
# for running them under containerlab. Build from the repository root after
# `cargo build --release`:
#   docker build -f topologies/images/podroute.Dockerfile -t ghcr.io/podroute/podroute:latest .
FROM debian:bookworm-slim
RUN apt-get update && apt-get install -y --no-install-recommends iproute2 nftables iputils-ping \
    && rm -rf /var/lib/apt/lists/*
COPY target/release/podroute /usr/local/bin/podroute
COPY target/release/podroute-bridge target/release/podroute-ipam /opt/cni/bin/
CMD ["podroute", "agent", "--config", "/etc/podroute/podroute.toml"]
