"""What the deployment files promise at the edge: client addresses believed only from
the load balancer, and a first admin created by every way of running the product.

- compose.yaml trusts X-Forwarded-For from the lb container's fixed address only, so
  another container on the stack's network cannot choose its own address (and with it
  the rate limits and the login lock-out); in Kubernetes a NetworkPolicy lets only the
  ingress controller (and Prometheus) reach the workers.
- compose's `migrate` service, the Kubernetes init containers and the image's own
  start-up run `manage.py ensure_admin` (as `make run` does), with the password from a
  file (a compose secret, a Secret volume) or generated into VAR_DIR: the image's way
  is run here through the real server.
"""
from __future__ import annotations

import ipaddress
import re
import secrets
from pathlib import Path

import pytest
import yaml
from django.test import RequestFactory, override_settings

from calls.http.clientip import client_ip
from tests.deploy.test_across_workers import staff_session
from tests.deploy.test_deploy_files import k8s_documents
from devtools.liveserver import Worker

ROOT = Path(__file__).resolve().parents[2]


def compose() -> dict:
    return yaml.safe_load((ROOT / "compose.yaml").read_text())


def forwarded(peer: str, chain: str):
    return RequestFactory().get("/", REMOTE_ADDR=peer, HTTP_X_FORWARDED_FOR=chain)


# ---------------------------------------------------------------- client addresses


def test_compose_trusts_exactly_the_load_balancer():
    stack = compose()
    trusted = stack["services"]["app"]["environment"]["TRUSTED_PROXIES"].split(",")
    lb = stack["services"]["lb"]["networks"]["default"]["ipv4_address"]
    assert trusted == [lb]
    (pool,) = stack["networks"]["default"]["ipam"]["config"]
    subnet, others = ipaddress.ip_network(pool["subnet"]), ipaddress.ip_network(pool["ip_range"])
    assert ipaddress.ip_address(lb) in subnet and ipaddress.ip_address(lb) not in others  # nobody else gets it
    neighbour = str(next(others.hosts()))  # any other container of the stack
    with override_settings(TRUSTED_PROXIES=trusted):
        assert client_ip(forwarded(neighbour, "203.0.113.5")) == neighbour  # cannot pick its own address
        assert client_ip(forwarded(lb, "6.6.6.6, 203.0.113.5")) == "203.0.113.5"  # the hop the lb saw


def test_kubernetes_lets_only_the_ingress_controller_and_prometheus_reach_the_workers():
    docs = k8s_documents()
    policy = docs[("NetworkPolicy", "voicebot")]["spec"]
    labels = docs[("Deployment", "voicebot")]["spec"]["template"]["metadata"]["labels"]
    assert policy["podSelector"]["matchLabels"].items() <= labels.items() and policy["policyTypes"] == ["Ingress"]
    (rule,) = policy["ingress"]
    namespaces = {peer["namespaceSelector"]["matchLabels"]["kubernetes.io/metadata.name"] for peer in rule["from"]}
    assert namespaces == {"ingress-nginx", "monitoring"} and all(set(peer) == {"namespaceSelector"} for peer in rule["from"])
    assert rule["ports"] == [{"port": "http"}]


# ---------------------------------------------------------------- the first admin


def test_compose_creates_the_first_admin_from_a_secret_file_kept_out_of_git_and_the_image():
    stack = compose()
    migrate = stack["services"]["migrate"]
    assert "manage.py ensure_admin" in " ".join(migrate["command"])
    assert migrate["secrets"] == ["admin_password"]
    assert migrate["environment"]["ADMIN_PASSWORD_FILE"] == "/run/secrets/admin_password"
    assert stack["services"]["app"]["environment"]["ENSURE_ADMIN_ON_START"] == "0"  # migrate did it, once
    path = stack["secrets"]["admin_password"]["file"].removeprefix("./")
    for ignore in (".gitignore", ".dockerignore"):
        assert path in (ROOT / ignore).read_text().split(), f"{path} must be in {ignore}"


def test_kubernetes_creates_the_first_admin_in_an_init_container_from_a_secret_volume():
    docs = k8s_documents()
    pod = docs[("Deployment", "voicebot")]["spec"]["template"]["spec"]
    init = {c["name"]: c for c in pod["initContainers"]}
    assert [c["name"] for c in pod["initContainers"]] == ["migrate", "ensure-admin"]
    admin = init["ensure-admin"]
    assert admin["command"][-2:] == ["manage.py", "ensure_admin"]
    password_file = next(e["value"] for e in admin["env"] if e["name"] == "ADMIN_PASSWORD_FILE")
    mount = next(m for m in admin["volumeMounts"] if password_file.startswith(m["mountPath"] + "/"))
    volume = next(v for v in pod["volumes"] if v["name"] == mount["name"])
    secret = docs[("Secret", volume["secret"]["secretName"])]
    assert password_file.rsplit("/", 1)[1] in secret["stringData"]
    worker = pod["containers"][0]
    assert {"name": "ENSURE_ADMIN_ON_START", "value": "0"} in worker["env"]


def test_the_image_creates_the_first_admin_at_start():
    text = (ROOT / "Dockerfile").read_text()
    assert re.search(r"^\s+ENSURE_ADMIN_ON_START=1\s*$", text, re.M)
    assert re.search(r"^\s+MIGRATE_ON_START=1 \\$", text, re.M)


@pytest.mark.speech  # a server process
async def test_the_server_creates_the_first_admin_from_a_password_file_as_the_image_does(tmp_path):
    password = secrets.token_urlsafe(16)
    (tmp_path / "admin-password").write_text(password + "\n")
    worker = Worker(tmp_path / "var", ENSURE_ADMIN_ON_START="1", ADMIN_PASSWORD_FILE=str(tmp_path / "admin-password"))
    try:
        await worker.until_status("/healthz", 200)
        assert await staff_session(worker, password)  # the admin's login form takes it
        assert "password from " + str(tmp_path / "admin-password") in worker.log()
        assert not (tmp_path / "var" / "admin-password.txt").exists()  # nothing generated: the file's password
    finally:
        worker.kill()


# ---------------------------------------------------------------- overload (make serve's test: test_overload.py)


def test_compose_load_balancer_sends_each_replica_at_most_its_lines_and_answers_busy():
    stack = compose()
    lines = stack["services"]["app"]["environment"]["MAX_CALLS_PER_WORKER"]
    assert lines == stack["services"]["lb"]["environment"]["WORKER_LINES"] == "${WORKER_LINES:-8}"  # one number
    config = (ROOT / "deploy/compose/haproxy.cfg").read_text()
    calls = config.split("\nbackend calls\n", 1)[1]
    assert 'maxconn "${WORKER_LINES-8}"' in calls and "server-template app- 10 app:8000" in calls
    assert "use_backend calls if { path_beg /ws/calls/ /ws/telephony/ }" in config
    assert re.search(r"^    retry-on conn-failure$", config, re.M) and "timeout queue" in config
    assert re.search(r'^    http-error status 503 content-type application/json string ".*busy.*" hdr Retry-After \d+$', config, re.M)
    assert re.search(r"^    bind :8000 backlog \d+$", config, re.M)
