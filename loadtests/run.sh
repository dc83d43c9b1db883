#!/bin/bash
# loadtests/run.sh [--smoke | --steps 1,2,5,10,20,50 | --users N --duration S] [options]   (as root)
#
# Load-test jaula: start the service as `jaula up` does (its own data dir, free loopback ports),
# drive it with Locust (loadtests/locustfile.py), stop everything it started by PID, and write a
# report (Markdown, JSON, charts) under loadtests/results/. `--help` lists every option;
# loadtests/run.py says what each step does. Exits non-zero if a request or a job failed, a job
# never reached a final state, or the run left mounts, cgroups, processes or files behind.
#
# Needs what `scripts/setup.sh --no-start` installs: the virtualenv, the python, cpp and
# javascript images, and the playground's build (web/dist).

set -euo pipefail

ROOT=$(cd -- "$(dirname -- "${BASH_SOURCE[0]}")/.." && pwd -P)
readonly ROOT
readonly PY=$ROOT/.venv/bin/python

if [[ ! -x $PY ]]; then
	echo "no virtualenv at $ROOT/.venv: run scripts/setup.sh --no-start first" >&2
	exit 2
fi
cd "$ROOT"
exec "$PY" -m loadtests.run "$@"
