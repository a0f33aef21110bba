"""Print pip constraints that pin every dependency of pyproject.toml to its floor.

``make test-floors`` installs the package with these constraints into .venv-floors and
runs the fast tests, so the minimum versions in pyproject.toml are the tested ones.

Run:  python .ci/floor_constraints.py [--extras dev,openslide] > floors.txt
"""

from __future__ import annotations

import argparse
import re
import tomllib
from pathlib import Path

PYPROJECT = Path(__file__).resolve().parents[1] / "pyproject.toml"
#: Installed before the constraints, as the Makefile's FLOOR_TORCH_SPEC chooses (its build,
#: CPU or CUDA, comes from another index), so not pinned again here.
INSTALLED_FIRST = {"torch"}
REQUIREMENT = re.compile(r"^\s*([A-Za-z0-9_.-]+)(\[[^\]]*\])?\s*>=\s*([0-9][0-9A-Za-z.]*)\s*$")


def floors(extras: tuple[str, ...] = ("dev",)) -> dict[str, str]:
    """{distribution name (lower case): floor version} of the dependencies and ``extras``."""
    project = tomllib.loads(PYPROJECT.read_text(encoding="utf-8"))["project"]
    requirements = list(project["dependencies"])
    for extra in extras:
        requirements += project["optional-dependencies"][extra]
    found = {}
    for requirement in requirements:
        match = REQUIREMENT.match(requirement)
        if match is None:
            raise ValueError(f"{PYPROJECT}: {requirement!r} is not 'name>=version'; every "
                             "dependency needs a floor")
        found[match.group(1).lower()] = match.group(3)
    return found


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--extras", default="dev", help="comma-separated extras to include")
    args = parser.parse_args()
    extras = tuple(e for e in args.extras.split(",") if e)
    for name, version in sorted(floors(extras).items()):
        if name not in INSTALLED_FIRST:
            print(f"{name}=={version}")


if __name__ == "__main__":
    main()
