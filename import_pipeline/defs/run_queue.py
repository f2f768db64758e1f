"""The run tag the run queue caps per tenant (dagster.yaml, `tag_concurrency_limits`)."""

from import_pipeline.core.landing import DEFAULT_TENANT

TAG_TENANT_QUEUE = "import/tenant_queue"


def queue_tags(tenant: str) -> dict[str, str]:
    """The per-tenant queue tag, for a tenant named by the landing path only: with tenant
    `default` tagged too, the per-tenant cap would cap every run when tenants are off."""
    return {} if tenant == DEFAULT_TENANT else {TAG_TENANT_QUEUE: tenant}
