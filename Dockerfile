# Build stage: dev dependencies are needed for `prisma generate` and `tsc`.
FROM node:24-bookworm-slim AS build
WORKDIR /app
ENV CHECKPOINT_DISABLE=1
COPY package.json package-lock.json ./
# Dependencies only (prepare skips the build: no sources in this layer yet).
RUN npm ci
COPY . .
RUN npm run build && npm prune --omit=dev

# Runtime stage: compiled app, production dependencies, committed migrations.
FROM node:24-bookworm-slim
WORKDIR /app
ENV NODE_ENV=production
# malloc keeps freed memory for reuse: the planner's text lives there (README, "Memory", scripts/node).
ENV GLIBC_TUNABLES=glibc.malloc.trim_threshold=268435456:glibc.malloc.mmap_threshold=33554432
COPY --from=build /app/node_modules ./node_modules
COPY --from=build /app/dist ./dist
COPY --from=build /app/prisma ./prisma
# The UI's static files and GraphiQL page (tsc copies no non-TS files; src/ui/plugin.ts reads them here).
COPY --from=build /app/src/ui ./src/ui
COPY package.json ./
USER node
EXPOSE 8080
CMD ["node", "dist/src/server.js"]
