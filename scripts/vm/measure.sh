#!/bin/bash
# measure.sh [run-in-guest options]: how fast is the test guest?
#   - boot: host wall time of `run-in-guest.sh -- true`, and the guest's
#     uptime when the command starts (best of 3 boots)
#   - exec /bin/true, python3 -c pass, a CPU loop in Python, importing
#     sandbox from the venv: best of N, on the host and in the guest, and the
#     slowdown factor
# Best-of-N, because the host may be busy with other work: the minimum is the
# figure least disturbed by it.

set -euo pipefail

SCRIPT_DIR=$(cd -- "$(dirname -- "${BASH_SOURCE[0]}")" && pwd -P)
REPO=$(cd -- "$SCRIPT_DIR/../.." && pwd -P)
readonly SCRIPT_DIR REPO
readonly RUN=$SCRIPT_DIR/run-in-guest.sh
vm_opts=("$@")

# The workload, the same script on both sides: prints "name best_us" lines.
# shellcheck disable=SC2016 # expanded by the shell that runs it
readonly WORKLOAD='
best() { # best N CMD...: the best wall time of N runs, in microseconds
	n=$1; shift; b=
	for _ in $(seq "$n"); do
		s=$(date +%s%N); "$@" >/dev/null 2>&1; e=$(date +%s%N)
		d=$(((e - s) / 1000)); if [ -z "$b" ] || [ "$d" -lt "$b" ]; then b=$d; fi
	done
	echo "$b"
}
echo "exec_true $(best 20 /bin/true)"
echo "python_pass $(best 10 /usr/bin/python3 -c pass)"
echo "python_loop $(best 3 /usr/bin/python3 -c "sum(i * i for i in range(3_000_000))")"
echo "import_sandbox $(best 5 .venv/bin/python -c "import sandbox")"
'

cd -- "$REPO"

boots=()
uptimes=()
for _ in 1 2 3; do
	t0=$(date +%s%N)
	line=$("$RUN" "${vm_opts[@]}" -v -- true 2>&1 | grep 'boot to command') || true
	t1=$(date +%s%N)
	boots+=($(((t1 - t0) / 1000000)))
	uptimes+=("$(sed -n 's/.*boot to command: \([0-9.]*\) s guest uptime.*/\1/p' <<<"$line")")
done
boot_best=$(printf '%s\n' "${boots[@]}" | sort -n | head -n1)
uptime_best=$(printf '%s\n' "${uptimes[@]}" | sed '/^$/d' | sort -n | head -n1)

host=$(bash -c "$WORKLOAD")
guest=$("$RUN" "${vm_opts[@]}" -- bash -c "$WORKLOAD")

echo "guest: $(uname -m), QEMU TCG, ${vm_opts[*]:-default options}; host load average: $(cut -d' ' -f1-3 /proc/loadavg)"
printf 'boot to command (run-in-guest.sh -- true): %.1f s host wall, guest uptime %s s at command start\n' \
	"$(awk -v m="$boot_best" 'BEGIN { print m / 1000 }')" "$uptime_best"
printf '%-16s %10s %10s %9s\n' "best of N" "host ms" "guest ms" slowdown
while read -r name h; do
	g=$(awk -v n="$name" '$1 == n { print $2 }' <<<"$guest")
	awk -v n="$name" -v h="$h" -v g="${g:-0}" \
		'BEGIN { printf "%-16s %10.1f %10.1f %8.1fx\n", n, h / 1000, g / 1000, (h > 0 ? g / h : 0) }'
done <<<"$host"
