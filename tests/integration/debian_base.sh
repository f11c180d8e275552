# Sourced by the tests that need a bare Debian 12 (test_docker.sh, test_bare_debian.sh): the
# host's mirror, and a debootstrapped bookworm minbase cached as a tarball. Nothing here runs
# when sourced.

# The host's Debian mirror, read from apt's own sources at run time.
apt_mirror() {
	local f=/etc/apt/sources.list.d/debian.sources
	if [ -r "$f" ]; then
		awk '
			/^[[:space:]]*$/ { if (uri != "" && suite) { print uri; exit } uri = ""; suite = 0; next }
			/^URIs:/ { uri = $2 }
			/^Suites:/ { for (i = 2; i <= NF; i++) if ($i == "bookworm") suite = 1 }
			END { if (uri != "" && suite) print uri }' "$f" | head -n 1
		return
	fi
	f=/etc/apt/sources.list
	[ -r "$f" ] && awk '$1 == "deb" {
		i = 2; if ($i ~ /^\[/) while ($i !~ /\]$/) i++; if ($i ~ /^\[/ || $i ~ /\]$/) i++
		if ($(i + 1) == "bookworm") { print $i; exit } }' "$f"
}

# What the official debian:bookworm-slim image sets up on top of minbase: dpkg without fsync
# (a layer is thrown away whole, never half-written), no docs, man pages or translations, and
# apt caches cleaned after each install.
slim_tweaks() {
	local r=$1
	echo 'force-unsafe-io' >"$r/etc/dpkg/dpkg.cfg.d/docker-apt-speedup"
	cat >"$r/etc/dpkg/dpkg.cfg.d/docker" <<'EOF'
path-exclude /usr/share/doc/*
path-include /usr/share/doc/*/copyright
path-exclude /usr/share/man/*
path-exclude /usr/share/info/*
path-exclude /usr/share/locale/*
path-include /usr/share/locale/locale.alias
path-exclude /usr/share/lintian/*
EOF
	cat >"$r/etc/apt/apt.conf.d/docker-clean" <<'EOF'
DPkg::Post-Invoke { "rm -f /var/cache/apt/archives/*.deb /var/cache/apt/archives/partial/*.deb /var/cache/apt/*.bin || true"; };
APT::Update::Post-Invoke { "rm -f /var/cache/apt/archives/*.deb /var/cache/apt/archives/partial/*.deb /var/cache/apt/*.bin || true"; };
Dir::Cache::pkgcache "";
Dir::Cache::srcpkgcache "";
EOF
	echo 'Acquire::Languages "none";' >"$r/etc/apt/apt.conf.d/docker-no-languages"
	echo 'APT::Install-Recommends "false";' >"$r/etc/apt/apt.conf.d/docker-no-recommends"
	rm -rf "$r/usr/share/doc"/* "$r/usr/share/man"/* "$r/usr/share/info"/* "$r/usr/share/locale"/*
}

# iw_debian_base TARBALL WORKDIR: make TARBALL (a bookworm minbase with the slim image's
# tweaks, about 2 minutes) unless it exists. One run at a time makes it; the others wait.
iw_debian_base() {
	local tar=$1 w=$2 mirror
	mkdir -p "$(dirname "$tar")"
	(
		flock -w 600 9 || { echo "debian_base: no lock on $tar.lock" >&2; exit 1; }
		[ -s "$tar" ] && exit 0
		mirror=$(apt_mirror)
		[ -n "$mirror" ] || { echo "debian_base: no bookworm mirror in apt's sources" >&2; exit 1; }
		echo "debootstrap --variant=minbase bookworm (cached afterwards in $tar)"
		debootstrap --variant=minbase bookworm "$w/rootfs" "$mirror" >"$w/debootstrap.log" 2>&1 || {
			tail -n 20 "$w/debootstrap.log" >&2
			echo "debian_base: debootstrap failed" >&2
			exit 1
		}
		rm -rf "$w/rootfs/var/cache/apt/archives"/*.deb "$w/rootfs/var/lib/apt/lists"/*
		slim_tweaks "$w/rootfs"
		tar -C "$w/rootfs" -cf "$tar.tmp.$$" .
		mv -f "$tar.tmp.$$" "$tar"
		rm -rf "$w/rootfs"
	) 9>"$tar.lock"
}
