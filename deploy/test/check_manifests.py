"""What the API schemas cannot see in deploy/kubernetes: that the resources fit together and fit the
broker. Usage: check_manifests.py KUSTOMIZATION EXAMPLE_TOML (run by deploy/test/kubernetes.sh)."""

import pathlib
import re
import sys

import yaml

kustomization_path, example_path = map(pathlib.Path, sys.argv[1:3])
folder = kustomization_path.parent
kustomization = yaml.safe_load(kustomization_path.read_text())
failures = []


def check(ok, message):
    if not ok:
        failures.append(message)


listed = set(kustomization["resources"])
present = {p.name for p in folder.glob("*.yaml")} - {kustomization_path.name}
check(listed == present, f"kustomization.yaml lists {sorted(listed)} but the folder holds {sorted(present)}")

resources = [doc for name in sorted(listed) for doc in yaml.safe_load_all((folder / name).read_text()) if doc]
by_kind = {}
for resource in resources:
    by_kind.setdefault(resource["kind"], {})[resource["metadata"]["name"]] = resource

# Every MLA_* variable set anywhere is one the broker reads (the example file documents each one).
documented = set(re.findall(r"env: (MLA_[A-Z0-9_]+)", example_path.read_text()))
config = by_kind["ConfigMap"]["mla-broker"]["data"]
names = set(config)
workloads = list(by_kind["Deployment"].values()) + list(by_kind["Job"].values())
for workload in workloads:
    pod = workload["spec"]["template"]["spec"]
    check(pod["serviceAccountName"] in by_kind["ServiceAccount"], f"{workload['metadata']['name']}: unknown service account")
    for container in pod["containers"]:
        names |= {e["name"] for e in container.get("env", [])}
        for source in container.get("envFrom", []):
            check(source["configMapRef"]["name"] in by_kind["ConfigMap"], "envFrom names a missing ConfigMap")
        check(container["securityContext"].get("readOnlyRootFilesystem") is True, "root filesystem must be read-only")
for name in sorted(n for n in names if n.startswith("MLA_")):
    check(name in documented, f"{name} is not a setting of the broker (not in {example_path.name})")

# Selectors select the broker's pods, and nothing else does.
deployment = by_kind["Deployment"]["mla-broker"]
pod_labels = deployment["spec"]["template"]["metadata"]["labels"]
job_labels = by_kind["Job"]["mla-broker-migrate"]["spec"]["template"]["metadata"]["labels"]
for kind, selector in [
    ("Deployment", deployment["spec"]["selector"]["matchLabels"]),
    ("Service", by_kind["Service"]["mla-broker"]["spec"]["selector"]),
    ("PodDisruptionBudget", by_kind["PodDisruptionBudget"]["mla-broker"]["spec"]["selector"]["matchLabels"]),
]:
    check(selector.items() <= pod_labels.items(), f"the {kind}'s selector does not select the broker's pods")
    check(not selector.items() <= job_labels.items(), f"the {kind}'s selector also selects the migrate Job's pod")

# Probes on the routes that mean what they are used for; ports by the names the container declares.
broker = deployment["spec"]["template"]["spec"]["containers"][0]
ports = {p["name"]: p["containerPort"] for p in broker["ports"]}
check(ports == {"grpc": 50051, "http": 8080}, f"container ports {ports}")
check(config["MLA_GRPC_ADDR"].endswith(":50051") and config["MLA_HTTP_ADDR"].endswith(":8080"), "listen addresses and ports differ")
for probe, path in [("startupProbe", "/healthz"), ("livenessProbe", "/healthz"), ("readinessProbe", "/readyz")]:
    check(broker[probe]["httpGet"] == {"path": path, "port": "http"}, f"{probe} must GET {path} on the http port")
for port in by_kind["Service"]["mla-broker"]["spec"]["ports"]:
    check(port["targetPort"] in ports, f"the Service targets an unknown port {port['targetPort']}")

# Stopping: endpoints drop the pod (a failed readiness probe, at the latest) before the drain
# starts, and the drain has time to finish before SIGKILL.
readiness = broker["readinessProbe"]
noticed = readiness["periodSeconds"] * readiness.get("failureThreshold", 3)
delay = int(config["MLA_SHUTDOWN_DELAY_SECONDS"])
grace = deployment["spec"]["template"]["spec"]["terminationGracePeriodSeconds"]
check(delay > noticed, f"shutdown delay {delay}s must exceed the readiness probe's {noticed}s")
check(grace >= delay + 30, f"grace period {grace}s leaves under 30s to drain after the {delay}s delay")

# Replicas that leave migrations to the Job need the Job, running this very image.
job = by_kind["Job"]["mla-broker-migrate"]["spec"]["template"]["spec"]["containers"][0]
check(config["MLA_MIGRATE_ON_START"] == "false" and job["args"] == ["migrate"], "the migrate Job must migrate")
check(job["image"] == broker["image"], "the migrate Job must run the replicas' image")

if failures:
    print("\n".join(f"deploy/kubernetes: {f}" for f in failures), file=sys.stderr)
    sys.exit(1)
