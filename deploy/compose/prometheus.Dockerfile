# deploy/compose/prometheus.Dockerfile - Prometheus for docker-compose.yml:
# Debian's prometheus on debian:bookworm-slim, in place of prom/prometheus
# (only Debian's mirror is reachable where busmon is built and tested). The
# configuration is mounted by docker-compose.yml (prometheus.yml,
# busmon-rules.yml).
FROM debian:bookworm-slim
RUN apt-get update \
 && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends prometheus curl \
 && rm -rf /var/lib/apt/lists/* \
 && mkdir -p /prometheus && chown prometheus:prometheus /prometheus
USER prometheus
WORKDIR /prometheus
VOLUME /prometheus
EXPOSE 9090
HEALTHCHECK --interval=10s --timeout=3s --retries=3 CMD curl -fsS -o /dev/null http://127.0.0.1:9090/-/healthy
ENTRYPOINT ["prometheus"]
CMD ["--config.file=/etc/prometheus/prometheus.yml", "--storage.tsdb.path=/prometheus", \
     "--web.listen-address=0.0.0.0:9090"]
