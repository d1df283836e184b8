# Lykta in a container: `lykta serve` on port 8000, data in /var/lib/lykta.
#   docker build -t lykta .
#   docker run -p 8000:8000 -v lykta:/var/lib/lykta lykta
# compose.yaml runs it with PostgreSQL and NATS. Everything Lykta needs is in the image
# (Swagger UI and Redoc included), so it runs without internet access.

FROM python:3.11-slim AS build
WORKDIR /src
COPY pyproject.toml README.md ./
COPY src ./src
RUN pip wheel --no-cache-dir --wheel-dir /wheels '.[postgres]'

FROM python:3.11-slim
RUN useradd --system --create-home --home-dir /var/lib/lykta --uid 10001 lykta
COPY --from=build /wheels /wheels
RUN pip install --no-cache-dir --no-index --find-links /wheels 'lykta[postgres]' \
    && rm -rf /wheels
USER lykta
WORKDIR /var/lib/lykta
ENV LYKTA_HOME=/var/lib/lykta \
    LYKTA_HOST=0.0.0.0 \
    LYKTA_PORT=8000 \
    PYTHONUNBUFFERED=1
VOLUME ["/var/lib/lykta"]
EXPOSE 8000
# Ready (not merely alive): database reachable, schema current, index loaded.
HEALTHCHECK --interval=10s --timeout=5s --start-period=120s --retries=3 \
    CMD ["python", "-c", "import sys, urllib.request; sys.exit(urllib.request.urlopen('http://127.0.0.1:8000/readyz', timeout=4).status != 200)"]
CMD ["lykta", "serve"]
