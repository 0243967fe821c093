#!/usr/bin/env bash
# Run the GPU tests and the GPU benchmarks on the lent GPU machine, in steps
# that each fit in one device call (at most 10 minutes a call).
#
# Usage, from the repository root on the GPU machine (with the POT/GeomLoss
# wheels carried in .whl/, see DESIGN notes and ../shared/tools/gpu-prep):
#
#   bash benchmarks/gpu_session.sh STEP [STEP ...]
#
# Steps:
#   tests     pytest -m gpu (CUDA = CPU checks, the Triton kernel, the CUDA-graph trainer)
#   trainer   python -m benchmarks.trainer --device cuda          -> trainer_gpu.md/.jsonl
#   sinkhorn  python -m benchmarks.sinkhorn --device cuda         -> sinkhorn_gpu.md/.png/.jsonl
#             (both resumable: carry the .jsonl back from $OUT into benchmarks/reports/)
#   critics   python -m benchmarks.critic_accuracy --device cuda  -> critic_accuracy.md/.png;
#             stops starting cases after CRITICS_BUDGET seconds (default 480); call it again
#             to continue: finished cases are kept in critic_accuracy.jsonl (carry it back
#             from $OUT into benchmarks/reports/).
#   wgan      python -m benchmarks.wgan --device cuda, 20000 iterations, seeds 0 1 2, runs in
#             parallel, stops starting runs after WGAN_BUDGET seconds (default 420);
#             call it again to continue: finished runs are kept in wgan_runs.jsonl,
#             which must be carried back (copy it from $OUT into benchmarks/reports/).
#   w1bench   python -m benchmarks.critics_w1_benchmark --device cuda --paper --fresh (the paper's
#             critic settings: 2 x max(2D, 128) ReLU, 60000 gp/lp steps of batch 1024 drawn fresh
#             from the pair's samplers at every step; the exact LP on 2**16 points),
#             stops starting runs after W1_BUDGET seconds (default 480); call it again to
#             continue: finished runs are kept in critics_w1_benchmark.jsonl (carry it back
#             from $OUT into benchmarks/reports/).
#   distributed  python -m benchmarks.distributed --device cuda, NCCL over every visible GPU
#             (world size 1 on a one-GPU machine: the sharded path's overhead alone)
#             -> reports/gpu/distributed.md/.png/.jsonl
#
# Everything the steps write under benchmarks/reports/, and the console log,
# is packed into $OUT/reports.tgz (one file, so the return limits never bite).
set -uo pipefail
cd "$(dirname "$0")/.."
OUT=${OUT:-/tmp/otlab-gpu-out}
mkdir -p "$OUT"
if ! python3 -c "import ot" 2>/dev/null && ls .whl/*.whl >/dev/null 2>&1; then
    python3 -m pip install -q --no-index --no-deps --no-compile --target /tmp/site .whl/*.whl
fi
export PYTHONPATH=$PWD:/tmp/site${PYTHONPATH:+:$PYTHONPATH}
export PYTHONUNBUFFERED=1 XLA_PYTHON_CLIENT_PREALLOCATE=false POT_BACKEND_DISABLE_JAX=1
export MPLBACKEND=Agg
exec > >(tee "$OUT/console.txt") 2>&1
nvidia-smi -L || { echo "no GPU visible"; exit 1; }
status=0
for step in "$@"; do
    echo "=== $step: $(date +%T)"
    start=$SECONDS
    case $step in
        tests) python3 -m pytest -m gpu -q -rs -p no:cacheprovider \
                   2>&1 | tee benchmarks/reports/gpu_tests.txt ;;
        trainer) python3 -m benchmarks.trainer --device cuda ;;
        sinkhorn) python3 -m benchmarks.sinkhorn --device cuda ;;
        critics) python3 -m benchmarks.critic_accuracy --device cuda --seeds 5 \
                  --time-budget "${CRITICS_BUDGET:-480}" ;;
        wgan) python3 -m benchmarks.wgan --device cuda --iters 20000 --seeds 0 1 2 \
                  --jobs "${WGAN_JOBS:-8}" --time-budget "${WGAN_BUDGET:-420}" ;;
        w1bench) python3 -m benchmarks.critics_w1_benchmark --device cuda --paper --fresh \
                  --seeds 0 1 2 --time-budget "${W1_BUDGET:-480}" ;;
        distributed) python3 -m benchmarks.distributed --device cuda \
                  --nproc "$(nvidia-smi -L | wc -l)" --out benchmarks/reports/gpu ;;
        *) echo "unknown step $step"; status=2; continue ;;
    esac
    rc=$?  # pipefail: a failing pytest fails its tee pipeline
    [ "$rc" -eq 0 ] || status=$rc
    echo "=== $step: exit $rc after $((SECONDS - start)) s"
done
tar czf "$OUT/reports.tgz" benchmarks/reports
exit "$status"
