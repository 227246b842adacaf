# veilleur in a container: a multi-stage build on Debian slim, run as a
# non-root user. Build and run:
#   docker build -t veilleur .
#   docker run -d -p 127.0.0.1:9464:9464 -v veilleur-data:/var/lib/veilleur \
#     -v "$PWD/veilleur.toml:/etc/veilleur/veilleur.toml:ro" \
#     -v "$PWD/rules:/etc/veilleur/rules:ro" veilleur
# Inside a container the config must listen on 0.0.0.0:9464 to be reachable,
# and then API clients need a token ([api] in the README).

FROM rust:1-slim-bookworm AS build
WORKDIR /src
COPY . .
RUN cargo build --release --locked \
 && strip target/release/veilleur

FROM debian:bookworm-slim
RUN apt-get update \
 && apt-get install -y --no-install-recommends ca-certificates \
 && rm -rf /var/lib/apt/lists/* \
 && useradd --system --uid 10001 --user-group --home-dir /var/lib/veilleur --no-create-home veilleur \
 && install -d -o veilleur -g veilleur -m 0750 /var/lib/veilleur \
 && install -d -m 0755 /etc/veilleur/rules
COPY --from=build /src/target/release/veilleur /usr/bin/veilleur
COPY deploy/veilleur.toml /etc/veilleur/veilleur.toml
COPY rules/ /etc/veilleur/rules/
USER veilleur
WORKDIR /var/lib/veilleur
VOLUME ["/var/lib/veilleur"]
EXPOSE 9464
# The allocator hands freed pages back at once (README, Performance).
ENV MIMALLOC_PURGE_DELAY=0
ENTRYPOINT ["/usr/bin/veilleur"]
CMD ["run", "--config", "/etc/veilleur/veilleur.toml"]
