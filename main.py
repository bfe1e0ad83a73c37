"""Autoencoder Studio. No arguments opens the application; subcommands run headless."""
import os
import signal
import sys


def _no_display() -> str:
    """Why no window can open here ('' when one can): on Linux, Qt aborts the process without a display."""
    if not sys.platform.startswith("linux") or os.environ.get("QT_QPA_PLATFORM"):
        return ""
    if os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY"):
        return ""
    return ("no display was found (neither DISPLAY nor WAYLAND_DISPLAY is set), so the window cannot open; "
            "train headless with 'python main.py train --help', or run the window under xvfb-run")


def main() -> int:
    try:
        if len(sys.argv) > 1:
            from aegui.cli import main as cli_main

            code = cli_main(sys.argv[1:])
        else:
            problem = _no_display()
            if problem:
                print(f"error: {problem}", file=sys.stderr)
                return 2
            from aegui.gui.app import run_app

            code = run_app()
    except KeyboardInterrupt:  # during the imports, before the command's own handling
        print("error: interrupted", file=sys.stderr)
        code = 130
    # Nothing is left to do: a late Ctrl-C must not turn the exit into a shutdown traceback.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    return code


if __name__ == "__main__":
    sys.exit(main())
