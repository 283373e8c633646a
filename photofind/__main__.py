"""Entry point: ``photofind`` with a command runs the CLI; without one it opens the app."""

from __future__ import annotations

import sys
from collections.abc import Sequence


def main(argv: Sequence[str] | None = None) -> int:
    from photofind import cli

    args = cli.parse_args(argv)
    if args.command is not None:
        return cli.main(argv)
    cli.setup_logging(args.verbose)
    from photofind import qt_libs

    problem = qt_libs.check()
    if problem is not None:  # before Qt aborts with its generic platform plugin message
        sys.stderr.write(problem + "\n")
        return cli.EXIT_FAILED
    try:
        from photofind.gui.app import run_app
    except ImportError as exc:  # Qt's system libraries are missing (libEGL, xcb...)
        sys.stderr.write(f"photofind: the desktop app is not available ({exc}); see photofind --help\n")
        return cli.EXIT_FAILED
    return run_app(
        data_dir=args.data_dir, model=args.model, device=args.device, smoke_test=args.smoke_test
    )


if __name__ == "__main__":
    sys.exit(main())
