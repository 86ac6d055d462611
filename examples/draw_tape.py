#!/usr/bin/env python
"""Draw the tape of the README's quickstart gradient: inputs, the forward ops,
the backward ops that yota added, and the gradients, as a Graphviz picture.

    pip install ".[draw]"          # pydot; rendering also needs Graphviz's dot program
    python examples/draw_tape.py [--out tape.svg] [--print]

The extension of --out picks the format: .svg, .png, .pdf (rendered by
Graphviz), or .dot (the DOT source, which needs neither pydot nor Graphviz).
Forward (primal) ops are filled boxes, backward (cotangent) ops outlined, each
section a cluster; every arrow is one use of a variable. docs/tape.svg is this
script's picture.
"""
from __future__ import annotations

import argparse
import sys
from dataclasses import dataclass

import numpy as np
from array_api_compat import array_namespace

import _support
import yota


@dataclass
class Linear:
    W: np.ndarray
    b: np.ndarray


def loss(m, X):
    xp = array_namespace(X)          # the standard way to write backend-neutral code
    return xp.sum(m.W @ X)


def main(argv=None) -> int:
    doc = __doc__.split("\n\n")
    ap = argparse.ArgumentParser(description=doc[0], epilog="\n\n".join(doc[1:]),
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--out", default="tape.svg", help="the picture to write: .svg .png .pdf or .dot "
                                                      "(default tape.svg)")
    ap.add_argument("--print", action="store_true", help="also print the tape as text")
    args = ap.parse_args(argv)

    rng = np.random.default_rng(0)
    m = Linear(rng.random((3, 4)), rng.random(3))
    X = rng.random((4, 5))
    tape = yota.gradtape(loss, m, X)     # the tape with its derivative ops, as yota.grad would compile it
    if args.print:
        print(tape)
    try:
        yota.draw(tape, args.out)
    except ImportError as e:             # pydot or Graphviz's dot program: the message says what to install
        print(f"{e}\n(--out tape.dot writes the source, which needs neither)", file=sys.stderr)
        return _support.MISSING
    print(f"wrote {args.out}: {len(tape.ops)} ops, {len(tape.inputs)} inputs, {len(tape.outputs)} outputs")
    return 0


if __name__ == "__main__":
    sys.exit(main())
