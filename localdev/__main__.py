"""`python -m localdev run|test`: what `make run` and `make test` call (see localdev/launcher.py)."""

import argparse
import sys

from localdev import launcher


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m localdev", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)
    run = commands.add_parser("run", help="gunicorn + one RQ worker, with embedded servers when needed")
    run.add_argument("--port", type=int, default=8000)
    run.add_argument("--web-workers", type=int, default=2)
    run.add_argument("--queues", default="default transcode", help="space-separated RQ queues")
    test = commands.add_parser("test", help="pytest, with throw-away embedded servers when needed")
    test.add_argument("pytest_args", nargs=argparse.REMAINDER, help="passed to pytest (after --)")
    args = parser.parse_args(argv)
    if args.command == "run":
        return launcher.run(port=args.port, web_workers=args.web_workers, queues=args.queues.split())
    pytest_args = args.pytest_args[1:] if args.pytest_args[:1] == ["--"] else args.pytest_args
    return launcher.test(pytest_args)


if __name__ == "__main__":
    sys.exit(main())
