#!/bin/bash
# run-in-guest.sh [options] -- CMD [ARG...]
#
# Run CMD as root in a throwaway QEMU guest whose only cgroup hierarchy is
# cgroup v2, with the host's own userland (read-only, with a RAM overlay on
# top) as its root, so the same venv and checkout work unchanged. jaula's CI
# hosts are cgroup v1 (hybrid); this is how the sandbox's cgroup-v2 code path
# gets tested for real. KVM is not available there, so the guest runs under
# TCG (pure emulation): slower, but it needs nothing from the host's kernel.
#
# Output: CMD's stdout and stderr go to ours (separately); the exit status is
# CMD's, or 124 on timeout, 125 if the harness or the guest failed, 128+N on
# signal N. See README.md beside this file.

set -euo pipefail

SCRIPT_DIR=$(cd -- "$(dirname -- "${BASH_SOURCE[0]}")" && pwd -P)
readonly SCRIPT_DIR
readonly GUEST_INIT=$SCRIPT_DIR/guest-init.sh
readonly CACHE_DIR=${JAULA_VM_CACHE:-/var/cache/jaula-vm}
# A Debian kernel image package (meta or versioned). The generic flavour, not
# cloud-amd64: Debian's cloud kernels are built without 9p (CONFIG_NET_9P is
# not set), and we need 9p to share the host's root (virtiofsd is not packaged
# for bookworm). linux-image-6.12-amd64 gives 6.12 (bookworm-security has it).
readonly DEFAULT_KERNEL=linux-image-amd64
# Guest modules; their dependencies are added, built-in ones are skipped.
readonly GUEST_MODULES=(virtio_pci virtio_blk virtio_console 9pnet_virtio 9p
	overlay crc32c_generic ext4)
# cgroup_no_v1=all: no v1 hierarchy can be mounted, so cgroup2 is the only one.
# panic=-1 with QEMU's -no-reboot: a kernel panic ends QEMU at once.
# cryptomgr.notests: the crypto self-tests cost 0.4 s of boot under TCG.
readonly GUEST_CMDLINE="console=ttyS0 quiet loglevel=4 panic=-1 cgroup_no_v1=all cryptomgr.notests"
# i440fx: fewer devices to probe than q35, which we do not need.
readonly MACHINE=${JAULA_VM_MACHINE:-pc}
readonly ENV_PREFIXES_RE='^(JAULA_|PYTEST_)'
# Bump when ensure_image makes different images from the same directory.
readonly IMAGE_FORMAT=1
readonly GUEST_PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin

mem_mb=3072
cpus=2
timeout_s=1800
verbose=0
debug=0
aslr=0
kernel_pkg=${JAULA_VM_KERNEL:-$DEFAULT_KERNEL}
cmd_cgroup=""
console_log=""
image_dirs=()
extra_env=()
cmd=()

# State for cleanup (see on_exit).
run_dir=""
qemu_pid=""
timer_pid=""
relay_pids=()
lock_fd=""

usage() {
	cat <<EOF
usage: ${0##*/} [options] -- CMD [ARG...]

Run CMD as root in a QEMU (TCG) guest with a pure cgroup v2 hierarchy, the
host's root filesystem (read-only, RAM overlay) and the caller's working
directory. Exit status: CMD's; 124 timeout; 125 harness or guest failure.

options:
  --mem MB           guest RAM (default $mem_mb)
  --cpus N           guest CPUs (default $cpus)
  --timeout S        kill the guest after S seconds (default $timeout_s)
  --image-dir DIR    expose host DIR at the same path on a local ext4 disk
                     (writable, changes discarded), e.g. image layers that
                     overlayfs must use as lowerdir; repeatable
  --env NAME[=VAL]   pass NAME (from our environment, or with VAL) to CMD;
                     JAULA_* and PYTEST_* are always passed; repeatable
  --cgroup PATH      run CMD in cgroup PATH (e.g. jaula.slice/ci) instead of
                     the root cgroup, controllers enabled down to it
  --kernel PKG       Debian kernel package (default \$JAULA_VM_KERNEL or
                     $DEFAULT_KERNEL)
  --console-log FILE keep the guest's console output in FILE
  -v, --verbose      report preparation steps and timings on stderr
  --debug            verbose kernel and guest init; console shown at the end
  --aslr             keep address-space randomisation on in the guest (off by
                     default: it defeats QEMU's cache of translated code, and
                     every exec costs 2x more)
  -h, --help         this help

environment: JAULA_VM_CACHE (default /var/cache/jaula-vm), JAULA_VM_KERNEL,
  JAULA_VM_APPEND (extra kernel command line)
EOF
}

die() {
	printf 'run-in-guest: %s\n' "$*" >&2
	exit 125
}

info() {
	if ((verbose)); then printf 'run-in-guest: %s\n' "$*" >&2; fi
	return 0
}

now() { date +%s.%N; }

# Seconds between two `now` stamps, one decimal place.
elapsed() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.1f", b - a }'; }

# POSIX single-quoting, for the files that the guest's shell sources.
shquote() {
	local s=${1//\'/\'\\\'\'}
	printf "'%s'" "$s"
}

parse_args() {
	while (($#)); do
		case $1 in
		--mem) mem_mb=${2:?--mem needs a value}; shift 2 ;;
		--cpus) cpus=${2:?--cpus needs a value}; shift 2 ;;
		--timeout) timeout_s=${2:?--timeout needs a value}; shift 2 ;;
		--image-dir) image_dirs+=("${2:?--image-dir needs a value}"); shift 2 ;;
		--env) extra_env+=("${2:?--env needs a value}"); shift 2 ;;
		--cgroup) cmd_cgroup=${2:?--cgroup needs a value}; shift 2 ;;
		--kernel) kernel_pkg=${2:?--kernel needs a value}; shift 2 ;;
		--console-log) console_log=${2:?--console-log needs a value}; shift 2 ;;
		-v | --verbose) verbose=1; shift ;;
		--debug) debug=1; verbose=1; shift ;;
		--aslr) aslr=1; shift ;;
		-h | --help) usage; exit 0 ;;
		--) shift; cmd=("$@"); break ;;
		*) usage >&2; die "unknown argument: $1 (the command goes after --)" ;;
		esac
	done
	((${#cmd[@]})) || { usage >&2; die "no command given"; }
	[[ $mem_mb =~ ^[0-9]+$ && $mem_mb -ge 256 ]] || die "--mem: want MB >= 256, got $mem_mb"
	[[ $cpus =~ ^[0-9]+$ && $cpus -ge 1 ]] || die "--cpus: want N >= 1, got $cpus"
	[[ $timeout_s =~ ^[0-9]+$ && $timeout_s -ge 1 ]] || die "--timeout: want seconds >= 1, got $timeout_s"
	cmd_cgroup=${cmd_cgroup#/}
	cmd_cgroup=${cmd_cgroup%/}
	[[ -z $cmd_cgroup || $cmd_cgroup =~ ^[A-Za-z0-9_.@-]+(/[A-Za-z0-9_.@-]+)*$ ]] ||
		die "--cgroup: not a plain relative path: $cmd_cgroup"
	return 0
}

check_host() {
	((EUID == 0)) || die "must run as root (the guest runs the command as root)"
	local tool
	for tool in qemu-system-x86_64 busybox apt-get apt-cache dpkg-deb mkfs.ext4 flock setpriv xz; do
		command -v "$tool" >/dev/null || die "missing $tool (apt-get install the packages in scripts/apt-packages.txt)"
	done
	[[ -x /bin/busybox ]] || die "missing /bin/busybox (apt-get install busybox-static)"
}

# ---------------------------------------------------------------- the cache --

# One lock for everything under $CACHE_DIR: concurrent runs build each
# artefact once; finished artefacts are renamed into place, so readers that do
# not hold the lock (a booting guest) never see half a file.
lock_cache() {
	mkdir -p "$CACHE_DIR"
	exec {lock_fd}>"$CACHE_DIR/.lock"
	flock "$lock_fd"
}

unlock_cache() {
	if [[ -n $lock_fd ]]; then
		exec {lock_fd}>&-
		lock_fd=""
	fi
}

# A scratch directory inside the cache (same filesystem, so mv is atomic),
# removed with the run directory's sweep if we die before renaming it.
cache_tmp() {
	mkdir -p "$CACHE_DIR/tmp"
	mktemp -d "$CACHE_DIR/tmp/$$.XXXXXX"
}

# Remove what runs killed with SIGKILL left behind (their pid is gone), and
# disk images whose directory is gone or that no run used for 14 days.
sweep_stale() {
	local d pid
	for d in "${TMPDIR:-/tmp}"/jaula-vm.*.* "$CACHE_DIR"/tmp/*.*; do
		[[ -e $d ]] || continue
		pid=${d##*/}
		pid=${pid#jaula-vm.}
		pid=${pid%%.*}
		[[ $pid =~ ^[0-9]+$ ]] || continue
		kill -0 "$pid" 2>/dev/null || rm -rf -- "$d"
	done
	local p
	for p in "$CACHE_DIR"/images/*.path; do
		[[ -f $p ]] || continue
		if [[ ! -d $(<"$p") || -n $(find "$p" -mtime +14) ]]; then
			rm -f -- "${p%.path}.ext4" "$p"
		fi
	done
}

# ------------------------------------------------------------------ kernel --

# The newest cached kernel directory fetched for kernel_pkg, or nothing.
newest_cached_kernel() {
	local req best=""
	for req in "$CACHE_DIR"/kernel/*/requested; do
		if [[ -f $req ]] && grep -qxF -- "$kernel_pkg" "$req" &&
			[[ -z $best || $req -nt $best/requested ]]; then
			best=${req%/requested}
		fi
	done
	printf '%s' "$best"
}

# Sets image and version (empty if apt-cache does not know it) for kernel_pkg.
# Meta packages (linux-image-amd64 -> linux-image-6.12-amd64 -> ...) depend
# on the next linux-image-*; the real image depends on none.
resolve_kernel_package() {
	local dep i
	image=$kernel_pkg
	for ((i = 0; i < 5; i++)); do
		dep=$(apt-cache depends "$image" 2>/dev/null |
			awk '$1 == "Depends:" && $2 ~ /^linux-image-/ { print $2; exit }') || true
		[[ -n $dep ]] || break
		image=$dep
	done
	version=$(apt-cache show --no-all-versions "$image" 2>/dev/null |
		awk '$1 == "Version:" { print $2; exit }') || true
}

# Sets kernel_dir to a cache directory holding linux.deb (the package, from
# which initramfs builds take modules), the kernel (vmlinux or vmlinuz) and kver.
ensure_kernel() {
	local image=$kernel_pkg version="" key
	# What the request resolves to is remembered until the package lists
	# change (apt-cache takes seconds on a busy machine).
	local resolved=$CACHE_DIR/kernel/$kernel_pkg.resolved
	if [[ -f $resolved && $resolved -nt /var/lib/apt/lists ]]; then
		read -r image version <"$resolved" || true
	else
		resolve_kernel_package
		if [[ -z $version && -z $(newest_cached_kernel) ]]; then
			# A fresh machine may have no package lists yet.
			info "apt-get update (no package lists to find $kernel_pkg in)"
			apt-get update -qq || true
			resolve_kernel_package
		fi
		if [[ -n $version ]]; then
			mkdir -p "$CACHE_DIR/kernel"
			printf '%s %s\n' "$image" "$version" >"$resolved.tmp"
			mv "$resolved.tmp" "$resolved"
		fi
	fi
	if [[ -z $version ]]; then
		# No package lists (or no network): fall back on the newest cached one.
		kernel_dir=$(newest_cached_kernel)
		[[ -n $kernel_dir ]] || die "cannot resolve $kernel_pkg with apt-cache and none is cached (run apt-get update)"
		printf 'run-in-guest: warning: apt-cache cannot resolve %s; using cached %s\n' \
			"$kernel_pkg" "${kernel_dir##*/}" >&2
		return 0
	fi
	key="${image#linux-image-}_$version"
	kernel_dir=$CACHE_DIR/kernel/$key
	if [[ -f $kernel_dir/kver ]]; then
		info "kernel $key (cached)"
		return 0
	fi

	info "downloading $image=$version"
	local tmp t0
	t0=$(now)
	tmp=$(cache_tmp)
	# APT::Sandbox::User=root: _apt cannot write into our root-owned scratch.
	(cd "$tmp" && apt-get -qq -o APT::Sandbox::User=root download "$image=$version") ||
		die "apt-get download $image=$version failed"
	mv "$tmp"/*.deb "$tmp/linux.deb"
	dpkg-deb --fsys-tarfile "$tmp/linux.deb" |
		tar -x -C "$tmp" --wildcards './boot/vmlinuz-*' './boot/config-*' ||
		die "no vmlinuz in $image"
	mv "$tmp"/boot/vmlinuz-* "$tmp/vmlinuz"
	if grep -qx 'CONFIG_PVH=y' "$tmp"/boot/config-*; then
		extract_vmlinux "$tmp/vmlinuz" "$tmp/vmlinux" && rm -f "$tmp/vmlinuz"
	fi
	printf '%s\n' "${image#linux-image-}" >"$tmp/kver"
	printf '%s\n' "$kernel_pkg" >"$tmp/requested"
	rm -rf "${tmp:?}/boot"
	# Older builds of the same requested package are superseded.
	local old
	for old in "$CACHE_DIR"/kernel/*/requested; do
		if [[ -f $old ]] && grep -qxF -- "$kernel_pkg" "$old"; then
			rm -rf -- "${old%/requested}"
		fi
	done
	mkdir -p "$CACHE_DIR/kernel"
	chmod 0755 "$tmp"
	mv -T "$tmp" "$kernel_dir"
	info "kernel $key ready in $(elapsed "$t0" "$(now)") s"
}

# Unpack the ELF kernel inside bzImage $1 into $2. QEMU boots such an ELF
# directly through its PVH entry point, which saves the 2 s that the kernel's
# own xz decompressor takes under TCG. Returns non-zero (and the caller keeps
# the bzImage) if the payload is in a format we do not know.
extract_vmlinux() {
	local bz=$1 out=$2 setup_sects payload_offset payload_length offset magic
	# boot protocol header: setup_sects at 0x1f1, payload_offset/length at 0x248
	setup_sects=$(od -An -tu1 -j $((0x1f1)) -N1 -- "$bz" | tr -d ' ')
	((setup_sects)) || setup_sects=4
	payload_offset=$(od -An -tu4 -j $((0x248)) -N4 -- "$bz" | tr -d ' ')
	payload_length=$(od -An -tu4 -j $((0x24c)) -N4 -- "$bz" | tr -d ' ')
	offset=$(((setup_sects + 1) * 512 + payload_offset))
	magic=$(od -An -tx1 -j "$offset" -N4 -- "$bz" | tr -d ' ')
	local -a unpack
	case $magic in
	fd377a58) unpack=(xz -dc --single-stream) ;;
	28b52ffd) unpack=(zstd -qdc) ;;
	*) info "kernel payload format $magic unknown, booting the bzImage"; return 1 ;;
	esac
	# The payload ends with 4 bytes of size that the decompressors must not see
	# (xz --single-stream ignores them; zstd stops at the frame end).
	tail -c +$((offset + 1)) -- "$bz" | head -c "$payload_length" | "${unpack[@]}" >"$out" 2>/dev/null || true
	if [[ $(od -An -tx1 -N4 -- "$out" 2>/dev/null | tr -d ' ') != 7f454c46 ]]; then
		info "could not unpack the kernel's ELF image, booting the bzImage"
		rm -f -- "$out"
		return 1
	fi
}

# -------------------------------------------------------------- initramfs --

# The dependency names (one a line) in the .modinfo of module file $1, read
# directly: the package has no modules.dep (depmod runs at install time).
modinfo_depends() {
	case $1 in
	*.xz) xz -dc -- "$1" ;;
	*.zst) zstd -qdc -- "$1" ;;
	*) cat -- "$1" ;;
	esac | tr '\0' '\n' | sed -n 's/^depends=//p' | head -n1 | tr ',' '\n' | sed '/^$/d'
}

# Depth-first, post-order walk for module_load_order, whose locals (tree,
# file_of, builtin, state, order) it uses: dependencies come out first.
visit_module() {
	local m=${1//-/_} d deps
	if [[ ${state[$m]:-} == "done" ]]; then return 0; fi
	[[ ${state[$m]:-} != active ]] || die "module dependency cycle at $m"
	if [[ -n ${builtin[$m]:-} ]]; then
		state[$m]="done"
		return 0
	fi
	[[ -n ${file_of[$m]:-} ]] || die "kernel has no module $m"
	state[$m]=active
	deps=$(modinfo_depends "$tree/${file_of[$m]}")
	for d in $deps; do visit_module "$d"; done
	state[$m]="done"
	order+=("${file_of[$m]}")
}

# Print, in load order, the module files (relative to $1, a modules tree)
# needed for GUEST_MODULES, skipping built-ins.
module_load_order() {
	local tree=$1 f name m
	local -A file_of=() builtin=() state=()
	local -a order=()
	while IFS= read -r f; do
		name=${f##*/}
		name=${name%%.ko*}
		file_of[${name//-/_}]=$f
	done < <(cd "$tree" && find kernel -name '*.ko' -o -name '*.ko.xz' -o -name '*.ko.zst')
	while IFS= read -r f; do
		name=${f##*/}
		name=${name%%.ko*}
		builtin[${name//-/_}]=1
	done <"$tree/modules.builtin"
	for m in "${GUEST_MODULES[@]}"; do visit_module "$m"; done
	printf '%s\n' "${order[@]}"
}

# Sets initramfs to a cached initramfs for kernel_dir, built if needed. The
# key covers everything that goes in: kernel, module list, init, busybox.
ensure_initramfs() {
	local kver key
	kver=$(<"$kernel_dir/kver")
	key=$({
		printf '%s\n' "${kernel_dir##*/}" "${GUEST_MODULES[@]}"
		cat -- "$GUEST_INIT" /bin/busybox
	} | sha256sum | cut -c1-16)
	initramfs=$kernel_dir/initramfs-$key.cpio
	if [[ -f $initramfs ]]; then
		info "initramfs $key (cached)"
		return 0
	fi

	info "building initramfs $key"
	local tmp t0 mods root f
	t0=$(now)
	tmp=$(cache_tmp)
	mods=$tmp/x/lib/modules/$kver
	mkdir -p "$tmp/x"
	dpkg-deb --fsys-tarfile "$kernel_dir/linux.deb" |
		tar -x -C "$tmp/x" --wildcards "./lib/modules/$kver/*"
	[[ -f $mods/modules.builtin ]] || die "no modules.builtin in ${kernel_dir##*/}"

	root=$tmp/root
	mkdir -p "$root"/{bin,dev,proc,sys,mnt,newroot,lib/modules}
	cp /bin/busybox "$root/bin/busybox"
	local applet
	for applet in $(/bin/busybox --list); do
		[[ $applet == busybox ]] || ln -s busybox "$root/bin/$applet"
	done
	install -m 0755 "$GUEST_INIT" "$root/init"
	mknod -m 600 "$root/dev/console" c 5 1

	# Modules go in flat and uncompressed (busybox insmod loads plain ELF).
	local -a order
	local base
	module_load_order "$mods" >"$tmp/order"
	mapfile -t order <"$tmp/order"
	: >"$root/lib/modules/load.list"
	for f in "${order[@]}"; do
		base=${f##*/}
		base=${base%.xz}
		base=${base%.zst}
		case $f in
		*.xz) xz -dc -- "$mods/$f" >"$root/lib/modules/$base" ;;
		*.zst) zstd -qdc -- "$mods/$f" >"$root/lib/modules/$base" ;;
		*) cp -- "$mods/$f" "$root/lib/modules/$base" ;;
		esac
		printf '%s\n' "$base" >>"$root/lib/modules/load.list"
	done

	# Uncompressed: unpacking is faster than gunzip under emulation, and the
	# kernel loads it from QEMU's fw_cfg by DMA anyway.
	(cd "$root" && find . | LC_ALL=C sort | /bin/busybox cpio -o -H newc -R 0:0 2>/dev/null) \
		>"$tmp/initramfs.cpio"
	rm -f -- "$kernel_dir"/initramfs-*.cpio
	mv "$tmp/initramfs.cpio" "$initramfs"
	rm -rf -- "$tmp"
	info "initramfs $key built in $(elapsed "$t0" "$(now)") s (${#order[@]} modules)"
}

# ------------------------------------------------------------- image disks --

# Sets image_file to a cached ext4 image with the contents of directory $1,
# built if needed. The key is the format, the path plus a listing of every entry's type,
# mode, owner, size, mtime and link target: any change makes a new image.
ensure_image() {
	local dir=$1 key img
	key=$({
		printf '%s\n' "$IMAGE_FORMAT" "$dir"
		find "$dir" -printf '%P\t%y\t%m\t%U:%G\t%s\t%T@\t%l\n' | LC_ALL=C sort
	} | sha256sum | cut -c1-16)
	img=$CACHE_DIR/images/$key.ext4
	if [[ -f $img ]]; then
		info "image of $dir: $key (cached)"
		touch -- "${img%.ext4}.path" # last use, for sweep_stale
		image_file=$img
		return 0
	fi

	local tmp t0 blocks inodes size_mb
	t0=$(now)
	tmp=$(cache_tmp)
	blocks=$(du -s --block-size=4096 -- "$dir" | cut -f1)
	inodes=$(find "$dir" | wc -l)
	# Room for what the guest writes (locks, caches; discarded at power off)
	# and the inode tables: +25% +128 MiB, 2x the inodes.
	inodes=$((inodes * 2 + 4096))
	size_mb=$((blocks * 4096 * 5 / 4 / 1048576 + inodes / 4096 + 128))
	# No journal: the image is never written for real (the guest's writes go
	# to a QEMU snapshot), and a journal only costs space and mount time.
	truncate -s "${size_mb}M" "$tmp/img"
	mkfs.ext4 -q -F -b 4096 -N "$inodes" -m 0 -O ^has_journal -L jaula-img \
		-E root_owner=0:0 -d "$dir" "$tmp/img" ||
		die "mkfs.ext4 -d $dir failed"
	mkdir -p "$CACHE_DIR/images"
	# One image per host directory: drop the previous ones.
	local old
	for old in "$CACHE_DIR"/images/*.path; do
		if [[ -f $old ]] && grep -qxF -- "$dir" "$old"; then
			rm -f -- "${old%.path}.ext4" "$old"
		fi
	done
	printf '%s\n' "$dir" >"$tmp/path"
	mv "$tmp/img" "$img"
	mv "$tmp/path" "${img%.ext4}.path"
	rm -rf -- "$tmp"
	info "image of $dir: $key built in $(elapsed "$t0" "$(now)") s (${size_mb} MiB, sparse)"
	image_file=$img
}

# ------------------------------------------------------------------- a run --

# Write the control share: config (for the guest's init) and cmd (sourced by
# the init's child: cd to our working directory, exec CMD in a clean
# environment).
write_control() {
	local ctl=$run_dir/ctl cwd=$PWD tmp_tmpfs=1 name value e images=""
	mkdir -p "$ctl"
	[[ -d $cwd ]] || die "working directory $cwd does not exist"
	case $cwd/ in
	/proc/* | /sys/* | /dev/* | /run/*)
		die "working directory $cwd is hidden in the guest (it gets its own /proc /sys /dev /run)" ;;
	/tmp/*)
		# A fresh tmpfs on /tmp would hide it: keep the host's /tmp (read-only
		# below, writable through the root overlay) instead.
		tmp_tmpfs=0 ;;
	esac

	local i
	for i in "${!image_disks[@]}"; do
		images+="img$i ${image_paths[$i]}"$'\n'
	done
	{
		printf 'CMD_CGROUP=%s\n' "$(shquote "$cmd_cgroup")"
		printf 'TMP_TMPFS=%s\n' "$tmp_tmpfs"
		# The host's name: its /etc/hosts resolves it, as on the host.
		printf 'HOST_NAME=%s\n' "$(shquote "$(uname -n)")"
		printf 'IMAGES=%s\n' "$(shquote "$images")"
	} >"$ctl/config"

	# Sourced by the guest's init (busybox ash) in the child that becomes CMD.
	# env -i takes NAME=VALUE words up to the command; should the command's
	# name itself contain a "=", `sh -c 'exec "$@"'` runs it.
	{
		printf 'cd -- %s || exit 125\n' "$(shquote "$cwd")"
		printf 'exec /usr/bin/env -i'
		printf ' %s' "PATH=$GUEST_PATH" HOME=/root LANG=C.UTF-8 USER=root LOGNAME=root
		while IFS= read -r name; do
			if [[ $name =~ $ENV_PREFIXES_RE ]]; then
				printf ' %s' "$(shquote "$name=${!name}")"
			fi
		done < <(compgen -e)
		for e in "${extra_env[@]}"; do
			if [[ $e == *=* ]]; then
				name=${e%%=*} value=${e#*=}
			else
				name=$e
				value=${!e-}
				[[ -v $e ]] || die "--env $e: not set in our environment"
			fi
			[[ $name =~ ^[A-Za-z_][A-Za-z0-9_]*$ ]] || die "--env: bad name $name"
			printf ' %s' "$(shquote "$name=$value")"
		done
		if [[ ${cmd[0]} == *=* ]]; then
			printf " /bin/sh -c 'exec \"\$@\"' sh"
		fi
		for e in "${cmd[@]}"; do printf ' %s' "$(shquote "$e")"; done
		printf '\n'
	} >"$ctl/cmd"
}

start_qemu() {
	local cmdline=$GUEST_CMDLINE kernel_image=$kernel_dir/vmlinux
	[[ -f $kernel_image ]] || kernel_image=$kernel_dir/vmlinuz
	if ((debug)); then
		cmdline="${cmdline/quiet loglevel=4/loglevel=7} vmguest.trace"
	fi
	# QEMU 7.2's TCG finds translated code by virtual address: with the same
	# layout in every process, libc & co are translated once, not per exec.
	((aslr)) || cmdline+=" norandmaps"
	[[ -z ${JAULA_VM_APPEND:-} ]] || cmdline+=" $JAULA_VM_APPEND"

	# CMD's stdout and stderr reach ours through a FIFO and a `cat` each, so
	# that they are written through our very file descriptions. (QEMU opening
	# /proc/self/fd/1 would make a description of its own, with its own
	# offset: in a log file shared with other writers, output gets clobbered.)
	mkfifo "$run_dir/stdout" "$run_dir/stderr"
	setpriv --pdeathsig KILL -- cat -- "$run_dir/stdout" &
	relay_pids+=($!)
	setpriv --pdeathsig KILL -- cat -- "$run_dir/stderr" >&2 &
	relay_pids+=($!)

	# shellcheck disable=SC2054 # QEMU's options are comma-separated lists
	local -a args=(
		-nodefaults -no-user-config -display none -monitor none -no-reboot
		-machine "$MACHINE" -accel tcg,thread=multi -cpu max
		-smp "$cpus" -m "$mem_mb"
		-kernel "$kernel_image" -initrd "$initramfs" -append "$cmdline"
		-serial "file:$run_dir/console.log"
		# No network; no virtio-rng either: -cpu max has RDRAND, so the
		# kernel's RNG is ready at once.
		-nic none
		# The host's root, read-only. multidevs=remap keeps inode numbers
		# unique across the host mounts that the export spans.
		-fsdev "local,id=hostroot,path=/,security_model=none,readonly=on,multidevs=remap"
		-device virtio-9p-pci,fsdev=hostroot,mount_tag=hostroot
		-fsdev "local,id=ctl,path=$run_dir/ctl,security_model=none"
		-device virtio-9p-pci,fsdev=ctl,mount_tag=vmctl
		# CMD's stdout and stderr: raw virtio-serial ports (not ttys, so no
		# CR/LF translation) into the FIFOs.
		-device virtio-serial-pci
		-chardev "file,id=out,path=$run_dir/stdout"
		-device virtserialport,chardev=out,name=vmguest.stdout
		-chardev "file,id=err,path=$run_dir/stderr"
		-device virtserialport,chardev=err,name=vmguest.stderr
	)
	local i
	for i in "${!image_disks[@]}"; do
		# snapshot=on: the guest may write (locks, caches); QEMU keeps the
		# writes in a temporary file (in TMPDIR: our run dir) and drops them.
		args+=(-drive "if=none,id=img$i,format=raw,snapshot=on,file=${image_disks[$i]}"
			-device "virtio-blk-pci,drive=img$i,serial=img$i")
	done
	# --pdeathsig: QEMU dies with us even if we are SIGKILLed (no trap runs).
	TMPDIR=$run_dir setpriv --pdeathsig KILL -- \
		qemu-system-x86_64 "${args[@]}" </dev/null &
	qemu_pid=$!
}

# Stop QEMU (our child, by pid): TERM, then KILL after 5 s.
# shellcheck disable=SC2317 # reached from the EXIT trap
stop_qemu() {
	[[ -n $qemu_pid ]] || return 0
	if kill -TERM "$qemu_pid" 2>/dev/null; then
		local i
		for ((i = 0; i < 50; i++)); do
			kill -0 "$qemu_pid" 2>/dev/null || break
			sleep 0.1
		done
		kill -KILL "$qemu_pid" 2>/dev/null || true
	fi
	wait "$qemu_pid" 2>/dev/null || true
	qemu_pid=""
}

# Wait for the relays: they end when QEMU (gone by now) has closed the FIFOs,
# and then all of CMD's output is out. A relay whose FIFO QEMU never opened
# (it failed to start) is still blocked opening it: an open of ours (read-
# write, which never blocks) and close lets it see the end of the stream.
# $1=kill (on timeout or signal): do not wait for output that may be stuck.
stop_relays() {
	local pid fifo
	if [[ ${1:-} == kill ]]; then
		for pid in "${relay_pids[@]}"; do kill "$pid" 2>/dev/null || true; done
	elif [[ -n $run_dir ]]; then
		for fifo in "$run_dir/stdout" "$run_dir/stderr"; do
			if [[ -p $fifo ]]; then : <>"$fifo"; fi
		done
	fi
	for pid in "${relay_pids[@]}"; do wait "$pid" 2>/dev/null || true; done
	relay_pids=()
}

show_console() {
	[[ -f $run_dir/console.log ]] || return 0
	if ((debug)); then
		printf 'run-in-guest: guest console:\n' >&2
		sed 's/^/  | /' -- "$run_dir/console.log" >&2
	else
		printf 'run-in-guest: last lines of the guest console:\n' >&2
		tail -n 40 -- "$run_dir/console.log" | sed 's/^/  | /' >&2
	fi
}

# shellcheck disable=SC2317 # the EXIT trap
on_exit() {
	local rc=$?
	trap - EXIT INT TERM HUP
	stop_qemu
	stop_relays kill
	if [[ -n $timer_pid ]]; then
		kill "$timer_pid" 2>/dev/null || true
		wait "$timer_pid" 2>/dev/null || true
	fi
	if [[ -n $console_log && -f $run_dir/console.log ]]; then
		cp -- "$run_dir/console.log" "$console_log" || true
	fi
	[[ -z $run_dir ]] || rm -rf -- "$run_dir"
	exit "$rc"
}

# shellcheck disable=SC2317 # the INT/TERM/HUP traps
on_signal() {
	printf 'run-in-guest: caught SIG%s, stopping the guest\n' "$1" >&2
	exit $((128 + $2))
}

main() {
	parse_args "$@"
	check_host
	trap on_exit EXIT
	trap 'on_signal INT 2' INT
	trap 'on_signal TERM 15' TERM
	trap 'on_signal HUP 1' HUP

	local t_start t_boot
	t_start=$(now)
	lock_cache
	sweep_stale
	ensure_kernel
	ensure_initramfs
	image_disks=()
	image_paths=()
	local d
	for d in "${image_dirs[@]}"; do
		[[ -d $d ]] || die "--image-dir $d: not a directory"
		d=$(realpath -- "$d")
		[[ $d != *$'\n'* && $d != / ]] || die "--image-dir: unusable path $d"
		image_paths+=("$d")
		ensure_image "$d"
		image_disks+=("$image_file")
	done
	unlock_cache

	run_dir=$(mktemp -d "${TMPDIR:-/tmp}/jaula-vm.$$.XXXXXX")
	write_control
	t_boot=$(now)
	start_qemu
	sleep "$timeout_s" &
	timer_pid=$!

	local done_pid="" qemu_rc=0
	wait -n -p done_pid "$qemu_pid" "$timer_pid" || qemu_rc=$?
	if [[ $done_pid == "$timer_pid" ]]; then
		timer_pid=""
		printf 'run-in-guest: timeout after %s s, killing the guest\n' "$timeout_s" >&2
		exit 124
	fi
	qemu_pid=""
	stop_relays
	kill "$timer_pid" 2>/dev/null || true
	wait "$timer_pid" 2>/dev/null || true
	timer_pid=""

	local t_end rc
	t_end=$(now)
	if [[ ! -f $run_dir/ctl/rc ]]; then
		if [[ -f $run_dir/ctl/error ]]; then
			printf 'run-in-guest: guest init failed: %s\n' "$(<"$run_dir/ctl/error")" >&2
		else
			printf 'run-in-guest: guest stopped without a result (QEMU exit status %s)\n' "$qemu_rc" >&2
		fi
		show_console
		exit 125
	fi
	((debug)) && show_console
	rc=$(<"$run_dir/ctl/rc")
	if ((verbose)); then
		local up_start up_end
		{ read -r up_start && read -r up_end; } <"$run_dir/ctl/timing" || true
		info "boot to command: ${up_start:-?} s guest uptime, $(elapsed "$t_boot" "$t_end") s host wall in QEMU;" \
			"command: $(awk -v a="${up_start:-0}" -v b="${up_end:-0}" 'BEGIN { printf "%.1f", b - a }') s;" \
			"total with preparation: $(elapsed "$t_start" "$t_end") s; exit status $rc"
	fi
	exit "$rc"
}

main "$@"
