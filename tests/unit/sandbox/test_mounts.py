"""The container's mount plans (pure data): what is mounted where, with which flags, in which order."""

from __future__ import annotations

from sandbox import Bind, _libc, mounts, overlay
from sandbox.mounts import Op

STAGE = "/run/jaula/stage"
SHARED_DEV = "/run/jaula/dev"
NOSUID_NODEV_NOEXEC = _libc.MS_NOSUID | _libc.MS_NODEV | _libc.MS_NOEXEC


EVERY_PROC_NAME = frozenset(mounts.PROC_READONLY + mounts.PROC_MASKED_FILES + mounts.PROC_MASKED_DIRS)


def staging(proc_names: frozenset[str] = EVERY_PROC_NAME) -> list[Op]:
    return mounts.plan_staging(
        STAGE, SHARED_DEV, scratch_bytes=64 << 20, scratch_inodes=4096, proc_names=proc_names
    )


def find(ops: list[Op], kind: str, target: str) -> Op:
    matches = [op for op in ops if op.kind == kind and op.target == target]
    assert len(matches) == 1, f"expected one {kind} {target}, got {matches}"
    return matches[0]


def test_staging_first_makes_every_mount_private_so_nothing_reaches_the_host() -> None:
    first = staging()[0]
    assert (first.kind, first.target) == ("mount", "/")
    assert first.flags == _libc.MS_REC | _libc.MS_PRIVATE


def test_staging_mounts_only_under_the_stage() -> None:
    for op in staging()[1:]:
        assert op.target == STAGE or op.target.startswith(STAGE + "/"), op


def test_scratch_tmpfs_is_limited_in_size_and_inodes_and_nosuid_nodev() -> None:
    op = find(staging(), "mount", STAGE)
    assert op.fstype == "tmpfs"
    assert (
        op.data is not None
        and "size=67108864" in op.data.split(",")
        and "nr_inodes=4096" in op.data.split(",")
    )
    assert op.flags & _libc.MS_NOSUID and op.flags & _libc.MS_NODEV


def test_proc_is_fresh_nosuid_nodev_noexec() -> None:
    op = find(staging(), "mount", f"{STAGE}/proc")
    assert (op.source, op.fstype) == ("proc", "proc")
    assert op.flags & NOSUID_NODEV_NOEXEC == NOSUID_NODEV_NOEXEC


def test_proc_sys_and_sysrq_trigger_are_read_only() -> None:
    ops = staging()
    for name in ("sys", "sysrq-trigger", "irq", "bus", "fs"):
        find(ops, "readonly_bind", f"{STAGE}/proc/{name}")


def test_kernel_secrets_in_proc_are_masked() -> None:
    ops = staging()
    for name in ("kcore", "kallsyms", "kmsg", "keys", "timer_list", "sched_debug"):
        find(ops, "mask_file", f"{STAGE}/proc/{name}")
    for name in ("acpi", "scsi"):
        find(ops, "mask_dir", f"{STAGE}/proc/{name}")


def test_proc_entries_this_kernel_does_not_have_are_left_out_of_the_plan() -> None:
    ops = staging(frozenset({"sys", "kcore", "acpi"}))
    covered = {
        op.target.rsplit("/", 1)[1] for op in ops if op.kind in ("readonly_bind", "mask_file", "mask_dir")
    }
    assert covered == {"sys", "kcore", "acpi"}


def test_the_whole_container_plan_is_staging_root_binds_then_detach() -> None:
    bind = Bind(source="/data", target="/data")
    plan = mounts.plan_container(
        STAGE,
        SHARED_DEV,
        layers=["/l/base"],
        binds=[bind],
        scratch_bytes=1 << 20,
        scratch_inodes=64,
        proc_names=EVERY_PROC_NAME,
    )
    kinds = [op.kind for op in plan]
    assert kinds.index("pivot_root") < kinds.index("bind_inside") < kinds.index("detach")
    assert plan[-2:] == [Op("detach", f"/{mounts.OLD_ROOT}"), Op("rmdir", f"/{mounts.OLD_ROOT}")]


def test_proc_is_masked_and_made_read_only_after_it_is_mounted() -> None:
    ops = staging()
    proc_at = ops.index(find(ops, "mount", f"{STAGE}/proc"))
    for op in ops:
        if op.kind in ("readonly_bind", "mask_file", "mask_dir"):
            assert ops.index(op) > proc_at


def test_dev_is_the_shared_dev_with_the_runs_own_shm() -> None:
    ops = staging()
    dev = find(ops, "mount", f"{STAGE}/dev")
    assert dev.source == SHARED_DEV and dev.flags & _libc.MS_BIND
    shm = find(ops, "mount", f"{STAGE}/dev/shm")
    assert shm.source == f"{STAGE}/shm" and shm.flags & _libc.MS_BIND
    assert ops.index(shm) > ops.index(dev)


def test_shared_dev_holds_exactly_the_harmless_devices() -> None:
    ops = mounts.plan_shared_dev(SHARED_DEV)
    nodes = {op.target.rsplit("/", 1)[1]: (op.data, op.mode) for op in ops if op.kind == "mknod"}
    assert nodes == {
        "null": ("1:3", 0o666),
        "zero": ("1:5", 0o666),
        "full": ("1:7", 0o666),
        "random": ("1:8", 0o666),
        "urandom": ("1:9", 0o666),
    }


def test_shared_dev_never_propagates_to_the_host_and_ends_read_only_noexec_nosuid() -> None:
    ops = mounts.plan_shared_dev(SHARED_DEV)
    assert (ops[0].target, ops[0].flags) == ("/", _libc.MS_REC | _libc.MS_SLAVE)
    tmpfs = find(ops, "mount", SHARED_DEV)
    assert tmpfs.fstype == "tmpfs" and tmpfs.flags & _libc.MS_NOSUID and tmpfs.flags & _libc.MS_NOEXEC
    last = ops[-1]
    assert (last.kind, last.target) == ("remount_readonly", SHARED_DEV)
    assert last.flags & _libc.MS_NOSUID and last.flags & _libc.MS_NOEXEC


def test_overlay_options_list_lower_layers_top_first() -> None:
    options = overlay.options(["/img/base", "/img/python", "/img/job"], "/s/upper", "/s/work")
    assert options == "lowerdir=/img/job:/img/python:/img/base,upperdir=/s/upper,workdir=/s/work"


def test_root_is_an_overlay_on_the_scratch_tmpfs_then_pivoted_into() -> None:
    ops = mounts.plan_root(STAGE, ["/img/base", "/img/python"])
    overlay = ops[0]
    assert (overlay.kind, overlay.target, overlay.fstype) == ("mount", f"{STAGE}/root", "overlay")
    assert overlay.data == f"lowerdir=/img/python:/img/base,upperdir={STAGE}/upper,workdir={STAGE}/work"
    assert overlay.flags & _libc.MS_NOSUID and overlay.flags & _libc.MS_NODEV
    pivot = ops[-1]
    assert (pivot.kind, pivot.target, pivot.source) == (
        "pivot_root",
        f"{STAGE}/root",
        f"{STAGE}/root/.oldroot",
    )


def test_root_gets_proc_dev_and_tmp_before_the_pivot() -> None:
    ops = mounts.plan_root(STAGE, ["/img/base"])
    targets = {op.target: op for op in ops if op.kind == "mount"}
    assert targets[f"{STAGE}/root/proc"].source == f"{STAGE}/proc"
    assert targets[f"{STAGE}/root/dev"].source == f"{STAGE}/dev"
    assert targets[f"{STAGE}/root/tmp"].source == f"{STAGE}/tmp"


def test_binds_are_read_only_unless_writable_and_always_nosuid_nodev() -> None:
    ro, rw = mounts.plan_binds(
        [Bind(source="/data/in", target="/data/"), Bind(source="/data/out", target="/out", writable=True)]
    )
    assert (ro.kind, ro.target, ro.source) == ("bind_inside", "/data", "/.oldroot/data/in")
    assert ro.flags == _libc.MS_NOSUID | _libc.MS_NODEV | _libc.MS_RDONLY
    assert (rw.target, rw.source) == ("/out", "/.oldroot/data/out")
    assert rw.flags == _libc.MS_NOSUID | _libc.MS_NODEV


def test_the_hosts_root_is_detached_and_its_mount_point_removed() -> None:
    assert mounts.plan_detach() == [Op("detach", "/.oldroot"), Op("rmdir", "/.oldroot")]


def test_an_op_names_its_step() -> None:
    assert Op("mount", "/x/proc", "proc", "proc").step == "mount /x/proc"


def test_tmpfs_options() -> None:
    assert mounts.tmpfs_options(size_bytes=1024, inodes=16, mode=0o1777) == "size=1024,nr_inodes=16,mode=1777"
