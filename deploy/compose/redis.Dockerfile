# deploy/compose/redis.Dockerfile - Redis for docker-compose.yml: Debian's
# redis-server on debian:bookworm-slim, in place of the `redis` image (only
# Debian's mirror is reachable where busmon is built and tested; the README
# says how to use the upstream images instead).
FROM debian:bookworm-slim
RUN apt-get update \
 && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends redis-server \
 && rm -rf /var/lib/apt/lists/* \
 && mkdir -p /data && chown redis:redis /data
USER redis
WORKDIR /data
VOLUME /data
EXPOSE 6379
HEALTHCHECK --interval=5s --timeout=3s --retries=5 CMD redis-cli ping | grep -q PONG
CMD ["redis-server", "--bind", "0.0.0.0", "--protected-mode", "no", "--dir", "/data"]
