"""The deployment files: compose validates, dashboards and scrapes name what the code exports."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from pathlib import Path

import pytest
import yaml
from prometheus_client import REGISTRY

import api.app
import flows.metrics
import flows.postgres
import flows.twin_step

ROOT = Path(__file__).resolve().parents[2]
COMPOSE = ROOT / "docker-compose.yml"
DASHBOARD = ROOT / "infra" / "grafana" / "dashboards" / "fintra-core.json"
PROMETHEUS = ROOT / "infra" / "prometheus" / "prometheus.yml"

# The modules whose import registers the metrics the dashboard draws.
EXPORTERS = (api.app, flows.metrics, flows.postgres, flows.twin_step)


def exported_metrics() -> set[str]:
    names: set[str] = set()
    suffixes = {"counter": ("_total",), "histogram": ("_bucket", "_sum", "_count")}
    for metric in REGISTRY.collect():
        names.add(metric.name)
        names.update(metric.name + suffix for suffix in suffixes.get(metric.type, ()))
    # The dataflow's own metrics, served on the workers' endpoint beside this registry.
    for name in flows.metrics.BYTEWAX_METRICS:
        names.add(name)
        if name.endswith("_seconds"):
            names.update(name + suffix for suffix in suffixes["histogram"])
    return names


def test_compose_file_validates() -> None:
    tool = shutil.which("docker-compose")
    assert tool, "docker-compose is installed by `make test` (Debian package)"
    checked = subprocess.run(
        [tool, "-f", str(COMPOSE), "config", "-q"],
        capture_output=True,
        text=True,
        check=False,
        cwd=ROOT,
    )
    assert checked.returncode == 0, checked.stderr


def test_compose_runs_every_part_of_the_system() -> None:
    services = yaml.safe_load(COMPOSE.read_text())["services"]
    assert {
        "redpanda",
        "console",
        "timescaledb",
        "topic-init",
        "migrate",
        "worker-0",
        "worker-1",
        "passport-exporter",
        "api",
        "prometheus",
        "grafana",
    } <= set(services)
    assert services["timescaledb"]["image"].startswith("timescale/timescaledb")
    for worker in ("worker-0", "worker-1"):
        command = services[worker]["command"]
        addresses = command[command.index("--addresses") + 1].split(",")
        assert addresses == ["worker-0:2101", "worker-1:2101"]


def test_prometheus_scrapes_the_workers_and_the_api_where_they_listen() -> None:
    services = yaml.safe_load(COMPOSE.read_text())["services"]
    config = yaml.safe_load(PROMETHEUS.read_text())
    targets = {
        target
        for job in config["scrape_configs"]
        for group in job["static_configs"]
        for target in group["targets"]
    }
    for target in targets:
        host, port = target.split(":")
        assert host in services, target
        command = " ".join(map(str, services[host].get("command", [])))
        assert f"--metrics-port {port}" in command or f"--port {port}" in command, target


def dashboard_expressions() -> list[str]:
    dashboard = json.loads(DASHBOARD.read_text())
    return [t["expr"] for panel in dashboard["panels"] for t in panel["targets"]]


def test_every_dashboard_query_names_a_metric_the_code_exports() -> None:
    expressions = " ".join(dashboard_expressions())
    assert len(dashboard_expressions()) >= 10
    # Our own metrics wherever they appear, and any other metric by its selector.
    names = set(re.findall(r"\b(fintra_[a-z_]+)", expressions))
    names |= set(re.findall(r"\b([a-z_:]+)\s*[{\[]", expressions))
    assert "process_start_time_seconds" in names
    missing = names - exported_metrics()
    assert not missing, missing


def test_the_dashboard_draws_every_metric_the_code_exports() -> None:
    expressions = " ".join(dashboard_expressions())
    drawn = set(re.findall(r"\b(fintra_[a-z_]+)", expressions))
    ours = {
        metric.name
        for metric in REGISTRY.collect()
        if metric.name.startswith("fintra_") and metric.type in {"counter", "gauge", "histogram"}
    }
    suffixes = ("", "_total", "_bucket", "_sum", "_count")
    undrawn = {name for name in ours if not any(name + s in drawn for s in suffixes)}
    assert not undrawn, undrawn


@pytest.mark.parametrize("path", sorted((ROOT / "infra" / "grafana").rglob("*.yml")))
def test_grafana_provisioning_is_valid_yaml(path: Path) -> None:
    assert yaml.safe_load(path.read_text())["apiVersion"] == 1
