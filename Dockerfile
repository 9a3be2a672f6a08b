# opmesh node image: build in a Rust image, run as a non-root user in a slim Debian image.
#
#   docker build -t opmesh .
#   docker run --env-file op-node.env -p 9222:9222/tcp -p 9222:9222/udp -p 7300:7300 \
#       -v opmesh-data:/data opmesh node
#
# Ports (op-node's defaults): 9222/tcp libp2p, 9222/udp discv5 (same port unless
# --p2p.listen.udp is set), 9545/tcp admin RPC, 7300/tcp metrics.
# Volume /data: node key, peerstore and discovery table (the working directory, so op-node's
# default relative paths opnode_p2p_priv.txt, opnode_peerstore_db, opnode_discovery_db land
# there). See docs/operator.md "Docker".

FROM rust:1.94-bookworm AS build
WORKDIR /src
COPY . .
RUN cargo build --release --locked -p opmesh \
    && install -m 0755 target/release/opmesh /usr/local/bin/opmesh

FROM debian:bookworm-slim
RUN apt-get update \
    && apt-get install -y --no-install-recommends ca-certificates \
    && rm -rf /var/lib/apt/lists/* \
    && groupadd --system --gid 10001 opmesh \
    && useradd --system --uid 10001 --gid opmesh --home-dir /data --shell /usr/sbin/nologin opmesh \
    && mkdir -p /data && chown opmesh:opmesh /data
COPY --from=build /usr/local/bin/opmesh /usr/local/bin/opmesh
USER opmesh
WORKDIR /data
VOLUME ["/data"]
EXPOSE 9222/tcp 9222/udp 9545/tcp 7300/tcp
# The admin RPC binds 127.0.0.1 by default; in a container publish it deliberately with
# OP_NODE_RPC_ADDR=0.0.0.0 (and --rpc.jwt-secret) if something outside must reach it.
ENV OPMESH_METRICS_ENABLED=true
ENTRYPOINT ["opmesh"]
CMD ["node"]
