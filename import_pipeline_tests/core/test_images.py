"""An image's renditions and hashes, the profile's image columns, and safe storage keys."""

import io

import pytest
from PIL import Image

from import_pipeline.core.columns import DEFAULT_IMAGE_COLUMNS
from import_pipeline.core.images import NotAnImage, product_image
from import_pipeline.core.profile_yaml import ProfileError, load_profile_file
from import_pipeline.core.profiles import load_profile
from import_pipeline.files.layout import image_file


def encoded(image: Image.Image, kind: str) -> bytes:
    out = io.BytesIO()
    image.save(out, kind)
    return out.getvalue()


def test_renditions_keep_the_aspect_ratio_and_never_enlarge():
    wide = product_image(encoded(Image.new("RGB", (1600, 400), "red"), "PNG"))
    small = product_image(encoded(Image.new("RGB", (120, 90), "red"), "PNG"))

    sizes = {n: Image.open(io.BytesIO(j)).size for n, j in wide.jpegs.items()}
    assert sizes == {"original": (1600, 400), "medium": (800, 200), "thumbnail": (200, 50)}
    assert {Image.open(io.BytesIO(j)).size for j in small.jpegs.values()} == {(120, 90)}
    assert all(Image.open(io.BytesIO(j)).format == "JPEG" for j in wide.jpegs.values())


def test_transparency_becomes_white_not_black():
    clear = product_image(encoded(Image.new("RGBA", (50, 50), (0, 0, 0, 0)), "PNG"))

    pixel = Image.open(io.BytesIO(clear.jpegs["original"])).getpixel((25, 25))
    assert min(pixel) > 245


def test_the_same_picture_re_encoded_has_another_sha256_but_a_close_perceptual_hash():
    picture = Image.linear_gradient("L").resize((400, 300)).convert("RGB")
    png, jpeg = product_image(encoded(picture, "PNG")), product_image(encoded(picture, "JPEG"))

    assert png.sha256 != jpeg.sha256
    assert bin(int(png.phash, 16) ^ int(jpeg.phash, 16)).count("1") <= 4


@pytest.mark.parametrize(
    ("body", "problem"),
    [
        (b"<html>not an image</html>", "not an image Pillow reads"),
        (encoded(Image.effect_noise((300, 300), 60).convert("RGB"), "PNG")[:2000], "damaged"),
    ],
)
def test_bytes_that_do_not_decode_are_not_an_image(body, problem):
    with pytest.raises(NotAnImage, match=problem):
        product_image(body)


def test_a_canvas_too_large_to_decode_is_refused_before_decoding():
    bomb = encoded(Image.new("1", (10_000, 6_000)), "PNG")

    with pytest.raises(NotAnImage, match="10000x6000 pixels is over 50,000,000"):
        product_image(bomb)


def test_a_profile_names_its_image_columns_up_to_ten(tmp_path):
    path = tmp_path / "shop.yaml"
    path.write_text("files: [shop*]\nimages: [Image Src, Variant Image]\n")
    assert load_profile_file(path).images == ("Image Src", "Variant Image")

    path.write_text("files: [shop*]\n")
    assert load_profile_file(path).images == DEFAULT_IMAGE_COLUMNS
    assert DEFAULT_IMAGE_COLUMNS[:2] == ("image_url", "image_url_2")

    assert load_profile("shopify_products").image_columns == ("image", "Variant Image")

    path.write_text(
        "files: [shop*]\nimages: [Image Src]\nentities:\n  products:\n"
        "    fields: {product_id: id, name: title}\n    attributes: [Vendor]\n"
    )
    with pytest.raises(ProfileError, match="image column.s. Image Src are not kept"):
        load_profile_file(path)

    columns = ", ".join(f"c{n}" for n in range(11))
    path.write_text(f"files: [shop*]\nimages: [{columns}]\n")
    with pytest.raises(ProfileError, match="images names 1 to 10 columns"):
        load_profile_file(path)


@pytest.mark.parametrize(
    ("product_id", "segment"),
    [
        ("P-1", "P-1"),
        ("..", "%2E%2E"),
        ("a/../../etc", "a%2F%2E%2E%2F%2E%2E%2Fetc"),
        ("é 1", "%C3%A9%201"),
    ],
)
def test_a_product_id_becomes_one_safe_folder_under_the_tenant(product_id, segment):
    assert image_file("t1", product_id, "ab" * 32, "thumbnail") == (
        f"images/t1/{segment}/{'ab' * 8}_thumbnail.jpg"
    )
