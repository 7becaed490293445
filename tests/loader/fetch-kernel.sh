#!/bin/sh
# Prints the path of Debian's cloud kernel (a stock bzImage), fetching it once:
# `apt-get download` of the linux-image-*-cloud-amd64 package the meta package
# linux-image-cloud-amd64 points at, unpacked into a cache outside the clone
# (MVM_CACHE, default /var/cache/mvm-test, or ~/.cache/mvm-test if that is not
# writable). Later runs reuse it.
set -eu
cache=${MVM_CACHE:-/var/cache/mvm-test}
mkdir -p "$cache" 2>/dev/null && [ -w "$cache" ] || cache=${XDG_CACHE_HOME:-$HOME/.cache}/mvm-test
mkdir -p "$cache"
found=$(ls "$cache"/vmlinuz-*-cloud-amd64 2>/dev/null | tail -n 1 || true)
if [ -n "$found" ]; then
	echo "$found"
	exit 0
fi
pkg=$(apt-cache depends linux-image-cloud-amd64 2>/dev/null |
	awk '/Depends: linux-image-[0-9]/ { print $2; exit }')
if [ -z "$pkg" ]; then
	echo "fetch-kernel: no linux-image-cloud-amd64 in the apt lists: run apt-get update" >&2
	exit 1
fi
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
chmod 755 "$tmp" # apt's _apt user writes the download here
(cd "$tmp" && apt-get download -q "$pkg" >&2) || {
	echo "fetch-kernel: apt-get download $pkg failed" >&2
	exit 1
}
dpkg-deb --fsys-tarfile "$tmp"/*.deb | tar -x -C "$tmp" ./boot
kernel=$(ls "$tmp"/boot/vmlinuz-* | head -n 1)
cp "$kernel" "$cache/"
echo "$cache/$(basename "$kernel")"
