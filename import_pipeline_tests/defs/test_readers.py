"""Readers are never blocked by a load: the writer is a real batch load (sensor, run,
assets, the loader's chunks over two connections), the reader waits at most its
`lock_timeout` and also watches pg_locks for a table lock held by the loader."""

from pathlib import Path

from bench.generate import ENTITY_ORDER, DropSpec, generate
from bench.reader import Reader
from import_pipeline.db.connect import connected
from import_pipeline.db.migrate import migrate
from import_pipeline.defs.in_process import run, tick


def test_a_reader_with_a_lock_timeout_is_never_blocked_by_a_real_batch_load(
    defs, instance, landing: Path, database_url: str, tmp_path: Path
):
    with connected(database_url) as conn:
        migrate(conn)  # the tables exist before the reader starts, as in production
    reader = Reader(database_url)
    reader.start()
    first, second = DropSpec(3000, tag="first"), DropSpec(3000, changed=True, tag="second")
    for spec in (first, second):
        drop = generate(tmp_path / spec.tag, spec)
        folder = landing / spec.tag
        folder.mkdir()
        for entity in ENTITY_ORDER:
            (folder / drop.files[entity].name).hardlink_to(drop.files[entity])
        (folder / "_SUCCESS").touch()
        (request,) = tick(instance, landing, database_url).run_requests
        config = {"resources": {"settings": {"config": {"chunk_rows": 5000}}}}
        assert run(defs, instance, request, config).success
    reading = reader.stop()
    assert reading.queries > 100, "the reader must have read throughout the loads"
    assert reading.timeouts == []
    assert reading.locks == set()
