# syntax=docker/dockerfile:1
# The Backchannel relay as a container image (see README, "Operating a relay").
#
#   docker build -t backchannel .
#   docker run -d --name backchannel --read-only --tmpfs /tmp \
#     -v backchannel-data:/data -p 127.0.0.1:7700:7700 backchannel
#
# Every stage starts from the same Node image, so the native addon (better-sqlite3) compiled in
# one stage runs in the last: same Node ABI, same glibc.
ARG NODE_IMAGE=node:20-bookworm-slim

# Compilers for better-sqlite3, used when no prebuilt binary can be fetched. Build stages only.
FROM ${NODE_IMAGE} AS toolchain
RUN apt-get update \
  && apt-get install -y --no-install-recommends python3 make g++ \
  && rm -rf /var/lib/apt/lists/*
WORKDIR /app
COPY package.json package-lock.json ./

# The TypeScript compiled and the console built, with the dev dependencies. Scripts are skipped:
# the package's `prepare` would build before the sources are here, and the build itself loads no
# native addon.
FROM toolchain AS build
RUN npm ci --ignore-scripts --no-audit --no-fund
COPY tsconfig.json tsconfig.build.json vite.config.ts ./
COPY src ./src
RUN npm run build

# Production dependencies only, better-sqlite3 built for this image.
FROM toolchain AS production-dependencies
RUN npm ci --omit=dev --ignore-scripts --no-audit --no-fund \
  && npm rebuild better-sqlite3

# What runs: Node, the production dependencies, the built relay, CLI and console. No compilers,
# no npm cache, no sources. It writes only to /data (the volume) and /tmp (SQLite's temp files),
# so it runs with a read-only root file system.
FROM ${NODE_IMAGE} AS runtime
ENV NODE_ENV=production \
  BACKCHANNEL_HOST=0.0.0.0 \
  BACKCHANNEL_PORT=7700 \
  BACKCHANNEL_DATA_DIR=/data
WORKDIR /app
COPY --from=production-dependencies /app/node_modules ./node_modules
COPY --from=build /app/dist ./dist
COPY package.json ./
COPY bin ./bin
# `backchannel` on the PATH, for `docker exec backchannel backchannel admin backup …`. The data
# directory belongs to the unprivileged `node` user (uid 1000) that the image's Node comes with;
# a new named volume takes this owner and mode.
RUN ln -s /app/bin/backchannel.js /usr/local/bin/backchannel \
  && mkdir -m 0700 /data \
  && chown node:node /data
USER node
VOLUME ["/data"]
EXPOSE 7700
# No curl in the image: Node's own fetch asks the relay.
HEALTHCHECK --interval=30s --timeout=5s --start-period=10s --retries=3 \
  CMD ["node", "-e", "fetch(`http://127.0.0.1:${process.env.BACKCHANNEL_PORT}/healthz`).then((r) => process.exit(r.ok ? 0 : 1), () => process.exit(1))"]
# The relay closes cleanly on SIGTERM (docker stop): it stops accepting, then closes the database.
STOPSIGNAL SIGTERM
ENTRYPOINT ["node", "/app/bin/backchannel.js"]
CMD ["serve"]
