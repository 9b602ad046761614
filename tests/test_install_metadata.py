"""The package's metadata installs where researchers work (issue 20): Python 3.11–3.13, beside the torch
and Lightning they already have, and beside this machine's exact wheels. Offline: it reads pyproject.toml,
the Makefile and the resolutions that tests/install_resolution.py recorded with pip against the index."""

import re
import tomllib

import pytest
from packaging.requirements import Requirement
from packaging.specifiers import SpecifierSet
from packaging.utils import canonicalize_name

from tests.install_resolution import RECORDS, ROOT, SCENARIOS, parse_record

pytestmark = pytest.mark.unit

PROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]


def requirements(python: str) -> list[Requirement]:
    """The package's own and its dev extra's requirements that apply on ``python`` (markers evaluated)."""
    listed = [*PROJECT["dependencies"], *PROJECT["optional-dependencies"]["dev"]]
    env = {"python_version": ".".join(python.split(".")[:2]), "python_full_version": python, "extra": "dev"}
    found = [Requirement(line) for line in listed]
    return [r for r in found if r.marker is None or r.marker.evaluate(env)]


@pytest.mark.parametrize("python", ["3.11.7", "3.12.1", "3.13.0"])
def test_requires_python_admits_311_to_313(python):
    assert python in SpecifierSet(PROJECT["requires-python"])


@pytest.mark.parametrize("scenario", sorted(SCENARIOS))
def test_a_recorded_resolution_still_satisfies_the_metadata(scenario):
    """pip resolved the package on this Python (and stack) once; every requirement the metadata states
    today still admits the version it picked, so the metadata still resolves there."""
    python, versions = parse_record(RECORDS / f"{scenario}.txt")
    assert python in SpecifierSet(PROJECT["requires-python"]), f"{scenario}: Python {python} is excluded"
    for requirement in requirements(python):
        name = canonicalize_name(requirement.name)
        assert name in versions, f"{scenario}: {name} was not resolved; rerun `make resolutions`"
        assert requirement.specifier.contains(versions[name], prereleases=True), (
            f"{scenario}: {name} {versions[name]} is outside {requirement.specifier}"
        )


def test_the_cuda_image_keeps_its_own_torch_and_lightning():
    """On the image's stack the resolution keeps what the image ships instead of replacing it."""
    _, versions = parse_record(RECORDS / "python3.12-torch2.11-lightning2.6.txt")
    assert versions["torch"].startswith("2.11.")
    assert versions["pytorch-lightning"] == "2.6.0"


def test_the_makefiles_exact_wheels_satisfy_the_ranges():
    """`make` installs this machine's wheels first; the ranges must admit them, or `pip install -e .`
    would replace them with a download."""
    pinned = dict(re.findall(r"\b(torch|torchvision)==([\w.]+)", (ROOT / "Makefile").read_text()))
    assert set(pinned) == {"torch", "torchvision"}
    for requirement in requirements("3.11.7"):
        if requirement.name in pinned:
            assert requirement.specifier.contains(pinned[requirement.name]), (requirement, pinned)
