#!/bin/busybox sh
# shellcheck shell=sh
#
# PID 1 of the jaula test guest (see run-in-guest.sh, which packs this file as
# /init of the initramfs). Two stages, one file:
#
#   stage 1 (in the initramfs): load the few modules we need, mount the host's
#     root read-only over virtio-9p with a tmpfs overlay on top, mount a pure
#     cgroup2 hierarchy and the usual API filesystems into it, then switch_root.
#   stage 2 (PID 1 of the new root): run the command the host asked for, hand
#     its exit code back through the control share, power off.
#
# Everything here runs under busybox, an applet-first shell; the command is
# exec'd through the host's /usr/bin/env, so that a name such as `unshare`
# means util-linux, as it does on the host, not the busybox applet.
#
# The control share (mount tag "vmctl", writable, one per run) holds:
#   config  sourced here: CMD_CGROUP, TMP_TMPFS, HOST_NAME, IMAGES ("serial
#           path" lines)
#   cmd     sourced here by the command's process: cd, exec env -i ... CMD
#   rc      written here: the command's exit status
#   timing  written here: guest uptime when the command started and ended

set -u
export PATH=/usr/sbin:/usr/bin:/sbin:/bin

RUN=/run/vm-guest          # inside the new root
NEW=/newroot               # where stage 1 builds it

say() { echo "jaula-vm: $*" >/dev/console 2>/dev/null || echo "jaula-vm: $*"; }

# Steps with the guest's uptime, on the console, when booted with vmguest.trace
# (run-in-guest.sh --debug).
TRACE=0
trace() {
	[ "$TRACE" = 1 ] || return 0
	read -r up _ 2>/dev/null </proc/uptime || read -r up _ <"$NEW/proc/uptime"
	say "[$up] $*"
}

# A failure in PID 1 must end the VM at once (the host reports it and shows
# the console), never leave it hanging until the host's timeout.
die() {
	say "FATAL: $*"
	[ -d /mnt/ctl ] && echo "$*" >/mnt/ctl/error 2>/dev/null
	[ -d "$RUN/ctl" ] && echo "$*" >"$RUN/ctl/error" 2>/dev/null
	sync
	poweroff -f
	sleep 5
	exit 1
}

# The one-line device name (vportNpM) of the virtio-serial port called $1.
vport() {
	for _p in /sys/class/virtio-ports/vport*; do
		[ "$(cat "$_p/name" 2>/dev/null)" = "$1" ] && { echo "/dev/${_p##*/}"; return 0; }
	done
	return 1
}

# The block device (vdX) whose virtio serial is $1.
disk_by_serial() {
	for _b in /sys/block/vd*; do
		[ "$(cat "$_b/serial" 2>/dev/null)" = "$1" ] && { echo "/dev/${_b##*/}"; return 0; }
	done
	return 1
}

stage1() {
	mount -t proc proc /proc || die "mount /proc"
	mount -t sysfs sysfs /sys || die "mount /sys"
	mount -t devtmpfs devtmpfs /dev || die "mount /dev"
	grep -qw vmguest.trace /proc/cmdline && TRACE=1
	trace "stage 1"

	# Modules, in dependency order (computed on the host at build time).
	while read -r mod; do
		insmod "/lib/modules/$mod" || die "insmod $mod"
		trace "insmod $mod"
	done </lib/modules/load.list
	trace "modules loaded"

	mkdir -p /mnt/host /mnt/ctl /mnt/rw "$NEW"
	# msize: the largest QEMU 7.2 accepts; fewer round trips for big reads.
	# cache=loose: the host tree does not change under a test run, and lookups
	# (Python imports stat dozens of paths) are what makes 9p slow.
	mount -t 9p -o trans=virtio,version=9p2000.L,ro,msize=512000,cache=loose \
		hostroot /mnt/host || die "mount host root (9p)"
	mount -t 9p -o trans=virtio,version=9p2000.L,rw,msize=512000 \
		vmctl /mnt/ctl || die "mount control share (9p)"
	# shellcheck source=/dev/null
	. /mnt/ctl/config || die "read config"
	trace "9p mounted"

	# The writable layer of the root: RAM only, gone at power off.
	mount -t tmpfs -o mode=0755 rootrw /mnt/rw || die "mount tmpfs for the root overlay"
	mkdir -p /mnt/rw/upper /mnt/rw/work
	mount -t overlay -o lowerdir=/mnt/host,upperdir=/mnt/rw/upper,workdir=/mnt/rw/work \
		rootfs "$NEW" || die "mount root overlay"

	# The new root's own /proc and /sys; /dev (devtmpfs: one instance anyway)
	# moves there last, after the image disks are mounted from it.
	mount -t proc -o nosuid,nodev,noexec proc "$NEW/proc" || die "mount /proc"
	mount -t sysfs -o nosuid,nodev,noexec sysfs "$NEW/sys" || die "mount /sys"
	mount -t tmpfs -o mode=0755,nosuid,nodev run "$NEW/run" || die "mount /run"
	if [ "$TMP_TMPFS" = 1 ]; then
		mount -t tmpfs -o mode=1777,nosuid,nodev tmp "$NEW/tmp" || die "mount /tmp"
	fi

	# A pure cgroup2 hierarchy, and nothing else, at /sys/fs/cgroup (the kernel
	# command line has cgroup_no_v1=all, so no v1 hierarchy can even be mounted).
	mount -t cgroup2 -o nsdelegate cgroup2 "$NEW/sys/fs/cgroup" || die "mount cgroup2"
	# One controller at a time: a single write fails whole if one is missing.
	for c in cpuset cpu io memory pids; do
		if grep -qw "$c" "$NEW/sys/fs/cgroup/cgroup.controllers"; then
			echo "+$c" >"$NEW/sys/fs/cgroup/cgroup.subtree_control" || die "enable controller $c"
		fi
	done

	mkdir -p "$NEW$RUN/ctl" "$NEW$RUN/hostroot"
	mount --move /mnt/ctl "$NEW$RUN/ctl" || die "move control share"
	# The raw 9p view of the host, for tests and debugging.
	mount --bind /mnt/host "$NEW$RUN/hostroot" || die "bind the 9p root"
	cp /bin/busybox /init "$NEW$RUN/" || die "copy stage 2"

	# Host directories packed as ext4 images: a local filesystem, which
	# overlayfs accepts as a lower layer like any real image store.
	printf '%s\n' "$IMAGES" | while read -r serial path; do
		[ -n "$serial" ] || continue
		dev=$(disk_by_serial "$serial") || die "no disk with serial $serial"
		mkdir -p "$NEW$path" || die "mkdir $path"
		mount -t ext4 "$dev" "$NEW$path" || die "mount $dev on $path"
	done || exit 1

	mount --move /dev "$NEW/dev" || die "move /dev"
	mkdir -p "$NEW/dev/pts" "$NEW/dev/shm"
	mount -t devpts -o gid=5,mode=620,ptmxmode=666 devpts "$NEW/dev/pts" || die "mount /dev/pts"
	mount -t tmpfs -o mode=1777,nosuid,nodev shm "$NEW/dev/shm" || die "mount /dev/shm"
	umount /proc /sys
	trace "mounts done"
	hostname "$HOST_NAME"
	ip link set lo up || die "bring up lo"

	# shellcheck disable=SC2093 # exec returns only if switch_root failed
	exec switch_root "$NEW" "$RUN/busybox" sh "$RUN/init" stage2
	die "switch_root failed"
}

stage2() {
	cd / || die "cd /"
	grep -qw vmguest.trace /proc/cmdline && TRACE=1
	trace "stage 2"
	# shellcheck source=/dev/null
	. "$RUN/ctl/config" || die "read config"
	out=$(vport vmguest.stdout) || die "no stdout port"
	err=$(vport vmguest.stderr) || die "no stderr port"

	# Optionally run the command in a non-root cgroup (what a systemd host with
	# Delegate=yes gives a service), with every controller enabled on the way.
	if [ -n "$CMD_CGROUP" ]; then
		dir=/sys/fs/cgroup
		ctrls=$(cat "$dir/cgroup.subtree_control")
		rest=$CMD_CGROUP
		while :; do
			part=${rest%%/*}
			dir=$dir/$part
			mkdir -p "$dir" || die "mkdir $dir"
			[ "$rest" != "$part" ] || break
			rest=${rest#*/}
			for c in $ctrls; do echo "+$c" >"$dir/cgroup.subtree_control" || die "enable $c in $dir"; done
		done
	fi

	cut -d' ' -f1 /proc/uptime >"$RUN/ctl/timing"
	trace "starting the command"
	# A subshell (a fork of this shell: no exec, cheap under emulation) moves
	# itself into the cgroup, so the command is born there, then sources cmd:
	# cd, and exec of the host's /usr/bin/env with the command. (An absolute
	# path: busybox's applet-first lookup applies to bare names only.)
	(
		if [ -n "$CMD_CGROUP" ]; then
			echo 0 >"/sys/fs/cgroup/$CMD_CGROUP/cgroup.procs" || exit 125
		fi
		# shellcheck source=/dev/null
		. "$RUN/ctl/cmd"
		exit 125
	) </dev/null >"$out" 2>"$err" &
	# ash's wait reaps every child, so orphans re-parented to us do not pile
	# up as zombies while the command runs.
	wait $!
	rc=$?
	trace "command exited with status $rc"
	cut -d' ' -f1 /proc/uptime >>"$RUN/ctl/timing"
	echo "$rc" >"$RUN/ctl/rc.tmp" && mv "$RUN/ctl/rc.tmp" "$RUN/ctl/rc"
	sync
	poweroff -f
}

# The kernel passes stray command-line words to init as arguments: anything
# but our own "stage2" means stage 1.
case ${1:-} in
stage2) stage2 ;;
*) stage1 ;;
esac
