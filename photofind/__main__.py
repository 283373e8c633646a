"""Entry point: ``photofind`` with a command runs the CLI; without one it opens the app."""

from __future__ import annotations

import os
import sys
from collections.abc import Sequence

#: Options of the top-level parser that take a value (so ``--model X`` is not a path to open).
_VALUE_OPTIONS = {"--data-dir", "--model", "--device", "--threads"}


def split_open_paths(argv: Sequence[str]) -> tuple[list[str], list[str]]:
    """``photofind [OPTIONS] IMAGE|FOLDER ...`` -> (paths to open, the rest for the parser).

    Only when the first positional argument is an existing file or folder and not a command
    (a file named like a command is opened as ``./index``)."""
    from photofind.cli import COMMANDS

    rest: list[str] = []
    paths: list[str] = []
    it = iter(range(len(argv)))
    for i in it:
        arg = argv[i]
        if arg == "--":
            paths.extend(argv[i + 1 :])
            break
        if arg.startswith("-"):
            rest.append(arg)
            if arg in _VALUE_OPTIONS and i + 1 < len(argv):
                rest.append(argv[i + 1])
                next(it, None)
            continue
        if not paths and arg in COMMANDS:
            return [], list(argv)
        if not os.path.exists(arg):
            return ([], list(argv)) if not paths else (paths, rest + list(argv[i:]))
        paths.append(arg)
    return paths, rest


def main(argv: Sequence[str] | None = None) -> int:
    from photofind import cli

    open_paths, argv = split_open_paths(sys.argv[1:] if argv is None else argv)
    args = cli.parse_args(argv)
    if args.command is not None:
        return cli.main(argv)
    cli.setup_logging(args.verbose)
    if args.install_desktop_entry:
        from photofind.gui.desktop_entry import install

        for path in install():
            print(f"wrote {path}")
        return cli.EXIT_OK
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
        data_dir=args.data_dir, model=args.model, device=args.device, smoke_test=args.smoke_test,
        open_paths=open_paths,
    )


if __name__ == "__main__":
    sys.exit(main())
