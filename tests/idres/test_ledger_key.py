"""The ledger signing key: file mode, refusal to fork a log with another key."""
from __future__ import annotations

import os
import stat
from dataclasses import replace

import pytest

from idres.ledger_key import LedgerKeyError, load_signer
from idres.node import init_node


def test_init_creates_a_private_key_file(db, config) -> None:
    mode = stat.S_IMODE(os.stat(config.key_file).st_mode)
    assert mode == 0o600
    assert load_signer(config).name == config.origin


def test_a_key_readable_by_others_is_refused(db, config) -> None:
    os.chmod(config.key_file, 0o644)
    with pytest.raises(LedgerKeyError, match="readable by others"):
        load_signer(config)


def test_init_with_another_key_is_refused(db, config, tmp_path) -> None:
    other = replace(config, ledger_key_file=str(tmp_path / "other.key"))
    with pytest.raises(ValueError, match="signed by another key"):
        init_node(db, other, None)
    init_node(db, config, None)  # the original key is still accepted
