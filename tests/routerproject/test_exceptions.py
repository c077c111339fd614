import pytest

pytestmark = [pytest.mark.django_db, pytest.mark.urls("tests.routerproject.error_views")]


def _is_error_envelope(body: dict, code: str) -> None:
    assert body["success"] is False
    assert body["errorCode"] == code
    assert body["message"]
    assert body["timestamp"].endswith("Z")


def test_validation_errors_are_400_with_field_details(staff_client):
    response = staff_client.post(
        "/api/test/validation", {"capacity": -1, "algorithm": "quantum"}, format="json"
    )
    assert response.status_code == 400
    body = response.json()
    _is_error_envelope(body, "VALIDATION_ERROR")
    assert set(body["data"]["errors"]) == {"capacity", "algorithm"}
    assert "greater than or equal to 0" in body["data"]["errors"]["capacity"][0]
    assert "capacity" in body["message"]


def test_model_validation_errors_from_services_are_400(staff_client):
    response = staff_client.post("/api/test/django-validation", {}, format="json")
    assert response.status_code == 400
    assert response.json()["data"]["errors"] == {"baseUrl": ["Enter a valid URL."]}


def test_malformed_json_is_400(staff_client):
    response = staff_client.post(
        "/api/test/validation", data="{not json", content_type="application/json"
    )
    assert response.status_code == 400
    _is_error_envelope(response.json(), "MALFORMED_REQUEST")


def test_missing_objects_are_404(staff_client):
    response = staff_client.post("/api/test/missing", {}, format="json")
    assert response.status_code == 404
    body = response.json()
    _is_error_envelope(body, "NOT_FOUND")
    assert body["message"] == "Service type 'nope' does not exist"


@pytest.mark.parametrize("kind", ["conflict", "integrity"])
def test_conflicts_are_409_without_database_details(staff_client, kind):
    response = staff_client.post(f"/api/test/{kind}", {}, format="json")
    assert response.status_code == 409
    _is_error_envelope(response.json(), "CONFLICT")
    assert "secret_name" not in response.content.decode()


@pytest.mark.parametrize("kind", ["database-down", "connection-lost"])
def test_an_unreachable_database_is_503_without_details(staff_client, kind, caplog):
    response = staff_client.post(f"/api/test/{kind}", {}, format="json")
    assert response.status_code == 503
    assert response["Retry-After"] == "5"
    body = response.json()
    _is_error_envelope(body, "SERVICE_UNAVAILABLE")
    assert body["message"].startswith("The database is unavailable")
    assert "db.internal" not in response.content.decode()
    assert not any(r.exc_info for r in caplog.records), "a known outage logs no traceback"


def test_unexpected_errors_are_500_without_a_traceback(staff_client, caplog):
    response = staff_client.post("/api/test/crash", {}, format="json")
    assert response.status_code == 500
    text = response.content.decode()
    _is_error_envelope(response.json(), "INTERNAL_ERROR")
    assert "Traceback" not in text and "hunter2" not in text
    assert any("Unhandled error" in r.message for r in caplog.records)


def test_success_uses_the_envelope(staff_client):
    body = staff_client.post("/api/test/none", {}, format="json").json()
    assert body["success"] is True and body["message"] == "Nothing raised"
    assert body["data"] == {"kind": "none"} and "errorCode" not in body


def test_options_answers_in_the_envelope(staff_client):
    # Found by the schema fuzz: OPTIONS answered DRF's bare metadata, the one /api answer outside
    # the envelope.
    body = staff_client.options("/api/config/type").json()
    assert set(body) == {"success", "message", "data", "timestamp"} and body["success"] is True
    assert body["data"]["name"] == "Configuration" and "application/json" in body["data"]["renders"]


def test_unknown_api_paths_are_enveloped_404(client):
    response = client.get("/api/no/such/thing")
    assert response.status_code == 404
    _is_error_envelope(response.json(), "NOT_FOUND")


def test_pages_have_the_seed_shape(staff_client):
    body = staff_client.get("/api/test/page", {"page": 2, "size": 20}).json()["data"]
    assert body == {
        "content": list(range(40, 45)),
        "totalElements": 45,
        "totalPages": 3,
        "size": 20,
        "number": 2,
    }


@pytest.mark.parametrize("query", [{"size": 0}, {"size": "ten"}, {"page": -1}, {"size": 5000}])
def test_bad_page_parameters_are_400(staff_client, query):
    response = staff_client.get("/api/test/page", query)
    assert response.status_code == 400
    assert set(response.json()["data"]["errors"]) <= {"page", "size"}


def test_anonymous_callers_are_refused_in_the_envelope(api_client):
    response = api_client.get("/api/test/page")
    assert response.status_code == 401
    _is_error_envelope(
        response.json(), "UNAUTHORIZED" if response.status_code == 401 else "FORBIDDEN"
    )


def test_readers_can_read_but_not_change(reader_client):
    assert reader_client.get("/api/test/page").status_code == 200
    response = reader_client.post("/api/test/none", {}, format="json")
    assert response.status_code == 403
    _is_error_envelope(response.json(), "FORBIDDEN")


def test_the_browsable_api_is_for_staff_sessions_only(client, staff_user, reader_user):
    browser = "text/html,application/xhtml+xml,*/*;q=0.8"
    client.force_login(staff_user)
    page = client.get("/api/config/type", HTTP_ACCEPT=browser)
    assert page.status_code == 200 and page["Content-Type"].startswith("text/html")
    client.force_login(reader_user)
    plain = client.get("/api/config/type", HTTP_ACCEPT=browser)
    assert plain.status_code == 200 and plain["Content-Type"] == "application/json"


def test_every_api_operation_documents_the_503_of_a_database_outage():
    from drf_spectacular.generators import SchemaGenerator

    schema = SchemaGenerator().get_schema(request=None, public=True)
    operations = [
        (path, method, operation)
        for path, item in schema["paths"].items()
        if path.startswith("/api/")
        for method, operation in item.items()
        if method in {"get", "put", "post", "delete", "patch"}
    ]
    assert len(operations) > 50
    for path, method, operation in operations:
        unavailable = operation["responses"].get("503")
        assert unavailable, (method, path)
        content = unavailable["content"]["application/json"]["schema"]
        assert content == {"$ref": "#/components/schemas/ErrorEnvelope"}, (method, path)
