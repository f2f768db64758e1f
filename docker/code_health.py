"""The code location's health check: healthy only when the code server answers and its
definitions loaded. `dagster api grpc-health-check` alone passes while a code server whose
code failed to import serves that error.

Usage: python code_health.py [PORT]   (exit 0 healthy, 1 not)
"""

import sys

from dagster._api.list_repositories import sync_list_repositories_grpc
from dagster._grpc.client import DagsterGrpcClient


def main(port: int) -> int:
    try:
        sync_list_repositories_grpc(DagsterGrpcClient(host="localhost", port=port))
    except Exception as exc:  # unreachable, or the definitions did not load
        sys.stderr.write(f"the code location is not healthy: {exc}\n")
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main(int(sys.argv[1]) if len(sys.argv) > 1 else 4000))
