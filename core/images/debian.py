"""Debian: the base with mmdebstrap, language layers with apt-get in a chroot over the base.

The base is bookworm `minbase` (essential packages plus apt) from the host's own apt sources.
mmdebstrap runs inside a private mount and PID namespace, so even the /proc and /dev it mounts
into the target while installing cannot outlive it. A language layer runs `apt-get install` in a
chroot on an overlay of its parents (namespace.py); the apt package lists and downloaded .debs
live in the store's cache, bind-mounted over /var/lib/apt/lists and /var/cache/apt, so they never
land in a layer and are downloaded once per build for all layers.
"""

from __future__ import annotations

import shlex
from collections.abc import Callable, Sequence
from pathlib import Path

from core.images.namespace import Bind, run_logged
from core.images.recipes import DebianBase

# Written into the base by mmdebstrap's customize hooks.
_POLICY_RC_D = "#!/bin/sh\n# jaula: images never start services.\nexit 101\n"
_APT_CONF = 'APT::Install-Recommends "false";\nAPT::Install-Suggests "false";\n'
_RESOLV_CONF = "# jaula: programs get no network. Image builds bind the host's resolver here.\n"


def mmdebstrap_argv(recipe: DebianBase, dest: Path) -> list[str]:
    argv = [
        "mmdebstrap",
        "--mode=root",
        f"--variant={recipe.variant}",
        "--format=directory",
        '--aptopt=Acquire::Retries "3"',
    ]
    if recipe.packages:
        argv.append("--include=" + ",".join(recipe.packages))
    argv += [f"--dpkgopt=path-exclude={p}" for p in recipe.dpkg_path_exclude]
    argv += [f"--dpkgopt=path-include={p}" for p in recipe.dpkg_path_include]
    hooks = {
        "/usr/sbin/policy-rc.d": (_POLICY_RC_D, "0755"),
        "/etc/apt/apt.conf.d/90jaula": (_APT_CONF, "0644"),
        "/etc/resolv.conf": (_RESOLV_CONF, "0644"),
    }
    for path, (content, mode) in hooks.items():
        # mmdebstrap runs the hook with sh; "$1" is the target directory.
        target = f'"$1"{path}'
        argv.append(
            f"--customize-hook=rm -f {target} && printf %s {shlex.quote(content)} > {target}"
            f" && chmod {mode} {target}"
        )
    for line, database in ((recipe.user.passwd_line, "passwd"), (recipe.user.group_line, "group")):
        argv.append(f'--customize-hook=printf %s {shlex.quote(line)} >> "$1/etc/{database}"')
    # The man pages are excluded, but some maintainer scripts (OpenJDK's update-alternatives
    # calls) need the directory to exist, as in the official slim images.
    argv.append('--customize-hook=mkdir -p "$1/usr/share/man/man1"')
    argv += [recipe.suite, str(dest), str(recipe.sources)]
    return argv


def build_base(recipe: DebianBase, dest: Path, on_line: Callable[[str], None] | None) -> str:
    """Build the base rootfs into dest (must not exist); returns its version string."""
    if not recipe.sources.is_file():
        from core.images.errors import BuildFailed

        raise BuildFailed("base", f"apt sources file {recipe.sources} does not exist")
    command = [
        "unshare", "--mount", "--propagation", "private", "--pid", "--fork", "--kill-child",
        *mmdebstrap_argv(recipe, dest),
    ]  # fmt: skip
    run_logged(command, step="mmdebstrap", on_line=on_line)
    return base_version(dest)


def base_version(rootfs: Path) -> str:
    return f"Debian {(rootfs / 'etc/debian_version').read_text().strip()}"


def install_argv(packages: Sequence[str], *, update_lists: bool) -> list[str]:
    """The command run in the layer's chroot."""
    steps = []
    if update_lists:
        steps.append("apt-get update -q")
    steps.append("apt-get install -y -q --no-install-recommends " + shlex.join(packages))
    # The .debs stay in the shared cache (a bind mount), but pkgcache.bin must not be stale.
    return ["sh", "-ec", " && ".join(steps)]


def install_binds(cache_dir: Path) -> list[Bind]:
    lists = cache_dir / "apt-lists"
    archives = cache_dir / "apt-cache"
    (lists / "partial").mkdir(parents=True, exist_ok=True)
    (archives / "archives" / "partial").mkdir(parents=True, exist_ok=True)
    return [
        Bind(lists, "/var/lib/apt/lists"),
        Bind(archives, "/var/cache/apt"),
        Bind(Path("/etc/resolv.conf"), "/etc/resolv.conf", read_only=True),
    ]


INSTALL_ENV = {
    "PATH": "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
    "HOME": "/root",
    "LANG": "C.UTF-8",
    "DEBIAN_FRONTEND": "noninteractive",
    "DEBCONF_NONINTERACTIVE_SEEN": "true",
}
