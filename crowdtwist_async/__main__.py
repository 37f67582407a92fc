"""`python -m crowdtwist_async`: the `crowdtwist-async` command."""

from ._cli import run

if __name__ == "__main__":
    run()
