"""``bl_jobs_total``'s ended counts: taken from the database by the API process scraped.

A job may end in a process other than the one running it: the API cancels it,
the reconciler or the API's start-up fails it, auto-recovery cancels it and then
terminates its worker, or its worker dies and the next one fails it. Counting
where the job ran missed those (a terminated worker counts nothing; recovery
exposes no metrics) and counting where the end was noticed could count twice.

So the end is put on record where it is decided: the conditional UPDATE that
moves the job to its final status (``store.jobs``: exactly one process wins it)
adds an ``uncounted_job_ends`` row in the same transaction. Before rendering a
scrape, the API process serving it takes those rows (``DELETE … RETURNING``: each
row reaches exactly one taker, however many API processes or replicas scrape)
and adds them to its own ``bl_jobs_total`` counter, next to ``queued``, which it
counts when it accepts a job. Every process's counter holds distinct jobs, so
``sum()`` over processes and instances is right, and the counter is monotonic like
any other (a database-derived count of job rows would shrink when maintenance
prunes old jobs and be added once per replica).

Left: an API process that dies between its commit and the increment loses those
few counts, as any process's in-memory counter does when it dies.
"""

from __future__ import annotations

import logging

from bizlogic.store.db import Database
from bizlogic.store.jobs import take_uncounted_job_ends
from bizlogic.telemetry.metrics import Metrics

logger = logging.getLogger("bizlogic.jobs")


def count_job_ends(db: Database, metrics: Metrics) -> dict[str, int]:
    """Add the jobs that ended since the last take to ``bl_jobs_total``; what was added.

    Never raises: with the database away the rows wait for the next scrape (the
    database check reports the outage), and the scrape shows everything else.
    """
    try:
        with db.scope() as session:
            ended = take_uncounted_job_ends(session)
    except Exception as exc:
        logger.debug("job ends not counted this scrape: %s", exc.__class__.__name__)
        return {}
    for status, count in ended.items():  # only after the commit: the rows are ours
        metrics.job_status(status, count)
    return ended
