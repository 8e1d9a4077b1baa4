"""One devinterp 2.0.1 LLC estimate as a whole process, for the whole-process comparison of
`bench_devinterp.py --whole-process`: the same DLN, data and w* as ``rlct estimate dln`` with the
same arguments (``rlct.cases.dln.DLNCase(...).build(seed, float32)``), estimated with devinterp's
``devinterp.slt.llc.llc`` (see `_devinterp_glue.run_devinterp_llc`). Prints one JSON object.

    python benchmarks/_devinterp_process.py --widths 10,10,10 --rank 2 --n 10000 --batch-size 100 \\
        --chains 8 --burnin 1000 --steps 5000 --step-size 1e-4 --localization 1 [--threads T]
"""

from __future__ import annotations

import argparse
import json
import math
import os
import sys
from pathlib import Path

os.environ.setdefault("TQDM_DISABLE", "1")
sys.path.insert(0, str(Path(__file__).resolve().parent))


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--widths", required=True)
    parser.add_argument("--rank", type=int, required=True)
    parser.add_argument("--n", type=int, required=True)
    parser.add_argument("--batch-size", type=int, required=True)
    parser.add_argument("--chains", type=int, required=True)
    parser.add_argument("--burnin", type=int, required=True)
    parser.add_argument("--steps", type=int, required=True)
    parser.add_argument("--step-size", type=float, required=True)
    parser.add_argument("--localization", type=float, required=True)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--threads", type=int, default=None)
    args = parser.parse_args()

    import _devinterp_glue as glue
    import torch

    from rlct.cases.dln import DLNCase

    if args.threads is not None:
        torch.set_num_threads(args.threads)
    widths = [int(w) for w in args.widths.split(",")]
    problem = DLNCase(widths=widths, rank=args.rank, n=args.n).build(seed=args.seed, dtype=torch.float32)
    x, y = problem.target.data
    run = glue.run_devinterp_llc(
        problem.extra["torch_module"](), x, y, encoding="index", lr=args.step_size,
        nbeta=args.n / math.log(args.n), localization=args.localization, chains=args.chains,
        steps=args.steps, burnin=args.burnin, batch_size=args.batch_size, seed=args.seed,
    )
    print(json.dumps({"llc_mean": run.llc_mean, "llc_stderr": run.llc_stderr, "wall_time": run.wall_time}))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
