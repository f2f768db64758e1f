"""stranded_run_sensor: a STARTED run whose worker process is gone is failed on the second look;
live workers and container launchers' runs are left alone. Workers are real processes."""

import json
import logging
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator

import dagster as dg
import pytest
from dagster._core.events import DagsterEvent, EngineEventData
from dagster._core.storage.tags import GRPC_INFO_TAG

from import_pipeline.defs.run_watch import stranded_run_sensor

CODE_LOCATION = dg.Definitions(
    jobs=[dg.define_asset_job("import_batch")],
    sensors=[stranded_run_sensor],
)
"""The sensor's own code location, reduced to job names (the real one needs a database)."""

DEFAULT_LAUNCHER_TAGS = {GRPC_INFO_TAG: json.dumps({"host": "localhost", "port": 4000})}


@pytest.fixture
def process() -> Iterator[subprocess.Popen]:
    """A process standing in for a run worker: it lives until the test kills it."""
    child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(120)"])
    yield child
    child.kill()
    child.wait()


def started_run(
    instance: dg.DagsterInstance,
    pid: int,
    tags: dict[str, str],
    recorded_ago: float = 0,
    job_name: str = "import_batch",
) -> str:
    """A STARTED run whose worker recorded `pid` `recorded_ago` seconds ago, as a run worker
    does when it starts."""
    run = instance.add_run(
        dg.DagsterRun(
            job_name=job_name,
            run_id=str(uuid.uuid4()),
            status=dg.DagsterRunStatus.STARTED,
            tags=tags,
        )
    )
    event = DagsterEvent(
        event_type_value=dg.DagsterEventType.ENGINE_EVENT.value,
        job_name=run.job_name,
        message=f"Started process for run (pid: {pid}).",
        event_specific_data=EngineEventData.in_process(pid),
    )
    instance.store_event(
        dg.EventLogEntry(
            error_info=None,
            level=logging.DEBUG,
            user_message=event.message or "",
            run_id=run.run_id,
            timestamp=time.time() - recorded_ago,
            dagster_event=event,
        )
    )
    return run.run_id


def look(instance: dg.DagsterInstance, cursor: str | None) -> str | None:
    """One evaluation of the sensor in the code location; its new cursor."""
    with dg.build_sensor_context(
        instance=instance, cursor=cursor, definitions=CODE_LOCATION
    ) as context:
        stranded_run_sensor(context)
        return context.cursor


def status(instance: dg.DagsterInstance, run_id: str) -> dg.DagsterRunStatus:
    run = instance.get_run_by_id(run_id)
    assert run is not None
    return run.status


def test_a_run_whose_worker_died_fails_on_the_second_look(instance, process):
    run_id = started_run(instance, process.pid, DEFAULT_LAUNCHER_TAGS)
    process.kill()
    process.wait()
    cursor = look(instance, None)
    assert status(instance, run_id) == dg.DagsterRunStatus.STARTED
    look(instance, cursor)
    assert status(instance, run_id) == dg.DagsterRunStatus.FAILURE


def test_a_run_whose_worker_lives_stays_started(instance, process):
    run_id = started_run(instance, process.pid, DEFAULT_LAUNCHER_TAGS)
    look(instance, look(instance, None))
    assert status(instance, run_id) == dg.DagsterRunStatus.STARTED


def test_a_pid_given_to_a_later_process_does_not_keep_a_dead_run_started(instance, process):
    """The worker recorded the pid an hour before the process that now holds it started."""
    run_id = started_run(instance, process.pid, DEFAULT_LAUNCHER_TAGS, recorded_ago=3600)
    look(instance, look(instance, None))
    assert status(instance, run_id) == dg.DagsterRunStatus.FAILURE


def test_a_container_launchers_run_is_left_to_run_monitoring(instance, process):
    run_id = started_run(instance, process.pid, {})
    process.kill()
    process.wait()
    look(instance, look(instance, None))
    assert status(instance, run_id) == dg.DagsterRunStatus.STARTED


def test_a_run_of_another_code_locations_job_is_left_alone(instance, process):
    """Its workers may live on another host, where this pid means nothing."""
    run_id = started_run(instance, process.pid, DEFAULT_LAUNCHER_TAGS, job_name="their_job")
    process.kill()
    process.wait()
    look(instance, look(instance, None))
    assert status(instance, run_id) == dg.DagsterRunStatus.STARTED
