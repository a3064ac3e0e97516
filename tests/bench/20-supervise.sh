#!/bin/bash
# Supervise mode figures: what staying PID 1 costs over exec'ing the program.
# Both runs go through the same probe with every repair step off; the only
# difference is fork + signal set-up + wait (supervise) versus one execve.
set -eu
top=$(cd "$(dirname "$0")/../.." && pwd)
cd "$top"
bin=${K3S_INIT:-build/k3s-init}
[ -x "$bin" ] || make --no-print-directory build >/dev/null
command -v hyperfine >/dev/null || {
	echo "20-supervise: hyperfine is not installed" >&2
	exit 1
}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
printf 'int main(void){return 0;}\n' | gcc -static -O2 -x c -o "$work/true" -

while IFS= read -r step; do
	export "K3S_INIT_${step^^}=off"
done < <(sed -n 's/^STEP(\([a-z0-9_]*\))/\1/p' init/steps.def)
export K3S_INIT_LOG=quiet

hyperfine -N --style none --warmup 20 --runs 300 --export-json "$work/h.json" \
	-n exec "$bin $work/true" -n supervise "$bin supervise -- $work/true" >/dev/null 2>&1
median() { jq -r --arg n "$1" '.results[] | select(.command == $n) | .median * 1000' "$work/h.json"; }
exec_ms=$(median exec)
sup_ms=$(median supervise)
printf 'supervise start-to-exit, trivial child (median): %.2f ms (exec path: %.2f ms)\n' "$sup_ms" "$exec_ms"
awk -v s="$sup_ms" -v e="$exec_ms" \
	'BEGIN { printf "supervise overhead over exec (median difference): %.2f ms (target <= 1 ms)\n", s - e }'
