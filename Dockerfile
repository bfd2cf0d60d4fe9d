# syntax=docker/dockerfile:1.7
# One image for every Pushfleet process: `docker run pushfleet api|worker|scheduler|apns-sim|cli`.
# The runtime stage carries production node_modules, the sources, and esbuild bundles of each app
# (dist/), which the entrypoint runs; tsx (a production dependency) remains for the sources.
ARG NODE_IMAGE=node:20-bookworm-slim

# 1. Only the package manifests, so the dependency layer is rebuilt when they change, not on
#    every source edit.
FROM ${NODE_IMAGE} AS manifests
WORKDIR /src
COPY . .
RUN mkdir -p /manifests \
 && cp package.json package-lock.json /manifests/ \
 && find apps packages -mindepth 2 -maxdepth 2 -name package.json -exec cp --parents {} /manifests/ \;

# 2. Production dependencies (workspace links included), no dev tools, no install scripts.
FROM ${NODE_IMAGE} AS deps
WORKDIR /app
COPY --from=manifests /manifests/ ./
RUN --mount=type=cache,target=/root/.npm \
    npm ci --omit=dev --ignore-scripts --no-audit --no-fund \
 && npm cache clean --force

# 3. Runtime: non-root, nothing writable but /tmp (the simulator's CA file; tsx's cache if used).
FROM ${NODE_IMAGE} AS runtime
ENV NODE_ENV=production \
    NODE_OPTIONS=--enable-source-maps \
    TMPDIR=/tmp
WORKDIR /app
RUN groupadd --system --gid 10001 pushfleet \
 && useradd --system --uid 10001 --gid 10001 --no-create-home --home-dir /nonexistent \
      --shell /usr/sbin/nologin pushfleet
COPY --from=deps --chown=root:root /app/ ./
COPY --chown=root:root apps/ ./apps/
COPY --chown=root:root packages/ ./packages/
# scripts/ops: the entrypoint, the healthcheck and the compose demo's setup and traffic scripts.
COPY --chown=root:root scripts/ops/ ./scripts/ops/
COPY --chown=root:root scripts/build.mjs ./scripts/build.mjs
# Bundle each app into dist/ with esbuild (shipped with tsx): the entrypoint runs these plain JS
# files, so no TypeScript loader sits in memory and processes start at once.
RUN node scripts/build.mjs && chmod 0755 scripts/ops/entrypoint.sh
# Numeric so Kubernetes can verify runAsNonRoot.
USER 10001:10001
EXPOSE 8080 9091 9092 8443 8444
# Probes the running process's own /healthz (port worked out from its config); cli is a no-op.
HEALTHCHECK --interval=30s --timeout=5s --start-period=20s --retries=3 \
  CMD ["node", "/app/scripts/ops/healthcheck.mjs"]
STOPSIGNAL SIGTERM
ENTRYPOINT ["/app/scripts/ops/entrypoint.sh"]
CMD ["help"]
