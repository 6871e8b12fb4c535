# syntax=docker/dockerfile:1
# wsproxy container image: Debian 12 (bookworm), multi-stage.
#
#   docker build -t wsproxy:0.1.0 .
#   docker run --rm -p 8080:8080 -p 9090:9090 wsproxy:0.1.0 \
#     --upstream ws://chat-backend:8081 --admin 0.0.0.0:9090
#
# The build stage installs the build dependencies only: the compiler, CMake and the libraries'
# -dev packages, a subset of scripts/setup's list (tests/helm/test_repo.sh checks that, and that
# nothing test-only, such as chromium, clang, prometheus or nodejs, comes in). The runtime stage
# gets only the shared libraries the two binaries link against, found with ldd and mapped to
# their Debian packages in the build stage, and runs as an unprivileged user.

FROM debian:bookworm AS build
ENV DEBIAN_FRONTEND=noninteractive
RUN apt-get update -qq \
 && apt-get install -y -qq --no-install-recommends \
      build-essential cmake ninja-build pkg-config \
      libboost1.81-dev libboost-url1.81-dev libboost-program-options1.81-dev \
      libssl-dev zlib1g-dev nlohmann-json3-dev prometheus-cpp-dev catch2 \
      libyaml-cpp-dev libcli11-dev libhiredis-dev \
 && rm -rf /var/lib/apt/lists/*
COPY . /src
WORKDIR /src
RUN cmake -S . -B build -G Ninja -DCMAKE_BUILD_TYPE=Release \
 && cmake --build build --target wsproxy chat-backend \
 && strip build/wsproxy build/chat-backend
# The Debian packages that own the binaries' shared libraries (libc and friends included).
# dpkg records some libraries under /lib and others under /usr/lib (usrmerge): try both.
RUN set -eu; \
    for b in build/wsproxy build/chat-backend; do ldd "$b"; done \
      | awk '/=> \// {print $3}' | sort -u \
      | while read -r lib; do \
          real="$(readlink -f "$lib")"; \
          for p in "$lib" "$real" "${real#/usr}"; do \
            dpkg -S "$p" 2>/dev/null && break; \
          done || { echo "no package owns $lib" >&2; exit 1; }; \
        done \
      | cut -d: -f1 | sort -u >/runtime-packages.txt; \
    test -s /runtime-packages.txt; cat /runtime-packages.txt

FROM debian:bookworm-slim AS runtime
ARG WSPROXY_UID=65532
ENV DEBIAN_FRONTEND=noninteractive
COPY --from=build /runtime-packages.txt /tmp/runtime-packages.txt
# ca-certificates: the system trust store for wss:// upstreams without --upstream-ca.
RUN apt-get update -qq \
 && xargs -a /tmp/runtime-packages.txt apt-get install -y -qq --no-install-recommends ca-certificates \
 && rm -rf /var/lib/apt/lists/* /tmp/runtime-packages.txt \
 && groupadd --system --gid "${WSPROXY_UID}" wsproxy \
 && useradd --system --uid "${WSPROXY_UID}" --gid wsproxy --home-dir /nonexistent --no-create-home \
      --shell /usr/sbin/nologin wsproxy
COPY --from=build /src/build/wsproxy /src/build/chat-backend /usr/local/bin/
# The demo backend ships in the same image so that the chart's sidecar mode runs out of the box.
USER ${WSPROXY_UID}:${WSPROXY_UID}
# 8080: browser WebSockets; 9090: admin (/healthz, /readyz, /metrics); pass --admin 0.0.0.0:9090
# in a container so that probes and scrapes reach it (the chart does).
EXPOSE 8080 9090
STOPSIGNAL SIGTERM
ENTRYPOINT ["/usr/local/bin/wsproxy"]
CMD ["--help"]
