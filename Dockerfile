# Diesel Direct: one image for the API, the worker and the scheduler.

# The browser apps' QR decoder and chart library, bundled from npm at build time (never fetched from a CDN at run time).
FROM node:20-slim AS web
WORKDIR /src
COPY package.json package-lock.json ./
COPY web/build.mjs web/build.mjs
COPY web/vendor-src web/vendor-src
RUN npm ci --no-audit --no-fund && npm run build

FROM python:3.12-slim AS base
ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 PIP_NO_CACHE_DIR=1 PIP_DISABLE_PIP_VERSION_CHECK=1
# Pango for WeasyPrint and the CJK fonts that invoice and statement PDFs are set in.
RUN apt-get update \
 && apt-get install -y --no-install-recommends libpango-1.0-0 libpangoft2-1.0-0 fonts-noto-cjk \
 && rm -rf /var/lib/apt/lists/*
RUN useradd --create-home --uid 10001 diesel
WORKDIR /app
COPY pyproject.toml README.md ./
COPY api ./api
COPY core ./core
COPY money ./money
COPY orders ./orders
COPY dispatch ./dispatch
COPY routing ./routing
COPY tracking ./tracking
COPY web ./web
COPY --from=web /src/web/static/vendor ./web/static/vendor
RUN pip install --no-cache-dir . && mkdir -p /data && chown diesel /data
USER diesel
ENV DIESEL_DATA_DIR=/data
EXPOSE 8000
HEALTHCHECK --interval=15s --timeout=3s --retries=5 \
  CMD python -c "import urllib.request,sys; sys.exit(0 if urllib.request.urlopen('http://127.0.0.1:8000/health', timeout=2).status == 200 else 1)"
CMD ["diesel", "serve", "--host", "0.0.0.0", "--port", "8000", "--workers", "2", "--migrate"]
