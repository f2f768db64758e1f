"""A downloaded product image -> its hashes and the JPEGs the catalogue serves.

SHA-256 says two downloads are the same bytes (the image is stored once and reused);
the perceptual hash (imagehash's pHash) says two images look alike even when re-encoded
or resized, which is what a duplicate-product report compares.
"""

from __future__ import annotations

import hashlib
import io
import warnings
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from PIL import Image

MEDIUM_PX = 800
THUMBNAIL_PX = 200
JPEG_QUALITY = 85
MAX_PIXELS = 50_000_000
"""Larger images are refused before they are decoded: a small file can claim a huge
canvas (a decompression bomb) and take a worker's memory."""

RENDITIONS = ("original", "medium", "thumbnail")


class NotAnImage(Exception):
    """The bytes do not decode as an image Pillow reads, or it is too large to decode."""


@dataclass(frozen=True)
class ProductImage:
    """One image's hashes, size and its JPEG renditions by name (`RENDITIONS`)."""

    sha256: str
    phash: str
    width: int
    height: int
    jpegs: dict[str, bytes]


def sha256(body: bytes) -> str:
    return hashlib.sha256(body).hexdigest()


def product_image(body: bytes) -> ProductImage:
    """Decode once (turned upright by its EXIF orientation, flattened onto white), hash it,
    and encode the original size and the two smaller ones as JPEG."""
    # NOTE: imagehash imports scipy (~0.5 s) and Pillow takes tens of ms; imported here,
    # not with the module, so the code location (loaded by every run process) does not pay.
    import imagehash
    from PIL import Image, ImageOps

    picture = _decoded(body)
    original = ImageOps.exif_transpose(picture)
    flat = _on_white(original)
    jpegs = {"original": _jpeg(flat)}
    for name, edge in (("medium", MEDIUM_PX), ("thumbnail", THUMBNAIL_PX)):
        smaller = flat.copy()
        smaller.thumbnail((edge, edge), Image.Resampling.LANCZOS)
        jpegs[name] = _jpeg(smaller)
    return ProductImage(
        sha256=sha256(body),
        phash=str(imagehash.phash(flat)),
        width=flat.width,
        height=flat.height,
        jpegs=jpegs,
    )


def _decoded(body: bytes) -> Image.Image:
    from PIL import Image, UnidentifiedImageError

    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            picture = Image.open(io.BytesIO(body))
            if picture.width * picture.height > MAX_PIXELS:
                raise NotAnImage(f"{picture.width}x{picture.height} pixels is over {MAX_PIXELS:,}")
            picture.load()
    except NotAnImage:
        raise
    except (UnidentifiedImageError, Image.DecompressionBombWarning) as exc:
        raise NotAnImage(f"not an image Pillow reads ({exc})") from exc
    except (OSError, ValueError, SyntaxError, Image.DecompressionBombError) as exc:
        raise NotAnImage(f"the image is damaged ({exc})") from exc
    return picture


def _on_white(picture: Image.Image) -> Image.Image:
    """RGB for JPEG: transparency becomes a white background rather than black."""
    from PIL import Image

    if picture.mode in ("RGBA", "LA") or (picture.mode == "P" and "transparency" in picture.info):
        rgba = picture.convert("RGBA")
        background = Image.new("RGB", rgba.size, "white")
        background.paste(rgba, mask=rgba.getchannel("A"))
        return background
    return picture.convert("RGB")


def _jpeg(picture: Image.Image) -> bytes:
    out = io.BytesIO()
    picture.save(out, "JPEG", quality=JPEG_QUALITY, optimize=True)
    return out.getvalue()
