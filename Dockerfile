# mimic in a container: Debian bookworm, two stages. The build stage installs the packages
# scripts/install-deps.sh lists and builds the release binary; the runtime stage has only the
# shared libraries it links, runs as an unprivileged user and keeps data/ and models/ in volumes.
#   docker build -t mimic .
#   docker run --rm -it -v mimic-data:/var/lib/mimic/data -v "$PWD/models:/var/lib/mimic/models" \
#     -e DISCORD_TOKEN mimic run
# deploy/compose.yaml runs it with Compose; docs/operations.md has the details.

FROM debian:bookworm-slim AS build
COPY scripts/install-deps.sh /src/scripts/install-deps.sh
RUN bash /src/scripts/install-deps.sh && rm -rf /var/lib/apt/lists/*
COPY . /src
RUN rm -rf /src/build && cmake -S /src -B /build -DCMAKE_BUILD_TYPE=Release \
    && cmake --build /build -j"$(nproc)" --target mimic \
    && strip /build/mimic

FROM debian:bookworm-slim
# The runtime libraries of the binary (tests/repo/test_deploy.c checks this list against ldd), the
# CA certificates Discord's TLS is checked with, the time zones schedules use, and curl for the
# health check.
RUN apt-get update \
    && apt-get install -y --no-install-recommends \
       ca-certificates curl libargon2-1 libc6 libcurl4 libgif7 libjansson4 libjpeg62-turbo \
       libmicrohttpd12 libpcre2-8-0 libpng16-16 libsqlite3-0 libwebp7 libwebpdemux2 \
       libssl3 libuv1 tzdata zlib1g \
    && rm -rf /var/lib/apt/lists/* \
    && useradd --system --uid 10001 --user-group --home-dir /var/lib/mimic --shell /usr/sbin/nologin mimic \
    && install -d -o mimic -g mimic -m 0750 /var/lib/mimic /var/lib/mimic/data /var/lib/mimic/models
COPY --from=build /build/mimic /usr/local/bin/mimic
COPY mimic.conf.example /usr/share/doc/mimic/mimic.conf.example
COPY web/static /usr/share/mimic/web
USER mimic
WORKDIR /var/lib/mimic
# Paths come from mimic.conf (relative to it) or the defaults: data/ and models/base.gguf under
# the working folder. The log goes to standard output (docker logs). web.listen serves /healthz
# inside the container for the HEALTHCHECK (this variable wins over mimic.conf's web.listen).
ENV MIMIC_WEB_LISTEN=127.0.0.1:8377
VOLUME ["/var/lib/mimic/data", "/var/lib/mimic/models"]
STOPSIGNAL SIGTERM
HEALTHCHECK --interval=30s --timeout=5s --start-period=2m --retries=3 \
  CMD curl -fsS http://127.0.0.1:8377/healthz || exit 1
ENTRYPOINT ["/usr/local/bin/mimic"]
CMD ["run"]
