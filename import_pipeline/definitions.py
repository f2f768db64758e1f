"""The code location: everything under `defs/` (assets, sensors, resources, jobs)."""

from pathlib import Path

import dagster as dg


@dg.definitions
def defs() -> dg.Definitions:
    """The defs folder only: `load_from_defs_folder` would also import every installed
    library's components (dagster_aws, then boto3) in each process that loads the code
    location, run workers included, whatever the landing zone is; an S3 store imports
    dagster-aws itself, when it first needs a client."""
    tree = dg.ComponentTree.for_project(path_within_project=Path(__file__).parent)
    return dg.Definitions.merge(
        tree.build_defs(tree.defs_module_path), dg.Definitions(component_tree=tree)
    )
