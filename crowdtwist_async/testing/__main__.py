"""`python -m crowdtwist_async.testing serve`: the fake on a local port.

Serves 127.0.0.1 unless told otherwise; a host other than a loopback address
is refused without `--allow-remote`, since the fake takes one well-known key
and speaks plain HTTP. Ctrl-C (or SIGTERM) stops it.
"""

from __future__ import annotations

import argparse
import signal
import sys
import time
from collections.abc import Sequence
from datetime import datetime, timezone
from types import FrameType

from .._protocol import is_literal_loopback
from ._data import SANDBOX_EMAIL
from ._fake import FakeCrowdTwist


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m crowdtwist_async.testing",
        description=(
            "An in-memory CrowdTwist: the member API: profile, points, rewards, usable "
            "coupons, activity and redemption histories, the rewards catalogue, and "
            "redemption, activity credit and coupon use/unuse, with state."
        ),
    )
    commands = parser.add_subparsers(dest="command", required=True)
    serve = commands.add_parser(
        "serve",
        help="serve the fake over HTTP",
        description="Serve the fake over HTTP until Ctrl-C. Needs the `serve` extra (uvicorn).",
    )
    serve.add_argument("--host", default="127.0.0.1", help="address to bind (default: %(default)s)")
    serve.add_argument(
        "--port", type=int, default=8000, help="0 picks a free port (default: %(default)s)"
    )
    serve.add_argument(
        "--allow-remote",
        action="store_true",
        help="allow a --host that is not a loopback address (the fake has no real security)",
    )
    serve.add_argument("--seed", type=int, default=0, help="seed of the sample data and faults")
    serve.add_argument(
        "--now",
        type=_timestamp,
        default=None,
        metavar="UNIX_SECONDS",
        help="the fake's clock (default: the current time)",
    )
    serve.add_argument("--api-key", default="sandbox-api-key", help="the key to accept")
    serve.add_argument(
        "--hmac-keys",
        type=_hmac_keys,
        default=None,
        metavar="PUBLIC:PRIVATE",
        help="take only requests signed with these keys (CTApiV2Auth), not the API key",
    )
    serve.add_argument("--latency", type=float, default=0.0, help="seconds per response")
    serve.add_argument(
        "--jitter", type=float, default=0.0, help="uniform +- seconds on the latency"
    )
    serve.add_argument(
        "--failure-rate", type=float, default=0.0, help="chance (0-1) a request fails"
    )
    serve.add_argument(
        "--failure-status",
        type=int,
        action="append",
        dest="failure_statuses",
        metavar="STATUS",
        help="status of injected failures; repeat for several (default: 503)",
    )
    serve.add_argument(
        "--retry-after", type=float, default=None, help="Retry-After seconds on injected failures"
    )
    return parser


def _timestamp(text: str) -> datetime:
    try:
        return datetime.fromtimestamp(int(text), tz=timezone.utc)
    except (ValueError, OverflowError, OSError):
        raise argparse.ArgumentTypeError(f"not a unix timestamp: {text!r}") from None


def _hmac_keys(text: str) -> tuple[str, str]:
    # Never quote *text*: it holds the private key. The fake checks the rest.
    public_key, colon, private_key = text.partition(":")
    if not colon:
        raise argparse.ArgumentTypeError("expected PUBLIC:PRIVATE")
    return public_key, private_key


def _stop(signum: int, frame: FrameType | None) -> None:
    # Both signals stop the server through the `with` block; SIGINT is set
    # too because a shell starts background jobs with it ignored.
    raise KeyboardInterrupt


def _greet(fake: FakeCrowdTwist, url: str) -> None:
    print(f"FakeCrowdTwist sandbox (seed {fake.seed}) is serving.", flush=True)
    print(f"  base URL: {url}", flush=True)
    if fake.hmac_keys is None:
        print(f"  API key:  {fake.api_key}", flush=True)
        print(
            f"  try:      {url}/v2.1/users/{SANDBOX_EMAIL}/rewards"
            f"?id_type=email&api_key={fake.api_key}",
            flush=True,
        )
    else:
        # The public key only: the private one is the caller's secret.
        print(f"  HMAC:     public key {fake.hmac_keys[0]}; sign every request", flush=True)
    print("Press Ctrl-C to stop.", flush=True)


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; return the exit status."""
    parser = _parser()
    args = parser.parse_args(argv)
    try:
        fake = FakeCrowdTwist(
            seed=args.seed,
            now=args.now or datetime.now(timezone.utc),
            api_key=args.api_key,
            hmac_keys=args.hmac_keys,
            latency=args.latency,
            jitter=args.jitter,
            failure_rate=args.failure_rate,
            failure_statuses=args.failure_statuses or (503,),
            retry_after=args.retry_after,
        )
    except (TypeError, ValueError) as exc:
        parser.error(str(exc))
    if not is_literal_loopback(args.host):
        if not args.allow_remote:
            parser.error(
                f"--host {args.host} is not a loopback address; the fake accepts a well-known "
                "key over plain HTTP. Pass --allow-remote to serve other machines anyway."
            )
        print(
            f"WARNING: serving the fake on {args.host}, reachable from other machines",
            file=sys.stderr,
        )
    signal.signal(signal.SIGINT, _stop)
    signal.signal(signal.SIGTERM, _stop)
    try:
        with fake.serve(host=args.host, port=args.port, allow_remote=args.allow_remote) as url:
            _greet(fake, url)
            while True:
                time.sleep(3600)
    except ModuleNotFoundError as exc:
        if exc.name != "uvicorn":
            raise
        print(f"error: {exc}", file=sys.stderr)
        return 1
    except OSError as exc:
        print(f"error: cannot serve on {args.host}:{args.port}: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("Stopped.", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
