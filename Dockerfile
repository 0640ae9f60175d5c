# The FintraOS Core image: the `fintra` CLI, the flow's workers, the Passport exporter and the API.
FROM python:3.11-slim
WORKDIR /app
COPY pyproject.toml README.md ./
COPY schemas schemas
COPY operators operators
COPY flows flows
COPY api api
COPY fintra fintra
COPY infra infra
RUN pip install --no-cache-dir .
ENV FINTRA_HOME=/data
VOLUME /data
ENTRYPOINT ["fintra"]
