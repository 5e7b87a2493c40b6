#!/usr/bin/env python3
"""Checks the deployment files of deploy/ without Docker or a cluster.

    python3 tools/validate_deploy.py target/debug/techtrade

- deploy/compose.yaml and every deploy/k8s/*.yaml parse (PyYAML);
- they have what a deployment needs: the services and roles, health checks,
  probes on /readyz and /healthz, resource requests, the HPA, the migration
  Job, non-root containers, references that resolve (ConfigMaps, Secret keys,
  Services, the Deployment the HPA scales, the kustomization's files);
- every TECHTRADE__SECTION__KEY variable they (and the Dockerfile) set names
  a real configuration key, as `techtrade config keys` lists them;
- the policies ConfigMap equals config/policies/*.toml.

Exits 1 listing every problem found; `--self-test` first checks that the
checks catch planted mistakes. `--write-policies` rewrites the policies
ConfigMap from config/policies (after a policy file changed) and exits.
"""

import copy
import pathlib
import re
import subprocess
import sys

import yaml

ROOT = pathlib.Path(__file__).resolve().parent.parent
DEPLOY = ROOT / "deploy"
# Variables the binary reads that are not settings.
NON_SETTINGS = {"TECHTRADE_PROFILE", "TECHTRADE_CONFIG_DIR"}


def config_keys(binary):
    out = subprocess.run([binary, "config", "keys"], check=True, capture_output=True, text=True).stdout
    return {line.split()[1] for line in out.splitlines() if line.strip()}


def load_all(path):
    with open(path, encoding="utf-8") as f:
        return [doc for doc in yaml.safe_load_all(f) if doc is not None]


class Checker:
    def __init__(self, keys):
        self.keys = keys
        self.problems = []

    def need(self, condition, message):
        if not condition:
            self.problems.append(message)
        return condition

    def env_name(self, where, name):
        if not name.startswith("TECHTRADE"):
            return
        self.need(
            name in NON_SETTINGS or name in self.keys,
            f"{where}: {name} is not a configuration key (see `techtrade config keys`)",
        )

    # --- compose -------------------------------------------------------------
    def compose(self, doc):
        where = "compose.yaml"
        services = doc.get("services") or {}
        for name in ["postgres", "meilisearch", "mailpit", "migrate", "api", "worker", "lb"]:
            self.need(name in services, f"{where}: no service {name}")
        declared_volumes = set((doc.get("volumes") or {}).keys())
        for name, service in services.items():
            here = f"{where}: services.{name}"
            self.need("image" in service, f"{here}: no image")
            check = service.get("healthcheck") or {}
            if name == "migrate":
                self.need(service.get("command") == ["migrate"], f"{here}: the command is not [migrate]")
                self.need(service.get("restart") == "no", f"{here}: a one-shot step must not restart")
            else:
                self.need(bool(check.get("test")) and not check.get("disable"), f"{here}: no healthcheck")
            for dependency in service.get("depends_on") or {}:
                self.need(dependency in services, f"{here}: depends on unknown service {dependency}")
            for volume in service.get("volumes") or []:
                source = volume.split(":", 1)[0] if isinstance(volume, str) else volume.get("source", "")
                if source and not source.startswith((".", "/")):
                    self.need(source in declared_volumes, f"{here}: volume {source} is not declared")
            environment = service.get("environment") or {}
            if isinstance(environment, list):
                environment = dict(item.split("=", 1) for item in environment)
            for key in environment:
                self.env_name(here, key)
        api, worker, migrate = services.get("api", {}), services.get("worker", {}), services.get("migrate", {})
        command = api.get("command") or []
        self.need(command[:1] == ["serve"] and "--no-workers" in command, f"{where}: api is not `serve --no-workers`")
        self.need((api.get("deploy") or {}).get("replicas", 1) >= 2, f"{where}: fewer than two API replicas")
        self.need((worker.get("command") or [])[:1] == ["worker"], f"{where}: worker is not `worker`")
        for name in ["api", "worker"]:
            condition = ((services.get(name) or {}).get("depends_on") or {}).get("migrate", {}).get("condition")
            self.need(condition == "service_completed_successfully", f"{where}: {name} does not wait for migrate")
        self.need("api" in ((services.get("lb") or {}).get("depends_on") or {}), f"{where}: lb does not front api")
        for name in ["migrate", "api", "worker"]:
            env = (services.get(name) or {}).get("environment") or {}
            self.need(str(env.get("TECHTRADE__DATABASE__URL", "")).startswith("postgres://"),
                      f"{where}: {name} is not on PostgreSQL")
        self.need((migrate.get("environment") or {}).get("TECHTRADE__DATABASE__MIGRATE_ON_START") == "false",
                  f"{where}: replicas would migrate on start")

    # --- kubernetes ----------------------------------------------------------
    def kubernetes(self, docs_by_file, secret_example, kustomization):
        docs = [(f, d) for f, ds in docs_by_file.items() for d in ds]
        kinds = {}
        for f, d in docs:
            self.need("apiVersion" in d and "kind" in d and "name" in (d.get("metadata") or {}),
                      f"k8s/{f}: a document without apiVersion, kind or metadata.name")
            kinds.setdefault(d.get("kind"), []).append((f, d))
        for kind in ["Deployment", "Service", "Ingress", "Job", "ConfigMap", "HorizontalPodAutoscaler"]:
            self.need(kind in kinds, f"k8s: no {kind}")
        deployments = {d["metadata"]["name"]: d for _, d in kinds.get("Deployment", [])}
        configmaps = {d["metadata"]["name"]: d for _, d in kinds.get("ConfigMap", [])}
        services = {d["metadata"]["name"]: d for _, d in kinds.get("Service", [])}
        secret_keys = set((secret_example.get("stringData") or {}).keys())
        roles = set()
        for f, d in kinds.get("Deployment", []) + kinds.get("Job", []):
            here = f"k8s/{f}: {d['kind']} {d['metadata']['name']}"
            pod = d["spec"]["template"]["spec"]
            self.need((pod.get("securityContext") or {}).get("runAsNonRoot") is True, f"{here}: not runAsNonRoot")
            volumes = {v["name"]: v for v in pod.get("volumes") or []}
            for volume in volumes.values():
                if "configMap" in volume:
                    self.need(volume["configMap"]["name"] in configmaps,
                              f"{here}: volume of unknown ConfigMap {volume['configMap']['name']}")
            for c in pod["containers"]:
                args = c.get("args") or []
                roles.add(" ".join(args))
                resources = c.get("resources") or {}
                for part in ["requests", "limits"]:
                    for what in ["cpu", "memory"]:
                        self.need(what in (resources.get(part) or {}), f"{here}: no resources.{part}.{what}")
                for source in c.get("envFrom") or []:
                    name = (source.get("configMapRef") or {}).get("name")
                    self.need(name in configmaps, f"{here}: envFrom unknown ConfigMap {name}")
                    for key in (configmaps.get(name) or {}).get("data") or {}:
                        self.env_name(f"k8s ConfigMap {name}", key)
                for var in c.get("env") or []:
                    self.env_name(here, var["name"])
                    ref = (var.get("valueFrom") or {}).get("secretKeyRef")
                    if ref:
                        self.need(ref.get("key") in secret_keys,
                                  f"{here}: secret key {ref.get('key')} is not in secret.example.yaml")
                for mount in c.get("volumeMounts") or []:
                    self.need(mount["name"] in volumes, f"{here}: mounts unknown volume {mount['name']}")
                if d["kind"] == "Deployment":
                    ports = {p.get("name") for p in c.get("ports") or []} | {p["containerPort"] for p in c.get("ports") or []}
                    for probe, path in [("readinessProbe", "/readyz"), ("livenessProbe", "/healthz")]:
                        get = (c.get(probe) or {}).get("httpGet") or {}
                        self.need(get.get("path") == path, f"{here}: {probe} is not GET {path}")
                        self.need(get.get("port") in ports, f"{here}: {probe} port {get.get('port')} is not a container port")
            if d["kind"] == "Job":
                self.need(pod.get("restartPolicy") in ("OnFailure", "Never"), f"{here}: a Job must not restart Always")
        for role in ["serve --no-workers", "worker", "migrate"]:
            self.need(role in roles, f"k8s: nothing runs `techtrade {role}`")
        for f, d in kinds.get("HorizontalPodAutoscaler", []):
            target = d["spec"]["scaleTargetRef"]
            self.need(target.get("kind") == "Deployment" and target.get("name") in deployments,
                      f"k8s/{f}: the HPA scales unknown {target}")
            api = deployments.get(target.get("name"), {})
            self.need("serve" in " ".join(api.get("spec", {}).get("template", {}).get("spec", {}).get("containers", [{}])[0].get("args", [])),
                      f"k8s/{f}: the HPA does not scale the API")
            self.need(d["spec"].get("minReplicas", 1) >= 2, f"k8s/{f}: minReplicas below 2")
        for f, d in kinds.get("Service", []):
            selector = d["spec"].get("selector") or {}
            matched = [n for n, dep in deployments.items()
                       if selector and all(dep["spec"]["template"]["metadata"]["labels"].get(k) == v for k, v in selector.items())]
            self.need(bool(matched), f"k8s/{f}: Service {d['metadata']['name']} selects no Deployment")
        for f, d in kinds.get("Ingress", []):
            for rule in d["spec"].get("rules") or []:
                for path in rule["http"]["paths"]:
                    name = path["backend"]["service"]["name"]
                    self.need(name in services, f"k8s/{f}: Ingress routes to unknown Service {name}")
        listed = set(kustomization.get("resources") or [])
        for f in docs_by_file:
            if f not in ("kustomization.yaml", "secret.example.yaml"):
                self.need(f in listed, f"k8s/kustomization.yaml: {f} is not listed")
        for f in listed:
            self.need(f in docs_by_file, f"k8s/kustomization.yaml: {f} does not exist")
        policies = (configmaps.get("techtrade-policies") or {}).get("data") or {}
        shipped = {p.name: p.read_text(encoding="utf-8") for p in (ROOT / "config/policies").glob("*.toml")}
        self.need(policies == shipped, "k8s/policies.yaml differs from config/policies/*.toml (rewrite it: tools/validate_deploy.py --write-policies)")

    # --- Dockerfile ------------------------------------------------------------
    def dockerfile(self, text):
        where = "Dockerfile"
        self.need(len(re.findall(r"^FROM ", text, re.M)) >= 2, f"{where}: not multi-stage")
        self.need("cargo build --release --locked -p techtrade-server" in text, f"{where}: not a locked release build")
        users = re.findall(r"^USER (\S+)", text, re.M)
        self.need(bool(users) and users[-1].split(":")[0] not in ("0", "root"), f"{where}: runs as root")
        self.need(re.search(r"^HEALTHCHECK ", text, re.M) is not None, f"{where}: no HEALTHCHECK")
        self.need("COPY config/" in text, f"{where}: the configuration and policies are not in the image")
        for name in re.findall(r"\b(TECHTRADE\w*)=", text):
            self.env_name(where, name)


def check_all(keys, compose, k8s, secret_example, kustomization, dockerfile):
    checker = Checker(keys)
    checker.compose(compose)
    checker.kubernetes(k8s, secret_example, kustomization)
    checker.dockerfile(dockerfile)
    return checker.problems


POLICIES_HEADER = """\
# The subsidy programs (config/policies/*.toml), mounted at /etc/techtrade/policies.
# Keep equal to config/policies: tools/validate_deploy.py checks it, and
# `python3 tools/validate_deploy.py --write-policies` rewrites it.
apiVersion: v1
kind: ConfigMap
metadata:
  name: techtrade-policies
  labels:
    app.kubernetes.io/name: techtrade
data:
"""


def write_policies():
    """The policies ConfigMap, generated: each file a literal block."""
    out = [POLICIES_HEADER]
    for path in sorted((ROOT / "config/policies").glob("*.toml")):
        out.append(f"  {path.name}: |\n")
        for line in path.read_text(encoding="utf-8").splitlines():
            out.append(f"    {line}\n" if line else "\n")
    (DEPLOY / "k8s/policies.yaml").write_text("".join(out), encoding="utf-8")


def main():
    if "--write-policies" in sys.argv:
        write_policies()
        return
    args = [a for a in sys.argv[1:] if not a.startswith("--")]
    if len(args) != 1:
        sys.exit("usage: validate_deploy.py [--self-test] PATH/TO/techtrade")
    keys = config_keys(args[0])
    compose = yaml.safe_load((DEPLOY / "compose.yaml").read_text(encoding="utf-8"))
    k8s = {p.name: load_all(p) for p in sorted((DEPLOY / "k8s").glob("*.yaml"))}
    secret_example = k8s["secret.example.yaml"][0]
    kustomization = k8s["kustomization.yaml"][0]
    k8s_resources = {f: ds for f, ds in k8s.items() if f not in ("kustomization.yaml", "secret.example.yaml")}
    k8s_resources["kustomization.yaml"] = []
    k8s_resources["secret.example.yaml"] = []
    dockerfile = (DEPLOY / "Dockerfile").read_text(encoding="utf-8")

    if "--self-test" in sys.argv:
        # Planted mistakes must each be found.
        bad_compose = copy.deepcopy(compose)
        bad_compose["services"]["api"]["environment"]["TECHTRADE__SERVER__LISTN"] = "0.0.0.0:8080"
        del bad_compose["services"]["worker"]["healthcheck"]
        bad_k8s = copy.deepcopy(k8s_resources)
        api = next(d for d in bad_k8s["api.yaml"] if d["kind"] == "Deployment")
        api["spec"]["template"]["spec"]["containers"][0]["readinessProbe"]["httpGet"]["path"] = "/"
        hpa = next(d for d in bad_k8s["api.yaml"] if d["kind"] == "HorizontalPodAutoscaler")
        hpa["spec"]["scaleTargetRef"]["name"] = "nothing"
        found = check_all(keys, bad_compose, bad_k8s, secret_example, kustomization, dockerfile.replace("USER 10001:10001", "USER root"))
        for expected in ["TECHTRADE__SERVER__LISTN", "worker: no healthcheck", "readinessProbe", "HPA scales unknown", "runs as root"]:
            if not any(expected in p for p in found):
                sys.exit(f"self-test: a planted mistake went unnoticed: {expected}")
        print(f"self-test: {len(found)} planted mistakes found")

    problems = check_all(keys, compose, k8s_resources, secret_example, kustomization, dockerfile)
    for problem in problems:
        print(f"deploy: {problem}", file=sys.stderr)
    if problems:
        sys.exit(1)
    documents = sum(len(ds) for ds in k8s.values())
    print(f"deploy: compose.yaml ({len(compose['services'])} services) and {documents} Kubernetes documents "
          f"in {len(k8s)} files are valid; every setting they use is a configuration key")


if __name__ == "__main__":
    main()
