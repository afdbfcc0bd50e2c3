# syntax=docker/dockerfile:1
# One image for both processes: `sluice operator` and `sluice gateway` (the chart passes the
# subcommand as args). Node 24 runs the TypeScript sources directly (type stripping), so there
# is no build step: stage one installs production dependencies, stage two copies them and the
# sources. Sources must stay outside node_modules: Node refuses to strip types there.
# No Docker engine runs in our CI, so this file is not built there; scripts/e2e-kind.sh builds it.
ARG NODE_IMAGE=node:24-bookworm-slim

FROM ${NODE_IMAGE} AS deps
WORKDIR /app
COPY package.json package-lock.json ./
# `npm ci`: exactly the locked versions (the lock lists every platform's optional packages).
# --ignore-scripts: no production dependency needs an install script to run.
RUN npm ci --omit=dev --ignore-scripts --no-audit --no-fund \
 && npm cache clean --force

FROM ${NODE_IMAGE}
ENV NODE_ENV=production
WORKDIR /app
COPY --from=deps /app/node_modules ./node_modules
COPY package.json ./
COPY cli ./cli
COPY core ./core
COPY gateway/src ./gateway/src
COPY operator/src ./operator/src
# The image's `node` user, by number so that runAsNonRoot can verify it.
USER 1000:1000
EXPOSE 8080 9901 9902
ENTRYPOINT ["node", "cli/sluice.ts"]
CMD ["--help"]
