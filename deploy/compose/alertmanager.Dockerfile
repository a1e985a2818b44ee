# deploy/compose/alertmanager.Dockerfile - Alertmanager for docker-compose.yml:
# Debian's prometheus-alertmanager on debian:bookworm-slim, in place of
# prom/alertmanager (only Debian's mirror is reachable where busmon is built
# and tested). Debian's package has no web UI: use its API or amtool
# (`docker compose exec alertmanager amtool alert`).
FROM debian:bookworm-slim
RUN apt-get update \
 && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends prometheus-alertmanager curl \
 && rm -rf /var/lib/apt/lists/* \
 && mkdir -p /alertmanager /etc/amtool && chown prometheus:prometheus /alertmanager \
 && echo 'alertmanager.url: http://127.0.0.1:9093' > /etc/amtool/config.yml
USER prometheus
WORKDIR /alertmanager
VOLUME /alertmanager
EXPOSE 9093
HEALTHCHECK --interval=10s --timeout=3s --retries=3 CMD curl -fsS -o /dev/null http://127.0.0.1:9093/-/healthy
ENTRYPOINT ["prometheus-alertmanager"]
CMD ["--config.file=/etc/alertmanager/alertmanager.yml", "--storage.path=/alertmanager", \
     "--web.listen-address=0.0.0.0:9093", "--cluster.listen-address="]
