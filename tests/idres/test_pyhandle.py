"""The unmodified EUDAT pyhandle client (v1.5) against a real ``idres serve``.

The node is set up with the CLI (secrets on stdin) on each backend, served by
gunicorn with two workers, and driven only through pyhandle's public API.
"""
from __future__ import annotations

from pathlib import Path
from typing import Iterator

import pytest
from pyhandle.clientcredentials import PIDClientCredentials
from pyhandle.client.resthandleclient import RESTHandleClient
from pyhandle.handleclient import PyHandleClient
from pyhandle.handleexceptions import (GenericHandleError, HandleAlreadyExistsException,
                                       HandleAuthenticationError, HandleNotFoundException)

from tests.idres.live_node import (ADMIN_SECRET, ENT, ENT_SECRET, ENT_USER, LiveNode, live_node,
                                   stored_text)

WRONG_SECRET = "not-the-engine-maker-secret-55e1"


@pytest.fixture
def node(database_url: str, tmp_path: Path) -> Iterator[LiveNode]:
    with live_node(database_url, tmp_path) as running:
        yield running


def writer(node: LiveNode, password: str = ENT_SECRET) -> RESTHandleClient:
    """A client logged in as ``300:0.NA/88.118.8``, built from pyhandle credentials."""
    creds = PIDClientCredentials(client="rest", handle_server_url=node.url, username=ENT_USER,
                                 password=password, HTTPS_verify=False)
    return PyHandleClient("rest").instantiate_with_credentials(creds)


def reader(node: LiveNode) -> RESTHandleClient:
    return PyHandleClient("rest").instantiate_for_read_access(handle_server_url=node.url,
                                                              HTTPS_verify=False)


def by_type(record: dict) -> dict[str, dict]:
    return {v["type"]: v for v in record["values"]}


def test_pyhandle_write_read_modify_delete(node: LiveNode) -> None:
    client = writer(node)  # the login GETs 0.NA/88.118.8 and checks the echoed handle
    handle = f"{ENT}/PH-2026-000001"

    assert client.register_handle(handle, "https://parts.example/1", checksum="md5:abc",
                                  overwrite=False, PART_TYPE="ENGINE-1.5T") == handle
    record = client.retrieve_handle_record_json(handle)
    assert record["responseCode"] == 1 and record["handle"] == handle
    values = by_type(record)
    assert values["URL"]["data"] == {"format": "string", "value": "https://parts.example/1"}
    assert values["CHECKSUM"]["data"]["value"] == "md5:abc"
    assert values["PART_TYPE"]["data"]["value"] == "ENGINE-1.5T"
    admin = values["HS_ADMIN"]
    assert admin["index"] == 100
    assert admin["data"]["value"] == {"handle": f"0.NA/{ENT}", "index": 200,
                                      "permissions": "011111110011"}
    assert all("timestamp" in v for v in record["values"])
    assert client.get_value_from_handle(handle, "URL") == "https://parts.example/1"
    assert client.retrieve_handle_record(handle)["CHECKSUM"] == "md5:abc"

    with pytest.raises(HandleAlreadyExistsException):
        client.register_handle(handle, "https://parts.example/other", overwrite=False)
    assert client.get_value_from_handle(handle, "URL") == "https://parts.example/1"

    # modify one value and add another (GET ?auth=true, then PUT ?index=..&overwrite=true)
    client.modify_handle_value(handle, ttl=3600, URL="https://parts.example/1-v2", PART_BATCH="LOT-11")
    after = client.retrieve_handle_record(handle)
    ttls = {v["type"]: v["ttl"] for v in client.retrieve_handle_record_json(handle)["values"]}
    assert ttls["PART_BATCH"] == 3600 and ttls["URL"] == 86400  # pyhandle sets ttl on new values only
    assert after["URL"] == "https://parts.example/1-v2"
    assert after["PART_BATCH"] == "LOT-11"
    assert after["CHECKSUM"] == "md5:abc" and after["PART_TYPE"] == "ENGINE-1.5T"
    indexes = sorted(v["index"] for v in client.retrieve_handle_record_json(handle)["values"])
    assert len(indexes) == len(set(indexes)) == 5

    # the node folds ASCII case and echoes the spelling it was asked for
    folded = handle.lower()
    assert reader(node).retrieve_handle_record_json(folded)["handle"] == folded
    assert reader(node).get_value_from_handle(folded, "URL") == "https://parts.example/1-v2"

    assert client.delete_handle_value(handle, "PART_BATCH") == handle
    assert client.get_value_from_handle(handle, "PART_BATCH") is None
    assert client.get_value_from_handle(handle, "URL") == "https://parts.example/1-v2"
    assert client.delete_handle_value(handle, "NO_SUCH_TYPE") is None  # nothing to delete

    assert client.delete_handle(handle) == handle
    assert client.retrieve_handle_record_json(handle) is None
    with pytest.raises(HandleNotFoundException):
        client.get_value_from_handle(handle, "URL")
    with pytest.raises(HandleNotFoundException):
        client.delete_handle(handle)
    with pytest.raises(HandleNotFoundException):
        client.modify_handle_value(handle, URL="https://parts.example/gone")
    with pytest.raises(HandleNotFoundException):
        client.delete_handle_value(handle, "URL")
    assert client.retrieve_handle_record_json(handle) is None

    # generate_and_register_handle: a client-made UUID suffix under the prefix
    minted = client.generate_and_register_handle(ENT, "https://parts.example/uuid")
    assert minted.startswith(f"{ENT}/") and len(minted) > len(ENT) + 30
    assert reader(node).get_value_from_handle(minted, "URL") == "https://parts.example/uuid"

    # secrets never reach the database or gunicorn's output
    stored = stored_text(node.database)
    log = node.log_text()
    assert "PUT /api/handles/88.118.8/PH-2026-000001?overwrite=false" in log
    for secret in (ENT_SECRET, ADMIN_SECRET):
        assert secret.encode() not in stored
        assert secret not in log


def test_pyhandle_authentication_paths(node: LiveNode) -> None:
    handle = f"{ENT}/PH-AUTH-1"

    # a username handle that does not exist: the login GET already fails
    with pytest.raises(HandleNotFoundException):
        PyHandleClient("rest").instantiate_with_username_and_password(
            node.url, "300:0.NA/88.118.77", ENT_SECRET, HTTPS_verify=False)

    # wrong password: the login GET works (it sends no credentials), the PUT is a 401
    impostor = writer(node, WRONG_SECRET)
    with pytest.raises(HandleAuthenticationError):
        impostor.register_handle(handle, "https://evil.example/", overwrite=False)
    assert reader(node).retrieve_handle_record_json(handle) is None

    # a client without credentials can read, but pyhandle refuses to write
    anonymous = reader(node)
    with pytest.raises(HandleAuthenticationError):
        anonymous.register_handle(handle, "https://anon.example/", overwrite=False)

    client = writer(node)
    client.register_handle(handle, "https://parts.example/auth", overwrite=False)
    with pytest.raises(HandleAuthenticationError):
        anonymous.delete_handle(handle)
    with pytest.raises(HandleAuthenticationError):
        impostor.modify_handle_value(handle, URL="https://evil.example/")
    with pytest.raises(HandleAuthenticationError):
        impostor.delete_handle(handle)
    assert anonymous.get_value_from_handle(handle, "URL") == "https://parts.example/auth"

    # the index in the username matters: index 301 holds no key
    other_index = PyHandleClient("rest").instantiate_with_username_and_password(
        node.url, f"301:0.NA/{ENT}", ENT_SECRET, HTTPS_verify=False)
    with pytest.raises(HandleAuthenticationError):
        other_index.delete_handle(handle)

    # a handle under a prefix this node does not hold: rc 301, not a silent success
    with pytest.raises(GenericHandleError):
        client.register_handle("99.999/PH-ELSEWHERE", "https://x.example/", overwrite=False)

    # index 0 means "any HS_SECKEY of the handle"
    any_index = PyHandleClient("rest").instantiate_with_username_and_password(
        node.url, f"0:0.NA/{ENT}", ENT_SECRET, HTTPS_verify=False)
    assert any_index.delete_handle(handle) == handle
    assert anonymous.retrieve_handle_record_json(handle) is None

    log = node.log_text()
    assert " 401 " in log  # the rejected writes reached the server
    for secret in (ENT_SECRET, WRONG_SECRET, ADMIN_SECRET):
        assert secret not in log
