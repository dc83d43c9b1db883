#!/usr/bin/env bash
# Build every language image, test each one through the sandbox, print a table.
#
#   sudo scripts/build-all-languages.sh                  # build what is missing or stale, test all
#   sudo scripts/build-all-languages.sh --from-scratch   # remove the store's layers first (timing)
#
# Building uses `jaula images build` (base + every language in rootfs/); testing runs
# tests/integration/images/test_languages.py (hello world, byte-exact echo, compile error) against
# the configured store (JAULA_IMAGES_DIR / JAULA_DATA_DIR). The table (Markdown) has one row per
# layer: test result, layer size, build time, toolchain version. Exit status 1 if anything failed.
set -euo pipefail
cd "$(dirname "$0")/.."

python=.venv/bin/python
jaula=.venv/bin/jaula
if [[ $(id -u) != 0 ]]; then
    echo "needs root (image builds mount overlays; the sandbox needs root)" >&2
    exit 2
fi

if [[ ${1:-} == --from-scratch ]]; then
    # shellcheck disable=SC2046
    $jaula images rm base $($python -c 'from core.languages import catalogue; print(*catalogue().names())')
fi

report=$(mktemp --suffix=.xml)
trap 'rm -f "$report"' EXIT

started=$(date +%s)
build_status=0
$jaula images build || build_status=$?
build_s=$(( $(date +%s) - started ))

test_started=$(date +%s)
test_status=0
.venv/bin/pytest -q -p no:cacheprovider tests/integration/images/test_languages.py \
    --junitxml "$report" || test_status=$?
test_s=$(( $(date +%s) - test_started ))

report_status=0
$python - "$report" "$build_s" "$test_s" <<'PY' || report_status=$?
"""Join the test report with the manifest: one row per layer."""
import collections
import re
import sys
import xml.etree.ElementTree as ET

from core.cli.images import human_size
from core.images import BASE, open_store
from core.languages import catalogue

report, build_s, test_s = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
results: dict[str, list[tuple[str, bool]]] = collections.defaultdict(list)
for case in ET.parse(report).iter("testcase"):
    match = re.fullmatch(r"(test_\w+)\[(\w+)\]", case.get("name", ""))
    if not match:
        continue
    failed = case.find("failure") is not None or case.find("error") is not None
    results[match.group(2)].append((match.group(1), failed))

layers = open_store().manifest().layers
rows, failures = [], 0
for name in [BASE, *catalogue().names()]:
    record = layers.get(name)
    tests = results.get(name, [])
    if name == BASE:
        outcome = "built" if record else "FAIL (not built)"
    elif record is None:
        outcome = "FAIL (not built)"
    elif not tests:
        outcome = "FAIL (not tested)"
    elif any(failed for _, failed in tests):
        outcome = "FAIL: " + ", ".join(t.removeprefix("test_") for t, failed in tests if failed)
    else:
        outcome = f"pass ({len(tests)} tests)"
    failures += outcome.startswith("FAIL")
    size = human_size(record.size_bytes) if record else ""
    build = f"{record.build_time_s:.0f} s" if record else ""
    version = record.version if record else ""
    rows.append(f"| {name} | {outcome} | {size} | {build} | {version} |")

print()
print("| layer | result | layer size | build time | version |")
print("|---|---|---:|---:|---|")
print("\n".join(rows))
total = sum(r.size_bytes for r in layers.values())
print()
print(f"{len(layers) - 1} languages built, {failures} failing; all layers {human_size(total)}; "
      f"this build step {build_s} s, tests {test_s} s.")
sys.exit(1 if failures else 0)
PY
exit $(( build_status || test_status || report_status ))
