"""dlt's credentials for a DSN: dlt wants a host and a password, our servers may have neither."""

import pytest

pytest.importorskip("dlt")

from bench.baselines import dlt_credentials  # noqa: E402


def test_a_unix_socket_goes_in_as_libpq_host_parameter_with_a_placeholder_password() -> None:
    credentials = dlt_credentials("user=postgres dbname=bench host='/tmp/pg sock'")

    assert (credentials.host, credentials.query) == ("localhost", {"host": "/tmp/pg sock"})
    assert credentials.password == "unused"
    assert credentials.to_native_representation().endswith("&host=%2Ftmp%2Fpg+sock")


def test_a_tcp_server_keeps_its_password_port_and_other_libpq_parameters() -> None:
    credentials = dlt_credentials(
        "user=loader password=s3cret dbname=bench host=db.example port=6543 sslmode=require"
    )

    assert credentials.to_native_representation() == (
        "postgresql://loader:s3cret@db.example:6543/bench?connect_timeout=15&sslmode=require"
    )
