"""What dagster-aws costs the process that imports it: `python -m bench.import_cost`.

Each measurement is a fresh Python process (imports are cached within one): the code
location loaded as `definitions.py` does and as `dg.load_from_defs_folder` would (which
imports every installed library's components, dagster_aws among them), then, on top of
the loaded location, boto3, dagster_aws and the first S3 client.

    .venv/bin/python -m bench.import_cost [--rounds 5]
"""

import argparse
import os
import subprocess
import sys

PROBE = """
import sys, time
from pathlib import Path
import dagster as dg
import import_pipeline
started = time.perf_counter()
if sys.argv[1] == "load_from_defs_folder":
    dg.load_from_defs_folder(path_within_project=Path(import_pipeline.__file__).parent)
else:
    from import_pipeline.definitions import defs
    defs()
loaded = time.perf_counter()
import boto3
with_boto3 = time.perf_counter()
from dagster_aws.s3 import S3Resource
with_aws = time.perf_counter()
S3Resource(region_name="us-east-1").get_client()
client = time.perf_counter()
print(f"{loaded - started:.2f} {with_boto3 - loaded:.2f} {with_aws - with_boto3:.2f} "
      f"{client - with_aws:.2f}")
"""

ENV = {
    "DATABASE_URL": "postgresql://unused/unused",
    "IMPORT_LANDING_URL": "/tmp/unused-landing",
    "IMPORT_STAGING_URL": "/tmp/unused-staging",
}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=5)
    rounds = parser.parse_args().rounds
    env = os.environ | ENV
    print("load                    location  boto3  dagster_aws  first client  (seconds)")
    for _ in range(rounds):
        for loader in ("definitions.py", "load_from_defs_folder"):
            done = subprocess.run(
                [sys.executable, "-W", "ignore", "-c", PROBE, loader],
                env=env,
                capture_output=True,
                text=True,
                check=True,
            )
            location, boto3, aws, client = done.stdout.split()
            print(f"{loader:22}  {location:>8}  {boto3:>5}  {aws:>11}  {client:>12}")


if __name__ == "__main__":
    main()
