"""What a purge of one tenant's rows may delete, and in which order, decided before any
SQL runs: a purge is the one job that destroys loaded data, so it refuses anything vague."""

from dataclasses import dataclass

from import_pipeline.core.entities import ENTITIES, EntitySpec


class PurgeRefused(Exception):
    """A purge request that would delete the wrong rows, or rows nobody confirmed."""

    def __init__(self, problem: str, fix: str) -> None:
        self.problem = problem
        self.fix = fix
        super().__init__(f"{type(self).__name__}: {problem}. {fix}")


@dataclass(frozen=True)
class PurgePlan:
    """A confirmed purge: the tenant, its entities children first, and an optional batch."""

    tenant: str
    entities: tuple[EntitySpec, ...]
    batch: str | None = None

    @property
    def entity_names(self) -> list[str]:
        return [spec.name for spec in self.entities]


def children(entity: str) -> list[str]:
    """Entities holding a foreign key to `entity` (orders and line items for customers: a
    line item references an order of the customer)."""
    direct = [s.name for s in ENTITIES.values() if any(p.entity == entity for p in s.parents)]
    return direct + [grandchild for child in direct for grandchild in children(child)]


def plan_purge(tenant: str, confirm: str, entities: list[str], batch: str = "") -> PurgePlan:
    """A purge of `entities` (every entity when empty) of `tenant`, or of only the rows
    `batch` wrote; refused unless `confirm` repeats the tenant's name exactly, or when an
    entity is unknown or its children would be left pointing at deleted rows."""
    if not tenant.strip():
        raise PurgeRefused("no tenant was given", "Set `tenant` in the run config.")
    if confirm != tenant:
        raise PurgeRefused(
            f"the confirmation {confirm!r} is not the tenant's name {tenant!r}",
            "Set `confirm` to the tenant's name, exactly, to delete its rows.",
        )
    wanted = entities or list(ENTITIES)
    unknown = sorted(set(wanted) - set(ENTITIES))
    if unknown:
        raise PurgeRefused(
            f"unknown entities {', '.join(unknown)}",
            f"Name entities among {', '.join(ENTITIES)}.",
        )
    left_out = sorted({c for e in wanted for c in children(e)} - set(wanted))
    if left_out:
        raise PurgeRefused(
            f"{', '.join(left_out)} would still reference the purged {', '.join(wanted)}",
            f"Add {', '.join(left_out)} to `entities`, or leave `entities` empty for all.",
        )
    ordered = tuple(spec for spec in reversed(ENTITIES.values()) if spec.name in wanted)
    return PurgePlan(tenant, ordered, batch or None)


def truncatable(plan: PurgePlan, sole_tenant: set[str]) -> list[str]:
    """Of the plan's entities whose table holds only the tenant (`sole_tenant`), those one
    TRUNCATE may empty: never for a batch purge, and only with every child table emptied
    in the same statement (Postgres refuses to truncate a referenced table alone)."""
    if plan.batch is not None:
        return []
    chosen = {name for name in plan.entity_names if name in sole_tenant}
    while dropped := {name for name in chosen if not set(children(name)) <= chosen}:
        chosen -= dropped
    return [name for name in plan.entity_names if name in chosen]
