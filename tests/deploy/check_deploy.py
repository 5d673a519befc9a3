#!/usr/bin/python3
"""Checks the deployment files without a Docker engine.

`docker-compose config` (Debian's docker-compose) must accept docker-compose.yml; then the
resolved configuration is checked for what a plant's DevOps engineer relies on: the four
real servers are there, every ecogate daemon container is hardened (read-only root,
no capabilities, no-new-privileges, an init) and names the image it builds, and
deploy/Dockerfile only COPYs paths that exist and drops root in its runtime stage.
"""
import os
import re
import subprocess
import sys

import yaml

passed = failed = 0


def check(cond, what):
    global passed, failed
    if cond:
        passed += 1
    else:
        failed += 1
        print("FAIL: " + what, file=sys.stderr)


def main(root):
    compose = os.path.join(root, "docker-compose.yml")
    proc = subprocess.run(["docker-compose", "-f", compose, "config"],
                          capture_output=True, text=True, cwd=root)
    check(proc.returncode == 0, "docker-compose config failed: " + proc.stderr.strip())
    if proc.returncode != 0:
        return
    cfg = yaml.safe_load(proc.stdout)
    services = cfg.get("services", {})
    for srv in ("mosquitto", "kafka", "redis", "postgres"):
        check(srv in services, "service %s missing" % srv)
    kafka_env = services.get("kafka", {}).get("environment", {})
    check("broker" in kafka_env.get("KAFKA_PROCESS_ROLES", "") and
          "controller" in kafka_env.get("KAFKA_PROCESS_ROLES", ""),
          "kafka must run in KRaft combined mode")

    daemons = {n: s for n, s in services.items()
               if isinstance(s.get("build"), dict)
               and s["build"].get("dockerfile", "").endswith("deploy/Dockerfile")}
    check(len(daemons) > 0, "no service is built from deploy/Dockerfile")
    for name, s in daemons.items():
        check(s.get("read_only") is True, name + ": read_only must be true")
        check(s.get("cap_drop") == ["ALL"], name + ": cap_drop must be [ALL]")
        check("no-new-privileges:true" in s.get("security_opt", []),
              name + ": no-new-privileges missing")
        check(s.get("init") is True, name + ": init must be true")
        svc = s["build"].get("args", {}).get("SERVICE")
        check(bool(svc), name + ": build arg SERVICE missing")
        if svc:
            check(os.path.isdir(os.path.join(root, "services", svc)),
                  name + ": services/%s does not exist" % svc)
        for k, v in (s.get("environment") or {}).items():
            check(not re.search(r"PASSWORD$|SECRET$|TOKEN$", k),
                  name + ": secret %s passed in plain environment; use _FILE" % k)

    dockerfile = open(os.path.join(root, "deploy", "Dockerfile")).read()
    stages = re.split(r"(?m)^FROM ", dockerfile)
    check(len(stages) >= 3, "Dockerfile must be multi-stage")
    check(re.search(r"(?m)^FROM debian:\$\{DEBIAN\}", dockerfile) is not None and
          re.search(r"(?m)^ARG DEBIAN=bookworm", dockerfile) is not None,
          "Dockerfile must build on Debian bookworm")
    runtime = stages[-1]
    check(re.search(r"(?m)^ARG SERVICE", runtime) is not None, "runtime stage lacks ARG SERVICE")
    m = re.findall(r"(?m)^USER (\S+)", runtime)
    check(bool(m) and not m[-1].startswith("root") and not m[-1].startswith("0"),
          "runtime stage must end as a non-root USER")
    for src in re.findall(r"(?m)^COPY (?!--from)(\S+)", dockerfile):
        check(os.path.exists(os.path.join(root, src)), "Dockerfile COPY %s: no such path" % src)


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else ".")
    print("%d passed, %d failed" % (passed, failed))
    sys.exit(1 if failed else 0)
