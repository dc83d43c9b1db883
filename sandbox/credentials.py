"""Identity and privileges of the program: an unprivileged uid, no capabilities, no way back.

The exec stub starts as root in the host's user namespace and ends, before the program is
exec'd, as follows:

1. groups cleared, gid and uid set to the launcher's slot id (an unprivileged host uid, distinct
   per concurrent launcher so that per-uid kernel objects are not shared between runs);
2. it enters a new user namespace it owns, where the slot id appears as uid/gid 1000;
3. in that namespace it sets user.max_user_namespaces to 0: the program can never create a nested
   user namespace, the usual door from an unprivileged process to kernel code that needs
   CAP_SYS_ADMIN (bubblewrap's --disable-userns does the same);
4. it joins a new, empty session keyring (keys are not namespaced: the launcher's session keyring
   would otherwise be within reach);
5. every capability is dropped (bounding, ambient, effective, permitted, inheritable) and
   no_new_privs is set, so a setuid binary in the image gains nothing.
"""

from __future__ import annotations

import os

from sandbox import _libc

INSIDE_ID = 1000
"""The program's uid and gid as it sees them."""


def become_unprivileged(host_id: int) -> None:
    """Steps 1-2: drop to the slot id in the host namespace, then enter our own user namespace."""
    os.setgroups([])
    os.setresgid(host_id, host_id, host_id)
    os.setresuid(host_id, host_id, host_id)
    # Changing uid made the process non-dumpable, which makes /proc/self/*_map root-owned;
    # dumpable is recomputed at exec anyway.
    _libc.prctl(_libc.PR_SET_DUMPABLE, 1)
    _libc.unshare(_libc.CLONE_NEWUSER)
    _write("/proc/self/uid_map", f"{INSIDE_ID} {host_id} 1\n")
    _write("/proc/self/setgroups", "deny\n")
    _write("/proc/self/gid_map", f"{INSIDE_ID} {host_id} 1\n")


def forbid_nested_user_namespaces() -> None:
    """Step 3. /proc/sys/user is per user namespace: this sets the limit of the one we are in."""
    _write("/proc/sys/user/max_user_namespaces", "0\n")


def join_new_session_keyring() -> None:
    """Step 4."""
    _libc.join_new_session_keyring()


def drop_all_capabilities() -> None:
    """Step 5."""
    for cap in range(_libc.LAST_CAP + 1):
        _libc.prctl(_libc.PR_CAPBSET_DROP, cap)
    _libc.prctl(_libc.PR_CAP_AMBIENT, _libc.PR_CAP_AMBIENT_CLEAR_ALL)
    _libc.capset_clear()
    _libc.prctl(_libc.PR_SET_NO_NEW_PRIVS, 1)
    _libc.prctl(_libc.PR_SET_DUMPABLE, 0)


def _write(path: str, text: str) -> None:
    fd = os.open(path, os.O_WRONLY | os.O_CLOEXEC)
    try:
        os.write(fd, text.encode())
    finally:
        os.close(fd)
