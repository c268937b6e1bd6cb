"""Fixtures for the offline Terraform checks: the parsed module and the provider schema."""

from __future__ import annotations

import pytest

from scripts.provider_schema import Schema, load_schema
from tests.terraform.tfmodel import Module, load_module


@pytest.fixture(scope="session")
def module() -> Module:
    return load_module()


@pytest.fixture(scope="session")
def schema() -> Schema:
    # Downloads the cdktf provider wheel into .cache/ on first use (about 5 s), then cached.
    return load_schema()
