"""Fails runs whose worker process is gone, under the default run launcher.

The default launcher runs each run in a child process of the code server and cannot tell run
monitoring whether that process lives: a code server killed or redeployed mid-run left its runs
STARTED for good, holding their places in the run queue. Each run worker records its pid in
the run's events; this sensor runs in the code server, on the host of its run workers, and
fails a STARTED run whose worker process has exited (or whose pid now belongs to a process
started after it). Only runs the default launcher started are watched (it tags them with the
code server's address): a container launcher's workers live elsewhere, and run monitoring
checks them itself.
"""

import json

import dagster as dg
import psutil
from dagster._core.storage.tags import GRPC_INFO_TAG

WATCH_INTERVAL_SECONDS = 15
"""Between two looks; a run is failed on the second look that finds its worker gone, so
15-30 s after the worker died (once a code server is up to evaluate the sensor)."""

CLOCK_SLACK_SECONDS = 1.0
"""A worker's process starts before it records its pid; more than this after, it is another
process that was given the same pid."""


def worker(instance: dg.DagsterInstance, run_id: str) -> tuple[int, float] | None:
    """The pid the run's worker recorded and when (None before it has started)."""
    for entry in instance.all_logs(run_id, of_type=dg.DagsterEventType.ENGINE_EVENT):
        metadata = entry.dagster_event.engine_event_data.metadata if entry.dagster_event else {}
        if "pid" in metadata and "step_keys" not in metadata:
            return int(metadata["pid"].value), entry.timestamp
    return None


def alive(pid: int, recorded_at: float) -> bool:
    """Whether the process that recorded `pid` at `recorded_at` still runs on this host."""
    try:
        process = psutil.Process(pid)
        started = process.create_time()
        running = process.status() != psutil.STATUS_ZOMBIE
    except psutil.Error:
        return False
    return running and started <= recorded_at + CLOCK_SLACK_SECONDS


def stranded(instance: dg.DagsterInstance, jobs: set[str]) -> list[str]:
    """STARTED runs of these jobs, started by the default launcher, whose worker process is
    gone (only this code location's jobs: another's run workers may live on another host)."""
    runs = instance.get_runs(dg.RunsFilter(statuses=[dg.DagsterRunStatus.STARTED]))
    found = []
    for run in runs:
        if run.job_name not in jobs or GRPC_INFO_TAG not in run.tags:
            continue
        recorded = worker(instance, run.run_id)
        if recorded is not None and not alive(*recorded):
            found.append(run.run_id)
    return found


def fail_stranded(instance: dg.DagsterInstance, run_id: str) -> bool:
    """Report the run failed if it is still STARTED (it may have ended since the look)."""
    run = instance.get_run_by_id(run_id)
    if run is None or run.status != dg.DagsterRunStatus.STARTED:
        return False
    instance.report_run_failed(
        run,
        "The run's worker process is gone (its code server was killed, restarted or "
        "redeployed, or the process was killed). Marked failed by stranded_run_sensor so "
        "the run queue moves on; run retries may start it again.",
    )
    return True


@dg.sensor(
    minimum_interval_seconds=WATCH_INTERVAL_SECONDS,
    default_status=dg.DefaultSensorStatus.RUNNING,
)
def stranded_run_sensor(context: dg.SensorEvaluationContext) -> dg.SkipReason:
    """Fails STARTED runs whose worker process is gone, seen on two looks in a row (the
    cursor holds the first look), so a run is never failed on one odd answer."""
    previous = set(json.loads(context.cursor)) if context.cursor else set()
    jobs = set(context.repository_def.job_names) if context.repository_def else set()
    suspects = stranded(context.instance, jobs)
    failed = [
        run_id
        for run_id in suspects
        if run_id in previous and fail_stranded(context.instance, run_id)
    ]
    context.update_cursor(json.dumps(sorted(set(suspects) - set(failed))))
    if failed:
        context.log.warning(f"failed {len(failed)} run(s) whose worker is gone: {failed}")
    return dg.SkipReason(
        f"{len(failed)} stranded run(s) failed, {len(suspects) - len(failed)} under watch"
    )
