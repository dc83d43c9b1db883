#!/bin/bash
# selftest.sh [run-in-guest options]: boot the cgroup-v2 test guest a few
# times and check what jaula's sandbox tests rely on:
#   - inside (selftest-guest.sh): pure cgroup2 with cpu/memory/pids/cpuset,
#     a child cgroup with limits that are enforced, memory.peak, cgroup.kill,
#     every namespace, overlayfs over an --image-dir disk and over the 9p
#     root, the host's venv;
#   - outside: the exit status, stdout and stderr kept apart, the environment
#     filter, --cgroup, and --timeout leaving no QEMU and no files behind.
# Prints one line per check and "selftest: N passed, N failed"; exits 1 if
# anything failed.

set -euo pipefail

SCRIPT_DIR=$(cd -- "$(dirname -- "${BASH_SOURCE[0]}")" && pwd -P)
REPO=$(cd -- "$SCRIPT_DIR/../.." && pwd -P)
readonly SCRIPT_DIR REPO
readonly RUN=$SCRIPT_DIR/run-in-guest.sh
vm_opts=("$@")
passed=0
failed=0
work=""

cleanup() { [[ -z $work ]] || rm -rf -- "$work"; }
trap cleanup EXIT

ok() { passed=$((passed + 1)); echo "ok - $*"; }
not_ok() { failed=$((failed + 1)); echo "not ok - $*"; }

# expect DESCRIPTION WANT GOT
expect() {
	if [[ $3 == "$2" ]]; then ok "$1"; else not_ok "$1: got $(printf %q "$3"), want $(printf %q "$2")"; fi
}

# Not under /tmp: the guest has a fresh tmpfs there.
work=$(mktemp -d /var/tmp/jaula-vm-selftest.XXXXXX)

# A small tree for --image-dir, with the metadata an image layer has.
img=$work/image
mkdir -p "$img/sub"
echo hello >"$img/hello.txt"
ln -s hello.txt "$img/link"
ln "$img/hello.txt" "$img/hard"
echo secret >"$img/owned"
chown 1234:5678 "$img/owned"
chmod 0640 "$img/owned"
echo nested >"$img/sub/file"

cd -- "$REPO"

echo "# 1. checks inside the guest (boot, cgroup2, overlay, namespaces, venv)"
t0=$(date +%s.%N)
status=0
"$RUN" "${vm_opts[@]}" --image-dir "$img" -- sh "$SCRIPT_DIR/selftest-guest.sh" "$img" "$REPO" |
	tee "$work/guest" || status=${PIPESTATUS[0]}
t1=$(date +%s.%N)
# The guest's own checks count in the summary.
passed=$((passed + $(grep -c '^ok - ' "$work/guest" || true)))
failed=$((failed + $(grep -c '^not ok - ' "$work/guest" || true)))
secs=$(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.1f", b - a }')
if ((status == 0)); then
	ok "guest run exited 0 (${secs} s, boot included)"
else
	not_ok "guest run: exit status $status (failures inside; 125: the harness failed)"
fi

echo "# 2. exit status, stdout/stderr, environment, working directory"
export JAULA_SELFTEST_VALUE="it's \"quoted\" \$HOME"
export PYTEST_SELFTEST=1
export OTHER_SELFTEST=leak
status=0
# shellcheck disable=SC2016 # expanded by the guest's shell
"$RUN" "${vm_opts[@]}" --env EXTRA_SELFTEST=given -- sh -c '
	echo "out:$JAULA_SELFTEST_VALUE"
	echo "out:${PYTEST_SELFTEST:-} ${OTHER_SELFTEST:-absent} ${EXTRA_SELFTEST:-}"
	echo "out:$(pwd)"
	echo "err:line" >&2
	exit 3' >"$work/out" 2>"$work/err" || status=$?
expect "exit status of the command" 3 "$status"
expect "stdout" "out:$JAULA_SELFTEST_VALUE
out:1 absent given
out:$REPO" "$(<"$work/out")"
expect "stderr" "err:line" "$(<"$work/err")"
unset JAULA_SELFTEST_VALUE PYTEST_SELFTEST OTHER_SELFTEST

echo "# 3. --cgroup"
got=$("$RUN" "${vm_opts[@]}" --cgroup jaula.slice/ci -- sh -c \
	'cat /proc/self/cgroup; cat /sys/fs/cgroup/jaula.slice/cgroup.subtree_control' 2>&1) || true
expect "command runs in the given cgroup, controllers enabled above it" \
	"0::/jaula.slice/ci
cpuset cpu io memory pids" "$got"

echo "# 4. --timeout kills the guest and leaves nothing behind"
"$RUN" "${vm_opts[@]}" --timeout 10 -- sleep 600 >"$work/out" 2>"$work/err" &
runner=$!
qemu=""
while kill -0 "$runner" 2>/dev/null; do
	qemu=$(pgrep -P "$runner" -x qemu-system-x86 || true)
	[[ -z $qemu ]] || break
	sleep 0.05
done
status=0
wait "$runner" || status=$?
expect "exit status on timeout" 124 "$status"
if [[ -n $qemu ]] && ! kill -0 "$qemu" 2>/dev/null; then
	ok "QEMU (pid $qemu) is gone"
else
	not_ok "QEMU pid ${qemu:-unknown} still running or never seen"
fi
left=$(find "${TMPDIR:-/tmp}" -maxdepth 1 -name "jaula-vm.$runner.*" | wc -l)
expect "no run directory left" 0 "$left"

echo "selftest: $passed passed, $failed failed"
((failed == 0))
