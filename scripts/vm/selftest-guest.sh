#!/bin/sh
# Checks run INSIDE the guest by selftest.sh (through run-in-guest.sh): what
# the sandbox needs from a cgroup-v2 host. One "ok"/"not ok" line per check,
# then a summary line; the exit status is the number of failures (max 100).
#
#   selftest-guest.sh IMAGE_DIR REPO
#     IMAGE_DIR  a directory passed with --image-dir (holds hello.txt etc.)
#     REPO       the jaula checkout (for its .venv)

set -u
image_dir=$1
repo=$2
passed=0
failed=0
scratch=$(mktemp -d /tmp/selftest.XXXXXX)
cg=/sys/fs/cgroup/jaula-vm-selftest

ok() { passed=$((passed + 1)); echo "ok - $*"; }
not_ok() { failed=$((failed + 1)); echo "not ok - $*"; }
# verdict STATUS OK_TEXT NOT_OK_TEXT: ok if STATUS is 0
verdict() {
	if [ "$1" -eq 0 ]; then ok "$2"; else not_ok "$3"; fi
}
# check DESCRIPTION CMD...: ok if CMD succeeds (its output shown on failure)
check() {
	desc=$1
	shift
	if out=$("$@" 2>&1); then ok "$desc"; else not_ok "$desc"; printf '%s\n' "$out" | sed 's/^/    # /'; fi
}

# -- cgroup v2 --------------------------------------------------------------

fstype=$(stat -fc %T /sys/fs/cgroup)
[ "$fstype" = cgroup2fs ]
verdict $? "/sys/fs/cgroup is cgroup2fs" "/sys/fs/cgroup is $fstype, want cgroup2fs"

v1=$(awk '$3 == "cgroup"' /proc/mounts | wc -l)
[ "$v1" -eq 0 ]
verdict $? "no cgroup v1 hierarchy mounted" "$v1 cgroup v1 hierarchies mounted"

controllers=$(cat /sys/fs/cgroup/cgroup.controllers)
for c in cpu memory pids cpuset; do
	case " $controllers " in
	*" $c "*) ok "controller $c available" ;;
	*) not_ok "controller $c missing from cgroup.controllers ($controllers)" ;;
	esac
done
subtree=$(cat /sys/fs/cgroup/cgroup.subtree_control)
for c in cpu memory pids; do
	case " $subtree " in
	*" $c "*) ok "controller $c enabled in the root's subtree_control" ;;
	*) not_ok "controller $c not enabled in the root ($subtree)" ;;
	esac
done

if mkdir "$cg"; then
	ok "create a child cgroup"
	check "write memory.max" sh -c "echo 64M >$cg/memory.max"
	check "write memory.swap.max" sh -c "echo 0 >$cg/memory.swap.max"
	check "write pids.max" sh -c "echo 16 >$cg/pids.max"
	check "write cpu.max" sh -c "echo '50000 100000' >$cg/cpu.max"
	for f in memory.peak cgroup.kill memory.events cpu.stat pids.peak; do
		if [ -e "$cg/$f" ]; then ok "$f present"; else not_ok "$f missing"; fi
	done
	# memory.peak can be reset by writing to it only from Linux 6.12 on.
	if echo 0 >"$cg/memory.peak" 2>/dev/null; then
		echo "# info: memory.peak is resettable (Linux >= 6.12)"
	else
		echo "# info: memory.peak is not resettable on $(uname -r) (needs 6.12)"
	fi

	# A process born in the cgroup, killed by cgroup.kill.
	sh -c "echo \$\$ >$cg/cgroup.procs; exec sleep 300" &
	pid=$!
	sleep 0.3
	check "a process runs in the child cgroup" grep -qx "$pid" "$cg/cgroup.procs"
	echo 1 >"$cg/cgroup.kill"
	wait "$pid" 2>/dev/null
	status=$?
	[ "$status" -eq 137 ]
	verdict $? "cgroup.kill killed it (SIGKILL)" "cgroup.kill: exit status $status, want 137"

	# The memory limit is enforced by the OOM killer, and counted.
	sh -c "echo \$\$ >$cg/cgroup.procs; exec python3 -c 'b = bytearray(256 << 20)'" 2>/dev/null
	status=$?
	oom=$(awk '$1 == "oom_kill" { print $2 }' "$cg/memory.events")
	peak=$(cat "$cg/memory.peak")
	if [ "$status" -eq 137 ] && [ "${oom:-0}" -ge 1 ]; then
		ok "memory.max enforced: 256 MiB allocation OOM-killed (oom_kill $oom, memory.peak $peak)"
	else
		not_ok "memory.max: exit status $status, oom_kill ${oom:-?}, want 137 and >= 1"
	fi
	[ "$peak" -gt $((48 << 20)) ] && [ "$peak" -le $((64 << 20)) ]
	verdict $? "memory.peak near the limit ($peak)" "memory.peak $peak not in (48 MiB, 64 MiB]"

	# pids.max: the 17th process cannot be forked.
	sh -c "echo \$\$ >$cg/cgroup.procs; for i in \$(seq 40); do sleep 1 & done; wait" 2>/dev/null
	pe=$(awk '$1 == "max" { print $2 }' "$cg/pids.events")
	[ "${pe:-0}" -ge 1 ]
	verdict $? "pids.max enforced (pids.events max $pe)" "pids.max not hit (pids.events max ${pe:-?})"
	echo 1 >"$cg/cgroup.kill"
	sleep 0.2
	check "remove the child cgroup" rmdir "$cg"
else
	not_ok "create a child cgroup"
fi

# -- namespaces -------------------------------------------------------------

check "unshare pid, mount, net, ipc, uts, cgroup namespaces" \
	unshare --fork --pid --mount --net --ipc --uts --cgroup --mount-proc true
check "unshare a user namespace" unshare --user --map-root-user true
check "cgroup namespace hides the parent path" \
	sh -c "mkdir $cg && echo \$\$ >$cg/cgroup.procs && unshare --cgroup cat /proc/self/cgroup | grep -qx '0::/'"
[ -d "$cg" ] && { echo 1 >"$cg/cgroup.kill"; sleep 0.1; rmdir "$cg"; }
check "loopback is up" sh -c "ip -o link show lo | grep -q 'state UNKNOWN\|UP'"

# -- overlayfs --------------------------------------------------------------

# overlay_check NAME LOWERDIR FILE: tmpfs upper, read FILE through the overlay,
# write and copy up, and check the lower layer is unchanged.
overlay_check() {
	name=$1 lower=$2 file=$3
	d=$scratch/$name
	if ! { mkdir -p "$d/t" && mount -t tmpfs tmpfs "$d/t" && mkdir "$d/t/upper" "$d/t/work" "$d/merged"; }; then
		not_ok "overlay ($name): scratch setup"
		return
	fi
	if mount -t overlay overlay -o "lowerdir=$lower,upperdir=$d/t/upper,workdir=$d/t/work" "$d/merged" 2>"$d/err"; then
		before=$(md5sum <"$lower/$file")
		if cmp -s "$lower/$file" "$d/merged/$file" &&
			echo changed >>"$d/merged/$file" &&
			echo new >"$d/merged/new-file" &&
			[ "$(md5sum <"$lower/$file")" = "$before" ] &&
			[ ! -e "$lower/new-file" ] &&
			[ -f "$d/t/upper/$file" ]; then
			ok "overlay with a lowerdir on $name: mount, read, copy-up, lower unchanged"
		else
			not_ok "overlay with a lowerdir on $name: read/copy-up check failed"
		fi
		umount "$d/merged"
	else
		not_ok "overlay with a lowerdir on $name: mount failed: $(cat "$d/err"; dmesg | grep -i overlay | tail -n 2)"
	fi
	umount "$d/t"
}

fs=$(stat -fc %T "$image_dir")
[ "$fs" = ext2/ext3 ]
verdict $? "--image-dir $image_dir is a local ext4 disk" "--image-dir $image_dir is on $fs, want ext4"
overlay_check "an --image-dir (ext4)" "$image_dir" hello.txt
# mkfs.ext4 -d keeps owners, modes, symlinks and hard links.
check "image keeps owner and mode" sh -c "[ \"\$(stat -c %u:%g:%a $image_dir/owned)\" = 1234:5678:640 ]"
check "image keeps symlinks" sh -c "[ \"\$(readlink $image_dir/link)\" = hello.txt ]"
check "image keeps hard links" sh -c "[ \"\$(stat -c %i $image_dir/hello.txt)\" = \"\$(stat -c %i $image_dir/hard)\" ]"
# The root is the host's, over 9p, under a tmpfs overlay: a sandbox overlay on
# top of it stacks two overlays (the kernel allows two).
overlay_check "the root (overlay over 9p)" /usr/share/doc/busybox-static copyright
overlay_check "the raw 9p share" /run/vm-guest/hostroot/usr/share/doc/busybox-static copyright

# -- the host's userland ----------------------------------------------------

check "the venv's python imports sandbox.spec" \
	sh -c "cd '$repo' && '$repo/.venv/bin/python' -c 'import sandbox.spec'"
check "the root is writable (RAM overlay)" sh -c "echo x >/etc/jaula-vm-selftest && rm /etc/jaula-vm-selftest"
check "/tmp is writable" sh -c "echo x >$scratch/w"

rm -rf "$scratch"
echo "selftest (guest, $(uname -r)): $passed passed, $failed failed"
[ "$failed" -le 100 ] || failed=100
exit "$failed"
