"""Runnable examples of crowdtwist_async in the places it usually lives.

- `webapp.py`: a Starlette app streaming a member's rewards as JSON.
- `batch_export.py`: every reward of many members to one NDJSON file, resumable.
- `event_consumer.py`: a queue consumer fetching usable coupons, with graceful shutdown;
  on a Redis Stream, it also handles CrowdTwist's Live Push events.
- `live_push.py`: CrowdTwist's Live Push into a Redis Stream for the event consumer
  (`receive`, or `--sandbox` for the whole home in one process).

Each is a script (try `--sandbox`: no account, no network) and an importable
module whose pieces take a `Session`, so tests can hand them a fake one.
"""
