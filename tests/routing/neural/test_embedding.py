import numpy as np
from hypothesis import given
from hypothesis import strategies as st

from routing.neural.embedding import HashingEmbedder, prompt_text


def test_similar_prompts_are_closer_than_unrelated_ones():
    embed = HashingEmbedder(256).embed
    a = embed("What is the capital of France?")
    b = embed("what is the capital of france")
    c = embed("Write a Rust function that parses TOML into a struct with serde")
    assert float(a @ b) > 0.99
    assert float(a @ c) < 0.3


@given(st.text(max_size=300))
def test_embeddings_are_unit_or_zero_vectors(text):
    vector = HashingEmbedder(64).embed(text)
    assert vector.dtype == np.float32 and vector.shape == (64,)
    norm = float(np.linalg.norm(vector))
    assert norm == 0.0 or abs(norm - 1.0) < 1e-5


def test_prompt_text_reads_chat_and_completion_bodies():
    chat = {
        "messages": [
            {"role": "system", "content": "be brief"},
            {"role": "user", "content": [{"type": "text", "text": "hello"}, {"type": "image_url"}]},
        ]
    }
    assert prompt_text(chat) == "be brief\nhello"
    assert prompt_text({"prompt": ["a", "b"]}) == "a\nb"
    assert prompt_text({"input": "x"}) == "" and prompt_text("junk") == ""
