"""Command line: ``python -m otlab.demo NAME [options]``; ``--help`` lists the demos."""

import sys

from . import available_demos, run_demo


def main(argv=None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if not argv or argv[0] in ("-h", "--help"):
        print("usage: python -m otlab.demo NAME [options]   (NAME --help for a demo's options)\n")
        print("demos:")
        for name, summary in available_demos().items():
            print(f"  {name:22s} {summary}")
        return 0
    result = run_demo(argv[0], argv[1:])
    return result if isinstance(result, int) else 0


if __name__ == "__main__":
    sys.exit(main())
