"""Moving a batch out of the live landing prefix (the processed-prefix mode) on a real
folder: a same-day re-delivery never lands on the first copy, markers move first, and a
copy that does not hold the batch whole is never vouched for."""

from datetime import UTC, datetime
from functools import partial
from pathlib import Path

from import_pipeline.core.landing import folder_version, processed_key
from import_pipeline.files.local import LocalStore
from import_pipeline.files.store import move_batch
from import_pipeline.load.processed import free_key

DAY = datetime(2026, 12, 6, tzinfo=UTC)


def drop(root: Path, files: dict[str, str]) -> LocalStore:
    for name, text in files.items():
        (root / "drop" / name).parent.mkdir(parents=True, exist_ok=True)
        (root / "drop" / name).write_text(text)
    return LocalStore(root)


def move(store: LocalStore):
    version = folder_version(store.list("drop/"))
    target = free_key(store, partial(processed_key, "drop/", DAY), version)
    return move_batch(store, store.uri("drop/"), version, target, resumed=False)


def test_a_folder_delivered_twice_the_same_day_keeps_both_copies_whole(tmp_path):
    store = drop(tmp_path, {"customers.csv": "v1\n", "orders.csv": "v1\n", "_SUCCESS": ""})
    first = move(store)
    drop(tmp_path, {"customers.csv": "v2\n", "_SUCCESS": ""})
    second = move(store)
    assert first and second and first.uri != second.uri
    first_copy = tmp_path / store.key_of(first.uri)
    second_copy = tmp_path / store.key_of(second.uri)
    assert (first_copy / "customers.csv").read_text() == "v1\n"
    assert (first_copy / "orders.csv").read_text() == "v1\n"
    assert sorted(p.name for p in second_copy.iterdir()) == ["_SUCCESS", "customers.csv"]
    assert second.version == folder_version(store.list(store.key_of(second.uri)))


def test_markers_move_before_the_data_so_a_listing_never_sees_a_marked_remainder(tmp_path):
    store = drop(tmp_path, {"A.csv": "a\n", "b.csv": "b\n", "_SUCCESS": "", "manifest.json": "{}"})
    order: list[str] = []
    moving = store.move

    def recorded(key: str, version: str, to_key: str) -> bool:
        order.append(key.removeprefix("drop/"))
        return moving(key, version, to_key)

    store.move = recorded
    assert move(store)
    assert set(order[:2]) == {"_SUCCESS", "manifest.json"}


def test_a_file_changed_during_the_move_stays_and_the_copy_is_not_vouched_for(tmp_path):
    store = drop(tmp_path, {"a.csv": "a\n", "b.csv": "b\n", "_SUCCESS": ""})
    version = folder_version(store.list("drop/"))
    listing = store.list

    def rewritten_after_listing(under: str = ""):
        records = listing(under)
        if under == "drop/":
            (tmp_path / "drop" / "b.csv").write_text("b, corrected and longer\n")
        return records

    store.list = rewritten_after_listing
    moved = move_batch(store, store.uri("drop/"), version, "_processed/2026-12-06/drop/", False)
    assert moved is not None and moved.version is None
    assert (tmp_path / "drop" / "b.csv").read_text() == "b, corrected and longer\n"


def test_a_resumed_move_leaves_files_that_arrived_since_it_was_cut_short(tmp_path):
    store = drop(tmp_path, {"a.csv": "a\n", "b.csv": "b\n", "_SUCCESS": ""})
    version = folder_version(store.list("drop/"))
    target = "_processed/2026-12-06/drop/"
    for name in ("_SUCCESS", "a.csv"):  # the move was cut short after these
        store.move(f"drop/{name}", store.version(f"drop/{name}") or "", target + name)
    (tmp_path / "drop" / "c.csv").write_text("c, new\n")
    moved = move_batch(store, store.uri("drop/"), version, target, resumed=True)
    assert moved is not None and moved.version is None
    assert (tmp_path / "drop" / "c.csv").exists()


def test_a_resumed_move_of_the_batch_alone_completes_and_is_vouched_for(tmp_path):
    store = drop(tmp_path, {"a.csv": "a\n", "b.csv": "b\n", "_SUCCESS": ""})
    version = folder_version(store.list("drop/"))
    target = "_processed/2026-12-06/drop/"
    store.move("drop/_SUCCESS", store.version("drop/_SUCCESS") or "", target + "_SUCCESS")
    moved = move_batch(store, store.uri("drop/"), version, target, resumed=True)
    assert moved is not None and moved.version == folder_version(store.list(target))
    assert not (tmp_path / "drop").exists()


def test_a_moved_folder_leaves_no_empty_directories_but_its_tenant_folder_stays(tmp_path):
    batch = tmp_path / "acme" / "drop-1"
    (batch / "part").mkdir(parents=True)
    (batch / "part" / "customers.csv").write_text("c\n")
    (batch / "_SUCCESS").write_text("")
    store = LocalStore(tmp_path)
    version = folder_version(store.list("acme/drop-1/"))
    target = "_processed/2026-12-06/acme/drop-1/"
    moved = move_batch(store, store.uri("acme/drop-1/"), version, target, resumed=False)
    assert moved is not None and moved.version is not None
    assert (tmp_path / "acme").is_dir() and not batch.exists()
    assert (tmp_path / target / "part" / "customers.csv").read_text() == "c\n"


def test_a_folder_that_kept_a_file_is_not_removed(tmp_path):
    store = drop(tmp_path, {"a.csv": "a\n", "_SUCCESS": ""})
    version = folder_version(store.list("drop/"))
    (tmp_path / "drop" / ".b.csv.part").write_text("a partner still writing\n")
    assert move_batch(store, store.uri("drop/"), version, "_processed/x/drop/", resumed=False)
    assert (tmp_path / "drop" / ".b.csv.part").exists()
