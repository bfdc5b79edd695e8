# A BIRD 2 image for the BIRD nodes of the topologies
# (localhost/podroute-bird2:2.0.12), the same BIRD as Debian 12's bird2:
#   docker build -f topologies/images/bird2.Dockerfile -t localhost/podroute-bird2:2.0.12 topologies/images
FROM debian:bookworm-slim
RUN apt-get update && apt-get install -y --no-install-recommends bird2 iproute2 \
    && rm -rf /var/lib/apt/lists/* && mkdir -p /run/bird
CMD ["bird", "-f", "-c", "/etc/bird/bird.conf"]
