#!/usr/bin/env bash
# The GPU check for issue 5 (CuPy backend: fused kernels, CUDA graphs), run
# once on a GPU machine (H100/H200; Python 3.12 with cupy-cuda13x, numpy,
# torch, jax preinstalled; no network):
#
#     bash benchmarks/gpu_check.sh        # from the repository root, with .whl/ beside it
#
# .whl/ holds the pure-Python wheels the machine lacks (array-api-compat,
# array-api-strict, dask + partd/locket/toolz/cloudpickle/fsspec/pyyaml/click/
# packaging, pytest + pluggy/iniconfig/pygments, tqdm); fetch them on a
# machine with network access with:
#
#     mkdir -p .whl && python3 -m pip download --no-deps --only-binary=:all: --python-version 3.12 \
#       --implementation cp --platform manylinux_2_28_x86_64 --platform manylinux_2_17_x86_64 \
#       --platform manylinux2014_x86_64 -d .whl array-api-compat==1.16.0 array-api-strict==2.6.1 \
#       dask==2026.8.0 partd==1.4.2 locket==1.0.0 toolz==1.2.0 cloudpickle==3.1.3 fsspec==2026.9.0 \
#       pyyaml==6.0.3 click==8.4.0 packaging==26.2 pytest==9.0.3 pluggy==1.6.0 iniconfig==2.3.0 \
#       pygments tqdm==4.70.1
#
# Steps (each under its own `timeout`, about 8 minutes at most in all):
#   1. install the wheels into /tmp/site (PYTHONPATH), print GPU / Python / CUDA / CuPy versions
#   2. correctness, in parallel processes: tests/test_cupy_backend.py + tests/test_fusion_plan.py,
#      and the CuPy column of the gradient matrix (`-k cupy`) of every other test file in 3 shards
#      -> $OUT/pytest.log (pytest is stopped with SIGINT at its deadline, so a partial summary still prints)
#   3. the benchmark, alone on the GPU: python3 benchmarks/gpu.py --markdown -> $OUT/gpu_bench.md
#   4. the example: python3 examples/gpu_mlp.py --steps 50 (and --graphs) -> $OUT/gpu_mlp.log
# Everything printed also goes to $OUT/gpu_check.log.

set -u -o pipefail
export PYTHONUNBUFFERED=1
cd "$(dirname "$0")/.."
OUT="${OUT:-$PWD/gpu_out}"
mkdir -p "$OUT"
exec > >(tee "$OUT/gpu_check.log") 2>&1
T0=$SECONDS
step() { echo; echo "=== [$((SECONDS - T0)) s] $*"; }

step "install wheels"
SITE=/tmp/site
if compgen -G ".whl/*.whl" > /dev/null; then
    timeout 60 python3 -m pip install -q --no-index --no-deps --no-compile --target "$SITE" .whl/*.whl 2>&1 \
        | grep -v -i -e "warning" -e "root user" | tail -5
else
    echo "no .whl/ folder: using what is installed"
fi
export PYTHONPATH="$SITE:$PWD"
export CUPY_CACHE_DIR="${CUPY_CACHE_DIR:-/tmp/cupy_kernel_cache}"
export XLA_PYTHON_CLIENT_PREALLOCATE=false

step "machine"
timeout 30 nvidia-smi --query-gpu=name,driver_version,memory.total,clocks.max.sm --format=csv,noheader
timeout 60 python3 - <<'EOF'
import importlib, platform
print("python", platform.python_version())
try:
    import cupy
    rt, drv = cupy.cuda.runtime.runtimeGetVersion(), cupy.cuda.runtime.driverGetVersion()
    print(f"cupy {cupy.__version__}, CUDA runtime {rt // 1000}.{rt % 1000 // 10}, "
          f"driver supports CUDA {drv // 1000}.{drv % 1000 // 10}, devices {cupy.cuda.runtime.getDeviceCount()}")
except Exception as e:
    print("cupy: UNAVAILABLE", type(e).__name__, e)
for name in ("numpy", "torch", "jax", "array_api_compat", "array_api_strict", "dask", "pytest", "yota"):
    try:
        m = importlib.import_module(name)
        extra = ""
        if name == "jax":
            extra = f" (backend {m.default_backend()})"
        if name == "torch":
            extra = f" (cuda {m.version.cuda}, available {m.cuda.is_available()})"
        print(f"{name} {getattr(m, '__version__', '?')}{extra}")
    except Exception as e:
        print(f"{name}: unavailable ({type(e).__name__}: {e})")
EOF

step "tests (parallel): CuPy backend file + the CuPy column of the gradient matrix"
PYTEST=(python3 -m pytest -p no:cacheprovider -rfE -o addopts= -q)
# My files first in their own process; the matrix in 3 shards balanced by file size.
timeout -s INT -k 10 130 "${PYTEST[@]}" tests/test_cupy_backend.py tests/test_fusion_plan.py \
    > "$OUT/pytest_cupy_backend.log" 2>&1 &
pids=($!)
mapfile -t SHARDS < <(python3 - <<'EOF'
import glob, os
files = [f for f in glob.glob("tests/test_*.py")
         if not any(s in f for s in ("test_cupy_backend", "test_fusion_plan", "dask"))]
shards = [[], [], []]
size = [0, 0, 0]
for f in sorted(files, key=os.path.getsize, reverse=True):
    i = size.index(min(size))
    shards[i].append(f)
    size[i] += os.path.getsize(f)
for s in shards:
    print(" ".join(s))
EOF
)
i=0
for shard in "${SHARDS[@]}"; do
    [ -z "$shard" ] && continue
    # shellcheck disable=SC2086
    timeout -s INT -k 10 130 "${PYTEST[@]}" -k cupy --maxfail=30 $shard > "$OUT/pytest_matrix_$i.log" 2>&1 &
    pids+=($!)
    i=$((i + 1))
done
for p in "${pids[@]}"; do wait "$p"; done
{
    echo "##### tests/test_cupy_backend.py tests/test_fusion_plan.py"
    cat "$OUT/pytest_cupy_backend.log"
    for f in "$OUT"/pytest_matrix_*.log; do
        echo
        echo "##### $(basename "$f") (-k cupy)"
        cat "$f"
    done
} > "$OUT/pytest.log"
echo "-- summaries (full output in pytest.log):"
grep -h -E "passed|failed|error|skipped|no tests ran|KeyboardInterrupt|Timeout" "$OUT"/pytest_cupy_backend.log \
    "$OUT"/pytest_matrix_*.log | grep -v "^tests/" | tail -n 12
grep -h -E "^(FAILED|ERROR)" "$OUT"/pytest_cupy_backend.log "$OUT"/pytest_matrix_*.log | head -n 40

step "benchmark (alone on the GPU)"
timeout -k 10 170 python3 benchmarks/gpu.py --markdown > "$OUT/gpu_bench.md" 2> "$OUT/gpu_bench.err"
echo "exit status $? (124: timed out; the per-row progress below still has the timings)"
cat "$OUT/gpu_bench.md"
echo "-- progress / errors:"
tail -n 40 "$OUT/gpu_bench.err"

step "example: examples/gpu_mlp.py --steps 50 (fused; then with CUDA graphs)"
run_example() {  # the progress bar is reduced to its last state
    local limit=$1; shift
    timeout -k 10 "$limit" python3 examples/gpu_mlp.py "$@" > "$OUT/gpu_mlp_run.txt" 2>&1
    local rc=$?
    tr '\r' '\n' < "$OUT/gpu_mlp_run.txt" | grep -v "^training:"
    tr '\r' '\n' < "$OUT/gpu_mlp_run.txt" | grep "^training:" | tail -n 1
    echo "exit status $rc"
}
{
    echo "\$ python3 examples/gpu_mlp.py --steps 50"
    run_example 35 --steps 50
} | tee "$OUT/gpu_mlp.log"

step "done"
# at most 8 files come back from the machine: keep the merged logs
rm -f "$OUT"/pytest_cupy_backend.log "$OUT"/pytest_matrix_*.log "$OUT"/gpu_mlp_run.txt
