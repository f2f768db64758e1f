"""Fetching a URL from a partner's file: only http(s), never a private address unless
allow-listed (redirects included), within a deadline, with the body capped and typed."""

import pytest

from import_pipeline.files.web import FetchError, FetchPolicy, FetchRefused, fetch
from import_pipeline_tests.image_server import RED_PNG, image_server

LOCAL = FetchPolicy(timeout_seconds=1.0, max_bytes=1 << 20, allowed_networks=("127.0.0.1/32",))


@pytest.fixture(scope="module")
def server():
    with image_server() as url:
        yield url


def test_an_image_from_an_allow_listed_server_is_fetched_whole(server):
    fetched = fetch(f"{server}/red.png", LOCAL)

    assert (fetched.content_type, fetched.body) == ("image/png", RED_PNG)


def test_a_relative_redirect_is_followed(server):
    fetched = fetch(f"{server}/to-red.jpg", LOCAL)

    assert fetched.url == f"{server}/red.png" and fetched.body == RED_PNG


def test_loopback_is_refused_unless_allow_listed(server):
    with pytest.raises(FetchRefused, match=r"resolves to 127\.0\.0\.1, a private or reserved"):
        fetch(f"{server}/red.png", FetchPolicy(timeout_seconds=1.0))


@pytest.mark.parametrize(
    ("path", "refusal"),
    [
        ("/to-private.jpg", r"10\.0\.0\.1, a private or reserved address"),
        ("/to-metadata.jpg", r"169\.254\.169\.254, a private or reserved address"),
        ("/to-ftp.jpg", r"only http and https URLs are fetched, not ftp://"),
    ],
)
def test_a_redirect_is_checked_like_the_first_url(server, path, refusal):
    with pytest.raises(FetchRefused, match=refusal):
        fetch(f"{server}{path}", LOCAL)


@pytest.mark.parametrize("url", ["file:///etc/passwd", "ftp://example.com/a.jpg", "http:///x"])
def test_urls_that_are_not_http_to_a_host_are_refused(url):
    with pytest.raises(FetchRefused):
        fetch(url, LOCAL)


def test_a_missing_image_is_an_error_with_its_status(server):
    with pytest.raises(FetchError, match="HTTP 404"):
        fetch(f"{server}/missing.jpg", LOCAL)


def test_a_slow_answer_times_out_at_the_deadline(server):
    with pytest.raises(FetchError, match=r"no answer within 1 s"):
        fetch(f"{server}/slow.jpg", LOCAL)


@pytest.mark.parametrize("path", ["/endless.jpg", "/declared-huge.jpg"])
def test_a_body_over_the_cap_is_refused(server, path):
    with pytest.raises(FetchRefused, match=r"over 1,048,576"):
        fetch(f"{server}{path}", LOCAL)


def test_an_answer_that_is_not_an_image_is_refused(server):
    with pytest.raises(FetchRefused, match="the answer is text/html, not an image"):
        fetch(f"{server}/page.html", LOCAL)


def test_https_is_spoken_to_the_checked_address_and_a_failed_handshake_is_an_error(server):
    with pytest.raises(FetchError, match="the request failed .SSLError"):
        fetch(f"{server.replace('http://', 'https://')}/red.png", LOCAL)
