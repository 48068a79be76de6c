# ondata in a container (used by docker-compose.yml). Build: docker build -t ondata .
FROM rust:1-bookworm AS build
RUN apt-get update && apt-get install -y --no-install-recommends cmake pkg-config libssl-dev \
    && rm -rf /var/lib/apt/lists/*
WORKDIR /src
COPY . .
RUN cargo build --release --bin ondata

FROM debian:bookworm-slim
RUN apt-get update && apt-get install -y --no-install-recommends ca-certificates libssl3 \
    && rm -rf /var/lib/apt/lists/*
COPY --from=build /src/target/release/ondata /usr/local/bin/ondata
COPY config/ondata.toml /etc/ondata/ondata.toml
# Outboxes, silences and state snapshots are written here (alerts.outbox_dir and
# kafka.state_dir are relative to it): mount a volume to keep them across containers.
RUN mkdir -p /var/lib/ondata && chown nobody:nogroup /var/lib/ondata
WORKDIR /var/lib/ondata
USER nobody
EXPOSE 9898
ENTRYPOINT ["ondata"]
CMD ["run", "--config", "/etc/ondata/ondata.toml"]
