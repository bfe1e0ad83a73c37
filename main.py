"""Autoencoder Studio. No arguments opens the application; subcommands run headless."""
import sys


def main() -> int:
    if len(sys.argv) > 1:
        from aegui.cli import main as cli_main

        return cli_main(sys.argv[1:])
    from aegui.gui.app import run_app

    return run_app()


if __name__ == "__main__":
    sys.exit(main())
