from tests.conftest import ENT_AUTH


def test_create_and_resolve(client):
    r = client.put("/api/handles/88.118.8/ENG-1", json={"values": [{"index": 1, "type": "URL", "data": "http://x"}]},
                   headers=ENT_AUTH)
    assert r.status_code == 201, r.json
    r = client.get("/api/handles/88.118.8/ENG-1")
    assert r.json["values"][0]["data"]["value"] == "http://x"
