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
