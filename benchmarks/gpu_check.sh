#!/usr/bin/env bash
# The prepared GPU check: on a machine with one CUDA GPU where PyTorch, numpy, scipy, sympy,
# pandas, matplotlib, pytest and hypothesis are installed and nothing can be downloaded.
# Installs nothing: it runs from this checkout through a throw-away import tree
# (rlct -> rlct/, rlct.cases -> cases/, rlct.validation -> validation/, as the package installs).
#
#   bash benchmarks/gpu_check.sh [OUT_DIR]        (default: $OUT, else ./gpu-check)
#
# Within about 8 minutes it
#   1. runs the tests marked `cuda` (pytest -m cuda; they skip where CUDA is absent),
#   2. runs `rlct validate --quick --device cuda` (serial executor: one process keeps the GPU busy),
#   3. times DLN estimates at 1e4, 1e6 and 1e7 parameters on CUDA beside the CPU
#      (benchmarks/gpu_timings.py),
# and writes every figure into OUT_DIR/gpu_check.md (with gpu_timings.json, the quick report and
# the logs beside it). Each step has its own time limit; a step that fails or runs out of time is
# reported as such in gpu_check.md, and the script goes on to the next.
set -uo pipefail
cd "$(dirname "$0")/.."
ROOT=$(pwd)
OUT_DIR=${1:-${OUT:-$ROOT/gpu-check}}
mkdir -p "$OUT_DIR"
OUT_DIR=$(cd "$OUT_DIR" && pwd)
SITE=$(mktemp -d)
trap 'rm -rf "$SITE"' EXIT
mkdir -p "$SITE/rlct"
for entry in "$ROOT"/rlct/*; do ln -s "$entry" "$SITE/rlct/$(basename "$entry")"; done
ln -s "$ROOT/cases" "$SITE/rlct/cases"
ln -s "$ROOT/validation" "$SITE/rlct/validation"
export PYTHONPATH="$SITE${PYTHONPATH:+:$PYTHONPATH}"
export PYTHONDONTWRITEBYTECODE=1
REPORT="$OUT_DIR/gpu_check.md"
START=$(date +%s)

step() {  # step NAME LIMIT_SECONDS COMMAND...: run, log, record status and seconds
    local name=$1 limit=$2; shift 2
    local t0 rc
    t0=$(date +%s)
    timeout --signal=KILL "$limit" "$@" >"$OUT_DIR/$name.log" 2>&1
    rc=$?
    echo "| $name | $rc$([ $rc -eq 137 ] && echo ' (time limit)') | $(( $(date +%s) - t0 )) s |" >>"$OUT_DIR/steps.md"
    return 0
}

: >"$OUT_DIR/steps.md"
python - >"$OUT_DIR/environment.md" <<'EOF'
import os, platform, torch
print(f"- python {platform.python_version()}, torch {torch.__version__}, {os.cpu_count()} CPU cores")
if torch.cuda.is_available():
    p = torch.cuda.get_device_properties(0)
    print(f"- CUDA {torch.version.cuda}: {p.name}, {p.total_memory / 2**30:.0f} GiB")
else:
    print("- no CUDA device: the cuda tests skip and the timings are CPU only")
EOF

# Every step runs from the import tree: `python -m` puts the working directory first on sys.path,
# and the checkout's rlct/ alone (without cases/ and validation/ mapped into it) is not the package.
cd "$SITE"
step cuda_tests 150 python -m pytest -q -m cuda -p no:cacheprovider -c "$ROOT/pyproject.toml" \
    --rootdir "$ROOT" -o addopts="" --strict-markers -rs "$ROOT/tests"
step validate_quick_cuda 200 python -m rlct validate --quick --device cuda --no-progress \
    --out "$OUT_DIR/validation-quick-cuda"
step dln_timings 240 python "$ROOT/benchmarks/gpu_timings.py" --out "$OUT_DIR/gpu_timings.json" --budget 200
cd "$ROOT"

python - "$OUT_DIR" "$START" >"$REPORT" <<'EOF'
import json, sys, time
from pathlib import Path

out, start = Path(sys.argv[1]), int(sys.argv[2])
print("# GPU check (benchmarks/gpu_check.sh)\n")
print((out / "environment.md").read_text())
print("| step | exit code | seconds |\n| --- | --- | --- |")
print((out / "steps.md").read_text())
tests = (out / "cuda_tests.log").read_text().strip().splitlines()
print("## Tests marked cuda\n\n```\n" + "\n".join(tests[-15:]) + "\n```\n")
validate = (out / "validate_quick_cuda.log").read_text().strip().splitlines()
print("## rlct validate --quick --device cuda\n\n```\n" + "\n".join(validate[-8:]) + "\n```\n")
print("## DLN estimate timings (float32, 4 chains, chain-steps/s of the sampling loop)\n")
path = out / "gpu_timings.json"
if path.exists():
    data = json.loads(path.read_text())
    print("| d | sampler | device | steps timed | chain-steps/s | s/step | build s |")
    print("| --- | --- | --- | --- | --- | --- | --- |")
    for r in data["rows"]:
        print(f"| {r['dim']:,} | {r['sampler']} | {r['device']} | {r['steps']} | "
              f"{r['chain_steps_per_second']:.3g} | {r['seconds_per_step']:.3g} | {r['build_seconds']:.1f} |")
    if data["cuda_over_cpu"]:
        print("\nCUDA / CPU: " + ", ".join(
            f"{x['scale']} {x['sampler']} {x['cuda_over_cpu']:.1f}x" for x in data["cuda_over_cpu"]))
    for line in data["not_run"]:
        print(f"\nNot run: {line}")
else:
    print("gpu_timings.json was not written (see dln_timings.log).")
print(f"\nTotal: {time.time() - start:.0f} s.")
EOF
cat "$REPORT"
