"""The landing zone never leaves itself: links out of a tenant's folder are not listed, and
folder names that are no valid tenant (or the root's own `default`) load nothing."""

from pathlib import Path

from import_pipeline.core.landing import plan, tenant_problem, unusable_tenants
from import_pipeline.files.local import list_folder, uri_of


def listed(root: Path) -> list[str]:
    return [r.key for r in list_folder(root)]


def test_a_link_is_listed_only_when_it_stays_in_its_own_top_level_folder(tmp_path):
    root = tmp_path / "landing"
    (root / "acme" / "real").mkdir(parents=True)
    (root / "beta").mkdir()
    (root / "beta" / "customers_secret.csv").write_text("customer_id\nB1\n")
    (root / "acme" / "real" / "customers_1.csv").write_text("customer_id\nA1\n")
    (root / "top.csv").write_text("customer_id\nT1\n")
    links = {
        "acme/customers_link.csv": root / "beta" / "customers_secret.csv",
        "acme/customers_passwd.csv": Path("/etc/passwd"),
        "acme/customers_own.csv": root / "acme" / "real" / "customers_1.csv",
        "acme/beta_folder": root / "beta",
        "customers_top_link.csv": root / "acme" / "real" / "customers_1.csv",
        "customers_top_ok.csv": root / "top.csv",
        "acme/loop": root / "acme",
    }
    for key, target in links.items():
        (root / key).symlink_to(target)

    assert listed(root) == [
        "acme/customers_own.csv",
        "acme/real/customers_1.csv",
        "beta/customers_secret.csv",
        "customers_top_ok.csv",
        "top.csv",
    ]


def test_a_landing_root_that_is_itself_a_link_still_lists_its_files(tmp_path):
    (tmp_path / "real").mkdir()
    (tmp_path / "real" / "customers_1.csv").write_text("customer_id\nC1\n")
    (tmp_path / "landing").symlink_to(tmp_path / "real")
    assert listed(tmp_path / "landing") == ["customers_1.csv"]


def test_a_tenant_name_is_letters_digits_underscores_and_dashes_and_never_default():
    assert tenant_problem("acme-eu_2") is None
    for bad in ("default", "DEFAULT", "a b", "x" * 65, "-x", "ünï", "a.b"):
        assert tenant_problem(bad), bad


def test_files_of_an_unusable_tenant_folder_make_no_batch_and_are_reported(tmp_path):
    root = tmp_path / "landing"
    for key in ("customers_1.csv", "default/customers_1.csv", "a b/customers_1.csv", "acme/x.csv"):
        (root / key).parent.mkdir(parents=True, exist_ok=True)
        (root / key).write_text("customer_id\nC1\n")
    records = list_folder(root)

    batches = plan(records, True, lambda key: uri_of(root, key))

    assert [(b.tenant, b.key) for b in batches] == [
        ("acme", "acme/x.csv"),
        ("default", "customers_1.csv"),
    ]
    assert list(unusable_tenants(records, True)) == ["a b", "default"]
    assert unusable_tenants(records, False) == {}
