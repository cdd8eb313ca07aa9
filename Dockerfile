# Image of the API and runner processes (not the sandbox image, which images/build.ts makes).
FROM node:20-bookworm-slim
WORKDIR /app
# The runner's host tools for session workspaces: losetup, mount, fsfreeze, mkfs.ext4.
RUN apt-get update && apt-get install -y --no-install-recommends util-linux mount e2fsprogs && rm -rf /var/lib/apt/lists/*
COPY package.json package-lock.json ./
COPY sdk/package.json sdk/package.json
COPY mcp/package.json mcp/package.json
RUN npm ci --omit=dev --no-audit --no-fund
COPY . .
ENV NODE_ENV=production
