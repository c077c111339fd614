def test_liveness_is_cheap_and_shaped_like_the_seed(client):
    # No django_db mark: any database query here would fail the test.
    response = client.get("/health")
    assert response.status_code == 200
    body = response.json()
    assert body["status"] == "healthy"
    assert isinstance(body["uptime_seconds"], int) and body["version"] == "0.1.0"
