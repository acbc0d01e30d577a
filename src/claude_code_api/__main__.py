"""``python -m claude_code_api`` → the command line."""

from claude_code_api.cli import main

if __name__ == "__main__":
    raise SystemExit(main())
