#!/bin/bash
# scripts/test.sh [STAGE...]      (as root, after scripts/setup.sh)
#
# jaula's whole test suite. Stages, in order (default: all):
#   lint         ruff, ruff format --check, mypy --strict, import-linter contracts
#   unit         tests/unit: pure logic, no root, no services; the playground's JS unit tests
#   integration  tests/integration: the real sandbox as root, real Redis, real PostgreSQL (a private
#                cluster is started unless JAULA_TEST_POSTGRES_URL names one), a real Celery worker,
#                real language images, headless Chromium
#   cgroup2      the sandbox suite again, in a QEMU guest whose only cgroup hierarchy is v2
#   load         a short Locust smoke test against a running service
# Services a stage needs are started by the tests themselves or by this script, and stopped after.
# Nothing is skipped silently: JAULA_REQUIRE_* make missing prerequisites fail, and a stage that
# collects no tests fails.

set -uo pipefail

ROOT=$(cd -- "$(dirname -- "${BASH_SOURCE[0]}")/.." && pwd -P)
readonly ROOT
readonly PY=$ROOT/.venv/bin/python
readonly ALL_STAGES=(lint unit integration cgroup2 load)
readonly CI_LANGUAGES=(python c cpp javascript bash)
export JAULA_REQUIRE_SANDBOX=1 JAULA_REQUIRE_SERVICES=1 PYTHONDONTWRITEBYTECODE=1

cd "$ROOT" || exit 1
if [[ $(id -u) != 0 ]]; then
	echo "test.sh must run as root (the sandbox tests need it)" >&2
	exit 1
fi
stages=("$@")
((${#stages[@]})) || stages=("${ALL_STAGES[@]}")

failed=()
run_stage() {
	local name=$1
	shift
	printf '\n======== %s ========\n' "$name"
	local start=$SECONDS
	if "$@"; then
		printf -- '-------- %s: passed in %ds\n' "$name" $((SECONDS - start))
	else
		printf -- '-------- %s: FAILED in %ds\n' "$name" $((SECONDS - start))
		failed+=("$name")
	fi
}

stage_lint() {
	local ok=0
	"$ROOT/.venv/bin/ruff" check . || ok=1
	"$ROOT/.venv/bin/ruff" format --check . || ok=1
	"$ROOT/.venv/bin/mypy" || ok=1
	"$ROOT/.venv/bin/lint-imports" || ok=1
	return $ok
}

pytest_run() {
	# Exit status 5 ("no tests collected") is a failure like any other non-zero status.
	"$ROOT/.venv/bin/pytest" -p no:cacheprovider -q "$@"
}

stage_unit() {
	local ok=0
	pytest_run tests/unit || ok=1
	(cd "$ROOT/web" && npm test --silent) || ok=1
	return $ok
}

# A private PostgreSQL cluster for the tests, unless one is given; stopped when the script exits.
PG_DIR=""
start_postgres() {
	[[ -n ${JAULA_TEST_POSTGRES_URL:-} ]] && return 0
	local bin port
	bin=$(ls -d /usr/lib/postgresql/*/bin | sort -V | tail -n1)
	port=$("$PY" -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
	PG_DIR=$(mktemp -d /tmp/jaula-pg.XXXXXX)
	chown postgres: "$PG_DIR"
	runuser -u postgres -- "$bin/initdb" -D "$PG_DIR/data" --auth=trust -U postgres >/dev/null || return 1
	runuser -u postgres -- "$bin/pg_ctl" -D "$PG_DIR/data" -l "$PG_DIR/log" -w \
		-o "-c listen_addresses=127.0.0.1 -p $port -k $PG_DIR -c fsync=off" start >/dev/null || return 1
	export JAULA_TEST_POSTGRES_URL="postgresql://postgres@127.0.0.1:$port/postgres"
}
stop_postgres() {
	[[ -n $PG_DIR ]] || return 0
	local bin
	bin=$(ls -d /usr/lib/postgresql/*/bin | sort -V | tail -n1)
	runuser -u postgres -- "$bin/pg_ctl" -D "$PG_DIR/data" -m fast -w stop >/dev/null 2>&1
	rm -rf "$PG_DIR"
}
trap stop_postgres EXIT

stage_integration() {
	"$PY" -m tests.images || return 1
	"$ROOT/.venv/bin/jaula" images build "${CI_LANGUAGES[@]}" || return 1
	start_postgres || { echo "cannot start PostgreSQL" >&2; return 1; }
	pytest_run tests/integration
}

stage_cgroup2() {
	"$PY" -m tests.images || return 1
	local cache=${JAULA_TEST_CACHE:-/var/cache/jaula-test} attempt rc
	for attempt in 1 2; do
		# Plugin autoload costs ~80 s of start-up under emulation; load only the one the suite needs.
		# The run takes 1.5 min here; 15 min is room for a slower machine.
		PYTEST_DISABLE_PLUGIN_AUTOLOAD=1 "$ROOT/scripts/vm/run-in-guest.sh" --timeout 900 \
			--image-dir "$cache" -- \
			"$ROOT/.venv/bin/pytest" -p pytest_timeout -p no:cacheprovider -q tests/integration/sandbox
		rc=$?
		# 124: the guest did not finish in time; 125: the emulator or the harness failed. Both are the
		# emulated machine's trouble, not a test's: a failing test exits 1, and pytest-timeout turns
		# a hung test into a failure. Seen once in many runs (a guest that never finished): try again.
		if ((attempt == 1 && (rc == 124 || rc == 125))); then
			echo "cgroup2: the guest run ended with status $rc; trying once more" >&2
			continue
		fi
		return "$rc"
	done
}

stage_load() {
	"$ROOT/loadtests/run.sh" --smoke
}

for stage in "${stages[@]}"; do
	case $stage in
	lint | unit | integration | cgroup2 | load) run_stage "$stage" "stage_$stage" ;;
	*) echo "unknown stage $stage (stages: ${ALL_STAGES[*]})" >&2; exit 2 ;;
	esac
done

echo
if ((${#failed[@]})); then
	echo "FAILED: ${failed[*]}"
	exit 1
fi
echo "All stages passed: ${stages[*]}"
