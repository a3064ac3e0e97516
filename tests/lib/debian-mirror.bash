# shellcheck shell=bash
# debian_mirror: print the Debian package mirror to use, with no trailing
# slash. DEBIAN_MIRROR wins when set (http:// or https://). Otherwise it is
# taken from this machine's own apt sources, in apt's order:
# /etc/apt/sources.list, then /etc/apt/sources.list.d/*.list (one-line
# "deb [options] URI SUITE COMPONENTS...") and *.sources (deb822 stanzas with
# "Types: deb", "URIs:", "Suites:", and no "Enabled: no"). The first source of
# type deb whose suite is this machine's Debian codename (VERSION_CODENAME in
# /etc/os-release) names the mirror; -security, -updates and third-party
# suites never match. Nothing is written into the repository.
# Returns 1 with a message on stderr when neither gives a mirror, 2 when
# DEBIAN_MIRROR is not a URL. Sourced by the scripts under tests/lib/.
# DEBIAN_MIRROR_ROOT (default /) reads the apt and os-release files below
# another root, for the tests.

debian_mirror() {
	local root=${DEBIAN_MIRROR_ROOT:-/} codename="" id="" file uri
	root=${root%/}
	if [ -n "${DEBIAN_MIRROR:-}" ]; then
		case "$DEBIAN_MIRROR" in
		http://?* | https://?*) echo "${DEBIAN_MIRROR%/}" ;;
		*)
			echo "DEBIAN_MIRROR='$DEBIAN_MIRROR' is not an http:// or https:// URL" >&2
			return 2
			;;
		esac
		return 0
	fi
	if [ -r "$root/etc/os-release" ]; then
		id=$(sed -n 's/^ID=//p' "$root/etc/os-release" | tr -d '"')
		codename=$(sed -n 's/^VERSION_CODENAME=//p' "$root/etc/os-release" | tr -d '"')
	fi
	if [ "$id" != debian ] || [ -z "$codename" ]; then
		echo "no Debian mirror: this machine is not Debian with a release codename (ID='$id' VERSION_CODENAME='$codename' in $root/etc/os-release); set DEBIAN_MIRROR=URL" >&2
		return 1
	fi
	for file in "$root/etc/apt/sources.list" "$root"/etc/apt/sources.list.d/*.list "$root"/etc/apt/sources.list.d/*.sources; do
		[ -r "$file" ] || continue
		case "$file" in
		*.sources) uri=$(deb822_mirror "$codename" <"$file") ;;
		*) uri=$(one_line_mirror "$codename" <"$file") ;;
		esac
		if [ -n "$uri" ]; then
			echo "${uri%/}"
			return 0
		fi
	done
	echo "no Debian mirror: no 'deb' source for suite '$codename' in $root/etc/apt/sources.list or $root/etc/apt/sources.list.d/*.{list,sources}; set DEBIAN_MIRROR=URL" >&2
	return 1
}

# One-line format: "deb [opt=value ...] URI SUITE COMPONENT...".
one_line_mirror() { # codename < file
	awk -v suite="$1" '
		{ sub(/#.*/, "") }
		$1 != "deb" { next }
		{
			i = 2
			if ($i ~ /^\[/) { while (i <= NF && $i !~ /\]$/) i++; i++ }
			if ($(i + 1) == suite && $i ~ /^https?:\/\//) { print $i; exit }
		}'
}

# deb822 format: stanzas separated by blank lines; field names are
# case-insensitive; continuation lines start with white space.
deb822_mirror() { # codename < file
	awk -v suite="$1" '
		function flush(   n, i, t, s, deb, match_suite) {
			if (enabled != "no") {
				n = split(types, t, /[ \t]+/)
				for (i = 1; i <= n; i++) if (t[i] == "deb") deb = 1
				n = split(suites, s, /[ \t]+/)
				for (i = 1; i <= n; i++) if (s[i] == suite) match_suite = 1
				if (deb && match_suite) {
					n = split(uris, s, /[ \t]+/)
					for (i = 1; i <= n; i++) if (s[i] ~ /^https?:\/\//) { print s[i]; found = 1; exit }
				}
			}
			types = ""; suites = ""; uris = ""; enabled = ""; field = ""
		}
		/^#/ { next }
		/^[ \t]*$/ { flush(); next }
		/^[ \t]/ { if (field == "uris") uris = uris " " $0; else if (field == "suites") suites = suites " " $0; else if (field == "types") types = types " " $0; next }
		{
			field = tolower(substr($0, 1, index($0, ":") - 1))
			value = substr($0, index($0, ":") + 1)
			if (field == "types") types = value
			else if (field == "uris") uris = value
			else if (field == "suites") suites = value
			else if (field == "enabled") { gsub(/[ \t]/, "", value); enabled = tolower(value) }
		}
		END { if (!found) flush() }'
}
