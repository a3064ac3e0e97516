# Sourced by bash scripts: the pins as the Dockerfiles declare them, so that
# scripts and workflows read them instead of repeating them.
#   dockerfile_arg FILE NAME   the default of the global `ARG NAME=...` in FILE,
#                              with ${OTHER} references to earlier ARGs of FILE
#                              expanded; fails (status 1, message) when FILE
#                              declares no default for NAME.
# shellcheck shell=bash

dockerfile_arg() { # file name
	local file=$1 name=$2 value ref inner
	value=$(sed -n "s/^ARG $name=//p" "$file" | head -n 1)
	if [ -z "$value" ]; then
		echo "dockerfile_arg: $file declares no default for ARG $name" >&2
		return 1
	fi
	while [[ "$value" =~ \$\{([A-Za-z_][A-Za-z0-9_]*)\} ]]; do
		ref=${BASH_REMATCH[1]}
		inner=$(dockerfile_arg "$file" "$ref") || return 1
		value=${value//"\${$ref}"/$inner}
	done
	printf '%s\n' "$value"
}
