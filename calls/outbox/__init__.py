"""A small durable task runner: work written as rows in the transaction that causes it,
done after commit by a background thread in each server process, retried until it
succeeds or gives up, never done twice at once.

Lives here: `items` (`OutboxItem`, the abstract row a queue's model extends, and the
`Result` of one attempt), `runner` (`OutboxQueue`, the interface a kind of work
implements, and `Runner`, which claims due rows, performs them on a thread pool and
records the results; `start_runner` / `stop_runner` / `wake` for the server process).

Users: `calls.delivery` (lead webhooks) registers its queue; an outbound-campaign
dialer is meant to register another. Why not a task library: docs/lead-delivery.md.

May import: Django (settings, the ORM) and nothing of `calls` but the leaf modules.
Imported by `calls.delivery`, the layers above it, `config` (which starts the runner)
and the `run_outbox` management command.
"""
