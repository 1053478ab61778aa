"""Configuration from the environment with overrides."""
from __future__ import annotations

import pytest

from idres.config import load_config


def test_defaults() -> None:
    cfg = load_config(environ={})
    assert (cfg.database, cfg.node_prefix, cfg.node_role) == ("./idres.db", "88.118", "secondary")
    assert not cfg.is_postgres


def test_environment_then_overrides() -> None:
    env = {"IDRES_DATABASE": "postgresql://db/x", "IDRES_NODE_PREFIX": "88.200",
           "IDRES_BASE_URL": "https://n.example/", "IDRES_NODE_ROLE": "top-level"}
    cfg = load_config({"node_prefix": "88.300"}, environ=env)
    assert cfg.is_postgres and cfg.node_prefix == "88.300" and cfg.node_role == "top-level"
    assert cfg.base_url == "https://n.example"


@pytest.mark.parametrize("env, message", [
    ({"IDRES_NODE_ROLE": "tertiary"}, "IDRES_NODE_ROLE"),
    ({"IDRES_NODE_PREFIX": "88/118"}, "Invalid prefix"),
    ({"IDRES_BASE_URL": "ftp://x"}, "IDRES_BASE_URL"),
])
def test_bad_settings_are_refused(env: dict, message: str) -> None:
    with pytest.raises(Exception) as info:
        load_config(environ=env)
    assert message in str(info.value)


def test_unknown_override_is_refused() -> None:
    with pytest.raises(ValueError, match="Unknown setting"):
        load_config({"colour": "blue"}, environ={})


def test_numeric_settings_are_parsed_from_the_environment():
    config = load_config(environ={"IDRES_HDL_PORT": "3641", "IDRES_UPSTREAM_TIMEOUT": "0.5"})
    assert (config.hdl_port, config.upstream_timeout) == (3641, 0.5)


@pytest.mark.parametrize("var,value,message", [
    ("IDRES_HDL_PORT", "x", "IDRES_HDL_PORT must be a number"),
    ("IDRES_HDL_PORT", "70000", "IDRES_HDL_PORT must be 0"),
    ("IDRES_UPSTREAM_TIMEOUT", "0", "IDRES_UPSTREAM_TIMEOUT must be more than 0"),
    ("IDRES_UPSTREAM_URL", "ftp://x", "IDRES_UPSTREAM_URL must be an http"),
])
def test_bad_federation_settings_are_refused(var, value, message):
    with pytest.raises(ValueError, match=message):
        load_config(environ={var: value})


def test_the_upstream_secret_is_never_in_the_repr():
    config = load_config(environ={"IDRES_UPSTREAM_SECRET": "s3cr3t-upstream"})
    assert config.upstream_secret == "s3cr3t-upstream" and "s3cr3t-upstream" not in repr(config)


def test_the_pool_size_comes_from_the_environment_and_is_bounded():
    assert load_config(environ={}).pool_size == 8  # one connection per gthread worker thread
    assert load_config(environ={"IDRES_POOL_SIZE": "3"}).pool_size == 3
    with pytest.raises(ValueError, match="IDRES_POOL_SIZE must be from 1 to 100"):
        load_config(environ={"IDRES_POOL_SIZE": "0"})
