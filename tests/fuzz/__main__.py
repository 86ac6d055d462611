"""A fuzzing campaign: ``python -m tests.fuzz --n 5000 --backend numpy --seed 0``.

Generates ``--n`` programs (program i has seed ``seed * 1_000_000 + i``), checks each on
the backend(s), prints a tally by outcome and by failure signature, and shrinks the first
``--shrink`` failures of each signature to a minimal runnable repro. ``--jsonl`` writes one
line per program that did not pass (seed, backend, status, signature, messages).
``--seeds 17,42`` checks just those program seeds. ``--shard i/k`` runs every k-th seed
(for running campaigns in several processes).
"""
from __future__ import annotations

import argparse
import collections
import json
import sys
import time

from .check import BACKENDS, Reference, check
from .programs import generate
from .shrink import shrink, target_of


def main(argv=None):
    ap = argparse.ArgumentParser(prog="python -m tests.fuzz")
    ap.add_argument("--n", type=int, default=200)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--backend", default="numpy", help="numpy, array_api_strict, dask or all")
    ap.add_argument("--seeds", default="", help="comma-separated program seeds (overrides --n/--seed)")
    ap.add_argument("--shard", default="0/1")
    ap.add_argument("--shrink", type=int, default=1, help="failures to shrink per signature (0: none)")
    ap.add_argument("--shrink-errors", action="store_true", help="also shrink crashes (unclear errors)")
    ap.add_argument("--jsonl", default="")
    ap.add_argument("--quiet", action="store_true")
    args = ap.parse_args(argv)

    backends = BACKENDS if args.backend == "all" else tuple(args.backend.split(","))
    if args.seeds:
        seeds = [int(s) for s in args.seeds.split(",")]
    else:
        i, k = (int(x) for x in args.shard.split("/"))
        seeds = [args.seed * 1_000_000 + j for j in range(args.n) if j % k == i]
    out = open(args.jsonl, "a") if args.jsonl else None
    tally = {b: collections.Counter() for b in backends}
    sigs = collections.Counter()
    examples: dict = collections.defaultdict(list)
    errors = collections.Counter()
    t0 = time.time()
    for n, s in enumerate(seeds):
        prog = generate(s)
        try:
            ref = Reference(prog)
        except Exception as e:  # noqa: BLE001
            print(f"seed {s}: the reference failed: {e!r}", file=sys.stderr)
            continue
        for b in backends:
            r = check(prog, b, ref)
            tally[b][r.status] += 1
            if r.status == "ok":
                continue
            rec = {"seed": s, "backend": b, "status": r.status, "error": r.error,
                   "signature": [list(x) for x in r.signature] if r.status == "fail" else list(r.signature),
                   "failures": [[f.kind, f.call, f.where, f.message[:2000]] for f in r.failures]}
            if out:
                out.write(json.dumps(rec) + "\n")
                out.flush()
            if r.status == "fail":
                key = (b, target_of(r))
                sigs[key] += 1
                if len(examples[key]) < args.shrink:
                    examples[key].append((prog, r))
            elif r.status in ("crash", "yota_error"):
                ek = (b, r.status, r.error.splitlines()[0][:120])
                errors[ek] += 1
                if args.shrink_errors and errors[ek] == 1:
                    examples[(b, target_of(r))].append((prog, r))
        if not args.quiet and (n + 1) % 100 == 0:
            print(f"[{n + 1}/{len(seeds)} programs, {time.time() - t0:.0f}s] "
                  + "; ".join(f"{b}: {dict(t)}" for b, t in tally.items()), file=sys.stderr, flush=True)

    print(f"\n{len(seeds)} programs in {time.time() - t0:.0f}s")
    for b, t in tally.items():
        print(f"  {b}: " + ", ".join(f"{k} {v}" for k, v in t.most_common()))
    print("\nfailure signatures (backend, most telling failure):")
    for (b, sig), c in sigs.most_common():
        print(f"  {c:5d}  {b:17s} {sig}")
    print("\nerrors on the first call:")
    for (b, st, msg), c in errors.most_common(40):
        print(f"  {c:5d}  {b:17s} {st:10s} {msg}")
    for (b, target), items in examples.items():
        for prog, r in items:
            print("\n" + "=" * 78)
            print(f"seed {prog.seed} on {b}: {target}")
            for f in r.failures[:4]:
                print(f"  {f.kind} ({f.call}) {f.where}: {f.message[:400]}")
            if r.error:
                print("  " + r.error[:600])
            small = shrink(prog, b, target)
            print("--- shrunk repro (" + ("still fails" if small is not prog else "not shrunk") + "):")
            print(small.repro(b))
    if out:
        out.close()


if __name__ == "__main__":
    main()
