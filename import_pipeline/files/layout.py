"""The staging area's layout: where a batch's staged rows and rejects files live.

Every key is relative to the staging root and starts with the batch's partition key, so a
re-run of a batch replaces its own files and never touches another batch's. Product
images live beside the batches, under `images/`.
"""

from urllib.parse import quote

REJECTS_FILE = "rejects.csv"
"""The rows validation refused, with the rule each broke."""


def staged_folder(partition_key: str, entity: str) -> str:
    """An entity's staged rows: Parquet files in key order."""
    return f"{partition_key}/{entity}/"


def staged_part(partition_key: str, entity: str, index: int) -> str:
    """One Parquet file of the staged folder; the zero-padded index keeps key order."""
    return f"{staged_folder(partition_key, entity)}{index:06}.parquet"


DUPLICATES_FILE = "duplicates.csv"
"""Every version of the keys whose rows disagreed within the batch, kept and dropped."""


def rejects_file(partition_key: str) -> str:
    return f"{partition_key}/{REJECTS_FILE}"


def duplicates_file(partition_key: str) -> str:
    return f"{partition_key}/{DUPLICATES_FILE}"


def db_rejects_file(partition_key: str, entity: str) -> str:
    """Rows of `entity` the database refused, found only while loading (after the
    batch's rejects file was written)."""
    return f"{partition_key}/rejects_{entity}_db.csv"


def changes_folder(partition_key: str, entity: str) -> str:
    """The keys of `entity` the batch inserted or updated (one Parquet column, key order):
    what downstream consumers of the entity read."""
    return f"{partition_key}/changes/{entity}/"


def changes_part(partition_key: str, entity: str) -> str:
    return f"{changes_folder(partition_key, entity)}000000.parquet"


def search_documents_file(partition_key: str) -> str:
    """The search documents of the products the batch changed, one JSON object a line."""
    return f"{partition_key}/search/products.ndjson"


def image_file(tenant: str, product_id: str, sha256: str, rendition: str) -> str:
    """A product image's rendition, outside any batch's folder (an image outlives the
    batch that brought it): `images/<tenant>/<product_id>/<sha256 prefix>_<rendition>.jpg`.
    The product ID is a partner's text, so it becomes one safe segment (`/`, `.`, `..`
    and the like percent-encoded)."""
    segment = quote(product_id, safe="-_").replace(".", "%2E").replace("~", "%7E")
    return f"images/{tenant}/{segment}/{sha256[:16]}_{rendition}.jpg"


def possible_duplicates_file(partition_key: str) -> str:
    """Products of the batch that look like other products of the tenant (never merged)."""
    return f"{partition_key}/possible_duplicates.csv"
