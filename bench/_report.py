"""Helpers the library-against-library benchmarks share: relative
differences, table cells and comma-separated arguments."""

from __future__ import annotations


def rel_diff(a, b) -> float | None:
    """||a - b|| / ||b||; None when b is all zero (nothing to compare)."""
    ref = float(b.double().norm())
    return float((a.double() - b.double()).norm()) / ref if ref > 0 else None


def fmt(x, spec: str) -> str:
    """x formatted with spec, or a dash of the same width for None."""
    width = "".join(c for c in spec.split(".")[0] if c.isdigit())
    return format("-", f">{width}") if x is None else format(x, spec)


def parse_list(text: str, cast, name: str) -> list:
    """The comma-separated values of option --name, each through cast."""
    try:
        return [cast(x) for x in text.split(",") if x.strip()]
    except ValueError:
        raise SystemExit(f"--{name}: cannot parse {text!r}") from None


def parse_args_quick(parser, quick: dict, argv=None):
    """Adds ``--quick`` to parser and parses argv (None: sys.argv). With
    ``--quick`` the options in quick take those values unless the command
    line sets them: a smoke-sized run. Without it the defaults stand."""
    settings = ", ".join(f"{key.replace('_', '-')} {value}" for key, value in quick.items())
    parser.add_argument("--quick", action="store_true", help=f"smoke-sized run ({settings})")
    args = parser.parse_args(argv)
    if args.quick:
        parser.set_defaults(**quick)
        args = parser.parse_args(argv)
    return args
