#!/bin/bash
# scripts/setup.sh [--no-start]
#
# Set up jaula on a fresh Debian 12 (bookworm) machine, as root, from this checkout:
#   1. the Debian packages in scripts/apt-packages.txt (and Node.js for the playground's build)
#   2. a virtualenv at .venv with the project and its development tools
#   3. the default language images (python c cpp javascript bash), built with mmdebstrap
#   4. the playground's static files (web/dist)
#   5. the `jaula` command on the PATH (/usr/local/bin/jaula)
# then start the service in the foreground (`jaula up`: API on http://127.0.0.1:8000, a worker
# and a Redis; Ctrl+C stops them). With --no-start it stops after step 5 (CI does that).
# Every step is idempotent: running it again only does what is missing.

set -euo pipefail

ROOT=$(cd -- "$(dirname -- "${BASH_SOURCE[0]}")/.." && pwd -P)
readonly ROOT
readonly DEFAULT_LANGUAGES=(python c cpp javascript bash)

start=1
for arg in "$@"; do
	case $arg in
	--no-start) start=0 ;;
	*) echo "usage: $0 [--no-start]" >&2; exit 2 ;;
	esac
done

step() { printf '\n==> %s\n' "$*"; }

if [[ $(id -u) != 0 ]]; then
	echo "setup.sh must run as root (the sandbox mounts filesystems and creates cgroups)" >&2
	exit 1
fi

step "Debian packages"
mapfile -t packages < <(grep -Ev '^\s*(#|$)' "$ROOT/scripts/apt-packages.txt")
missing=()
for p in "${packages[@]}"; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "ok installed" || missing+=("$p")
done
if ! command -v npm >/dev/null; then
	missing+=(nodejs npm)
fi
if ((${#missing[@]})); then
	export DEBIAN_FRONTEND=noninteractive
	apt-get update -qq
	apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi

step "Python virtualenv (.venv)"
if [[ ! -x $ROOT/.venv/bin/python ]]; then
	/usr/bin/python3 -m venv "$ROOT/.venv"
fi
"$ROOT/.venv/bin/pip" install -q --upgrade pip
"$ROOT/.venv/bin/pip" install -q -e "$ROOT[dev]"
ln -sf "$ROOT/.venv/bin/jaula" /usr/local/bin/jaula

step "Sandbox host check"
"$ROOT/.venv/bin/python" -m sandbox check

step "Language images: ${DEFAULT_LANGUAGES[*]}"
"$ROOT/.venv/bin/jaula" images build "${DEFAULT_LANGUAGES[@]}"

if [[ -f $ROOT/web/package.json ]]; then
	step "Playground (web/dist)"
	(cd "$ROOT/web" && npm ci --no-audit --no-fund --loglevel=error && npm run build --silent)
fi

if ((start)); then
	step "Starting jaula (Ctrl+C stops it)"
	exec "$ROOT/.venv/bin/jaula" up
fi
echo "Set up. Start the service with: jaula up"
