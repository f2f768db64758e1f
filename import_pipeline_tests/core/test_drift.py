"""Schema drift is judged against the profile alone: columns added, missing, renamed-looking
(by name or by the values' shape), fields whose values stopped casting."""

from pathlib import Path

import polars as pl
import pytest

from import_pipeline.core.drift import (
    ColumnDrift,
    Drift,
    DriftAction,
    DriftPolicy,
    TypeDrift,
    column_drift,
    expected,
    type_drift,
)
from import_pipeline.core.entities import PRODUCTS
from import_pipeline.core.profile_nodes import ProfileError
from import_pipeline.core.profiles import profile_from_file

FILE = pl.DataFrame(
    {
        "_row": [1, 2],
        "Customer_ID": ["C1", "C2"],
        "e_mail": ["a@example.com", "b@example.com"],
        "first_name": ["Ada", "Bo"],
        "contact": ["+44 1", "+44 2"],
        "signed_up": ["2024-01-02", "2024-02-03"],
        "loyalty_tier": ["gold", "silver"],
    }
)


def test_a_canonical_file_drifts_against_its_entity_by_name_and_by_shape():
    wanted = expected(None, "customers_2024.csv")
    drift = column_drift("customers_2024.csv", FILE, wanted, {}, set())
    assert drift == ColumnDrift(
        file="customers_2024.csv",
        entities=("customers",),
        added=("contact", "loyalty_tier"),
        missing_required=(),
        missing_optional=(),  # a canonical file may leave optional fields out
        renamed=(("email", "e_mail"), ("created_at", "signed_up")),
    )


def test_a_canonical_file_with_its_version_and_some_optional_fields_has_not_drifted():
    sample = pl.DataFrame(
        {"_row": [1], "customer_id": ["C1"], "email": ["a@x.io"], "updated_at": ["2024-01-02"]}
    )
    wanted = expected(None, "customers_2024.csv")
    assert not column_drift("customers_2024.csv", sample, wanted, {}, set()).drifted


def test_columns_that_may_vary_are_no_drift():
    wanted = expected(None, "customers_2024.csv")
    vary = {"LOYALTY_TIER", "last_name", "phone", "country", "contact"}
    drift = column_drift("customers_2024.csv", FILE, wanted, {}, vary)
    assert drift.added == () and drift.missing_optional == ()
    assert drift.renamed == (("email", "e_mail"), ("created_at", "signed_up"))


def test_a_field_whose_values_mostly_stopped_casting_has_changed_type():
    changed = type_drift(PRODUCTS, {"price:decimal": 8, "name:required": 1}, reached=10)
    assert changed == [TypeDrift("products", "price", 0.8)]
    assert type_drift(PRODUCTS, {"price:decimal": 5}, reached=10) == []


def test_only_entities_whose_policy_is_fail_fail():
    drift = Drift(
        (ColumnDrift("orders.csv", ("orders",), added=("note",)),),
        (TypeDrift("products", "price", 0.9),),
    )
    policies = {"orders": DriftPolicy(DriftAction.FAIL), "products": DriftPolicy()}
    assert drift.failing(policies) == ["orders"]


def test_a_profile_says_per_entity_whether_drift_fails_and_which_columns_vary(tmp_path: Path):
    path = tmp_path / "partner.yaml"
    path.write_text(
        'files: ["customers_partner*"]\n'
        "drift:\n  customers: {on_drift: fail, may_vary: [loyalty_tier]}\n"
    )
    assert profile_from_file(path).drift == {
        "customers": DriftPolicy(DriftAction.FAIL, ("loyalty_tier",))
    }
    path.write_text('files: ["x*"]\ndrift:\n  customers: {on_drift: stop}\n')
    with pytest.raises(ProfileError, match="on_drift is warn or fail"):
        profile_from_file(path)
