import logging

from routerproject.masking import SecretMaskingFilter, is_masked, mask_secret, mask_text


def test_it_masks_keys_keeping_a_recognisable_tail():
    assert mask_secret("sk-live-abcdef123456f3a9") == "sk-…f3a9"
    assert mask_secret("short") == "…"
    assert mask_secret("") == ""
    assert is_masked(mask_secret("sk-live-abcdef123456f3a9"))
    assert not is_masked("sk-live-abcdef123456f3a9")


def test_logs_never_carry_secrets_in_clear():
    record = logging.LogRecord(
        "x", logging.INFO, __file__, 1, "calling %s with %s and apiKey=%s", None, None
    )
    record.args = (
        "http://u",
        "Authorization: Bearer eyJhbGciOiJIUzI1NiJ9.abc.def",
        "sk-abcdefghijkl1234",
    )
    SecretMaskingFilter().filter(record)
    message = record.getMessage()
    assert "eyJhbGciOiJIUzI1NiJ9" not in message
    assert "abcdefghijkl" not in message
    assert "http://u" in message


def test_text_masking_leaves_ordinary_words():
    assert (
        mask_text("model qwen2:7b at http://localhost:8000")
        == "model qwen2:7b at http://localhost:8000"
    )
    assert "supersecret" not in mask_text('{"apiKey": "supersecretvalue"}')


def test_text_masking_covers_jwts_url_passwords_and_cookies():
    jwt = "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJvcGVyYXRvciJ9.c2lnbmF0dXJlLXZhbHVl"
    assert "eyJzdWIiOiJvcGVyYXRvciJ9" not in mask_text(f"refresh {jwt} refused")
    assert mask_text("broker redis://:hunter2hunter2@redis:6379/0") == (
        "broker redis://:[masked]@redis:6379/0"
    )
    assert "s3cr3tpass" not in mask_text("postgres://router:s3cr3tpass@db:5432/router")
    assert "abcdef123456" not in mask_text("Cookie: sessionid=abcdef123456")
    # Near misses stay as they are.
    assert mask_text("max_tokens=100 at http://h:8080/a@b") == "max_tokens=100 at http://h:8080/a@b"
