"""The deployment files are valid and say what the product needs: the Dockerfile
(hadolint, non-root, health check, no secrets), compose.yaml (the Compose
specification's schema, HAProxy's own config check) and deploy/k8s/ (Kubernetes'
schemas through kubernetes-validate, and the drain, probes and selectors fitting
together). Building and running the image is scripts/image-smoke.sh, in CI."""
from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import kubernetes_validate
import pytest
import yaml

from config.server import stop_budget_s

ROOT = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent
K8S = ROOT / "deploy" / "k8s"
KUBERNETES_VERSION = "1.30.0"  # the oldest version still supported by the big clouds; newer ones accept it too


BLIP_CHECKS = 3  # failed health checks in a row before a platform acts on them


def worker_reads(env: dict[str, str]) -> tuple[float, float]:
    """DRAIN_S and STORE_OUTAGE_S as a worker with `env` reads them (config.settings and its defaults)."""
    given = {k: str(env[k]) for k in ("DRAIN_S", "STORE_OUTAGE_S") if str(env.get(k, "")).strip()}
    code = "from django.conf import settings as s; print(s.DRAIN_S, s.STORE_OUTAGE_S)"
    result = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=60,
        env={"PATH": os.environ["PATH"], "DJANGO_SETTINGS_MODULE": "config.settings", "DEBUG": "1", **given},
    )
    assert result.returncode == 0, result.stderr
    drain, outage = result.stdout.split()
    return float(drain), float(outage)


def dotenv(path: Path) -> dict[str, str]:
    """KEY=value lines (comments after the value dropped)."""
    pairs = (line.split("#", 1)[0].strip().partition("=") for line in path.read_text().splitlines())
    return {key.strip(): value.strip() for key, sep, value in pairs if sep and key.strip()}


def tool(name: str) -> str:
    path = BIN / name
    return str(path) if path.exists() else shutil.which(name) or name


def k8s_documents() -> dict[tuple[str, str], dict]:
    docs = {}
    for path in sorted(K8S.rglob("*.yaml")):
        for doc in yaml.safe_load_all(path.read_text()):
            if doc:
                docs[(doc["kind"], doc["metadata"]["name"])] = doc
    return docs


# ---------------------------------------------------------------- Dockerfile


def test_dockerfile_is_hadolint_clean():
    result = subprocess.run([tool("hadolint"), "--no-color", "Dockerfile"], cwd=ROOT, capture_output=True, text=True)
    assert result.returncode == 0 and not result.stdout.strip(), result.stdout + result.stderr


def test_dockerfile_is_multi_stage_on_a_base_arg_runs_unprivileged_and_checks_health():
    text = (ROOT / "Dockerfile").read_text()
    assert re.search(r"^ARG BASE=python:3\.11-slim-bookworm$", text, re.M)
    stages = re.findall(r"^FROM \$\{BASE\} AS (\w+)$", text, re.M)
    assert stages == ["build", "runtime"]
    users = re.findall(r"^USER (\S+)$", text, re.M)
    assert users and users[-1].split(":")[0].isdigit() and int(users[-1].split(":")[0]) > 0
    assert re.search(r"^HEALTHCHECK .*\n\s+CMD .*--healthcheck", text, re.M)
    assert re.search(r'^CMD \["python", "-m", "config.server"\]$', text, re.M)


def test_no_secret_is_baked_into_the_image():
    text = (ROOT / "Dockerfile").read_text()
    declared = re.findall(r"^(?:ENV|ARG)\s+(.+)$", text, re.M) + re.findall(r"^\s+(\w+)=\S+ \\?$", text, re.M)
    assert not [d for d in declared if re.search(r"SECRET|PASSWORD|API_KEY|TOKEN", d)]
    ignored = (ROOT / ".dockerignore").read_text().split()
    assert ".env" in ignored and ".git" in ignored


# ---------------------------------------------------------------- compose


def test_compose_file_follows_the_compose_specification():
    result = subprocess.run(
        [tool("check-jsonschema"), "--builtin-schema", "vendor.compose-spec", "compose.yaml"],
        cwd=ROOT, capture_output=True, text=True,
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_compose_runs_two_app_replicas_behind_haproxy_with_postgres_redis_and_time_to_drain():
    compose = yaml.safe_load((ROOT / "compose.yaml").read_text())
    services = compose["services"]
    assert {"app", "lb", "postgres", "redis", "migrate"} <= set(services)
    app = services["app"]
    assert app["deploy"]["replicas"] == 2
    assert app["env_file"] == ".env"
    assert app["environment"]["DATABASE_URL"].startswith("postgres://") and "@postgres:5432/" in app["environment"]["DATABASE_URL"]
    assert app["environment"]["REDIS_URL"].startswith("redis://redis:")
    assert app["depends_on"]["migrate"]["condition"] == "service_completed_successfully"
    assert "haproxy" in services["lb"]["image"]


def test_compose_grace_period_covers_the_drain_and_the_flush_of_held_writes():
    """Issue 31 C4: a worker stopped before it has flushed the writes it holds loses them."""
    app = yaml.safe_load((ROOT / "compose.yaml").read_text())["services"]["app"]
    drain, outage = worker_reads(dotenv(ROOT / ".env.example") | app["environment"])  # .env is a copy of .env.example
    assert app["stop_grace_period"] == f"{stop_budget_s(drain, outage)}s"


def test_compose_load_balancer_config_passes_haproxys_check():
    result = subprocess.run([tool("haproxy"), "-c", "-f", "deploy/compose/haproxy.cfg"], cwd=ROOT, capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr
    config = (ROOT / "deploy" / "compose" / "haproxy.cfg").read_text()
    assert "uri /readyz" in config and "timeout tunnel" in config


# ---------------------------------------------------------------- Kubernetes


@pytest.mark.parametrize("path", sorted(p.relative_to(ROOT).as_posix() for p in K8S.rglob("*.yaml")))
def test_kubernetes_manifest_validates_strictly(path):
    for doc in yaml.safe_load_all((ROOT / path).read_text()):
        kubernetes_validate.validate(doc, KUBERNETES_VERSION, strict=True)


def test_kubernetes_deployment_probes_resources_and_grace_period_cover_the_drain():
    docs = k8s_documents()
    pod = docs[("Deployment", "voicebot")]["spec"]["template"]["spec"]
    container = pod["containers"][0]
    assert container["readinessProbe"]["httpGet"]["path"] == "/readyz"
    assert container["livenessProbe"]["httpGet"]["path"] == "/healthz"
    assert {"cpu", "memory"} <= set(container["resources"]["requests"])
    assert "memory" in container["resources"]["limits"]
    pre_stop = int(container["lifecycle"]["preStop"]["exec"]["command"][-1])
    drain, outage = worker_reads(docs[("ConfigMap", "voicebot-config")]["data"])
    assert pod["terminationGracePeriodSeconds"] == pre_stop + stop_budget_s(drain, outage)  # issue 31 C4
    assert pod["securityContext"]["runAsNonRoot"] is True
    refs = {ref.get("configMapRef", ref.get("secretRef"))["name"] for ref in container["envFrom"]}
    assert refs == {"voicebot-config", "voicebot-secrets"}
    secret = docs[("Secret", "voicebot-secrets")]["stringData"]
    assert {"SECRET_KEY", "DATABASE_URL", "REDIS_URL"} <= set(secret)
    assert "localhost" in docs[("ConfigMap", "voicebot-config")]["data"]["ALLOWED_HOSTS"].split(",")


def test_probes_ride_out_a_blip_and_liveness_asks_only_the_process():
    """Issue 31 C1-C2: one failed readiness check does not take a worker out of
    rotation (on Kubernetes nor behind the compose stack's HAProxy), and liveness,
    whose failure restarts the worker and cuts its calls, is /healthz (the process)."""
    container = k8s_documents()[("Deployment", "voicebot")]["spec"]["template"]["spec"]["containers"][0]
    readiness, liveness = container["readinessProbe"], container["livenessProbe"]
    assert readiness["failureThreshold"] >= BLIP_CHECKS and liveness["failureThreshold"] >= BLIP_CHECKS
    assert liveness["httpGet"]["path"] == container["startupProbe"]["httpGet"]["path"] == "/healthz"
    config = (ROOT / "deploy" / "compose" / "haproxy.cfg").read_text()
    falls = re.findall(r"^\s*default-server .*\bfall (\d+)", config, re.M)  # pages and API, call sockets
    assert falls and all(int(fall) >= BLIP_CHECKS for fall in falls)
    serve = (ROOT / "scripts" / "serve.sh").read_text()  # `make serve`: HAProxy's default fall (3) unless set
    assert all(int(n) >= BLIP_CHECKS for n in re.findall(r"\bfall (\d+)", serve))


def test_kubernetes_service_pdb_hpa_and_ingress_point_at_the_workers():
    docs = k8s_documents()
    deployment = docs[("Deployment", "voicebot")]
    labels = deployment["spec"]["template"]["metadata"]["labels"]
    service = docs[("Service", "voicebot")]
    assert service["spec"]["selector"].items() <= labels.items()
    assert docs[("PodDisruptionBudget", "voicebot")]["spec"]["selector"]["matchLabels"].items() <= labels.items()
    hpa = docs[("HorizontalPodAutoscaler", "voicebot")]["spec"]
    assert hpa["scaleTargetRef"] == {"apiVersion": "apps/v1", "kind": "Deployment", "name": "voicebot"}
    assert hpa["metrics"][0]["resource"]["name"] == "cpu"
    ingress = docs[("Ingress", "voicebot")]
    backend = ingress["spec"]["rules"][0]["http"]["paths"][0]["backend"]["service"]
    assert backend["name"] == "voicebot" and backend["port"]["name"] in {p["name"] for p in service["spec"]["ports"]}
    assert int(ingress["metadata"]["annotations"]["nginx.ingress.kubernetes.io/proxy-read-timeout"]) >= 600


def test_no_tracked_file_is_named_like_a_secret_and_the_credentials_example_holds_placeholders():
    """A file called secret*, *.pem or .env in the repository alarms whoever reads it
    (and secret scanners): there is none. The Kubernetes Secret's example is named
    for what it holds and carries placeholders only."""
    tracked = subprocess.run(["git", "ls-files"], cwd=ROOT, capture_output=True, text=True, check=True).stdout.split()
    named = [
        path for path in tracked
        if "secret" in Path(path).name.lower() or path.endswith(".pem") or Path(path).name == ".env"
    ]
    assert named == [], named
    example = ROOT / "deploy/k8s/examples/app-credentials.example.yaml"
    values = yaml.safe_load(example.read_text())["stringData"]
    assert all(value == "" or "replace" in value or ".example." in value for value in values.values()), values
