"""What the prompt scorer reads from a prompt's text: its statistics (`prompt_statistics`), its
form (`prompt_form`: multiple choice or free form) and, for word problems, the free-form head's
extra statistics (`word_problem_statistics`). The names of the scorer's features are here
(`FEATURE_NAMES`), since the statistics are most of them. numpy only, no Django."""

from __future__ import annotations

import math
import re
from collections.abc import Sequence

import numpy as np
import numpy.typing as npt

FloatArray = npt.NDArray[np.float32]
F64 = npt.NDArray[np.float64]

FEATURE_NAMES: tuple[str, ...] = (
    "neighbour_need",
    "neighbour_subject",
    "neighbour_similarity",
    "nearest_similarity",
    "log_chars",
    "log_words",
    "digit_share",
    "non_ascii_share",
    "punctuation_share",
    "log_lines",
    "looks_like_code",
    "is_question",
    "log_numbers",
    "log_sentences",
    "log_largest_number",
    "log_operation_words",
    "multiple_choice",
)
FEATURE_COUNT = len(FEATURE_NAMES)
STAT_COUNT = FEATURE_COUNT - 4  # `prompt_statistics`: every feature but the neighbour evidence
# Prompt forms, the partitions of the neighbour search; a form's index is its number.
FORMS: tuple[str, ...] = ("multiple_choice", "free_form")
MULTIPLE_CHOICE, FREE_FORM = 0, 1
_WORD = re.compile(r"\w+", re.UNICODE)
# The alternatives are grouped by their first character or anchor: the same matches as a flat list
# of them, in half the time (Python's regex engine tries the alternatives one by one).
_CODE = re.compile(r"```|#include|=>|[{};]\s*$|\b(?:def |class |return\b|function\b)", re.M)
_PUNCTUATION = frozenset("!\"#$%&'()*+,-./:;<=>?@[\\]^_`{|}~")
# Lines that open with a lettered option: "A. ...", "(b) ...", "C) ...".
_OPTION = re.compile(r"^\s*\(?[A-Da-d][.)]\s", re.M)
_NUMBER = re.compile(r"\d[\d,]*(?:\.\d+)?")
_SENTENCE_END = re.compile(r"[.!?](?:\s|$)")
_OPERATION = re.compile(  # percent twice half times each per every average ratio fraction ...
    r"\b(?:p(?:ercent|er)|t(?:wice|imes|otal)|half|e(?:ach|very)|average|r(?:atio|emaining)"
    r"|fraction|l(?:eft|ess than)|more than)\b",
    re.I,
)
_LARGEST_NUMBER = 1e15  # beyond it a number's size says nothing more (and float() may overflow)
# Byte sets for `bytes.translate(None, delete)`: counting by deleting is one C loop per class.
_DIGIT_BYTES = bytes(range(ord("0"), ord("9") + 1))
_NON_ASCII_BYTES = bytes(range(128, 256))
_PUNCTUATION_BYTES = "".join(sorted(_PUNCTUATION)).encode()


# The free-form head's extra inputs (`word_problem_statistics`): what tracks a word problem's
# solution length beyond `prompt_statistics`.
WORD_PROBLEM_NAMES: tuple[str, ...] = (
    "log_distinct_numbers",
    "log_number_words",
    "log_quantities",
    "percent",
    "log_fractions",
    "log_money_words",
    "log_time_units",
    "log_other_units",
    "log_question_words",
    "log_step_cues",
    "log_comparisons",
    "log_decimals",
    "log_question_chars",
    "words_per_sentence",
    "log_number_sum",
)
HEAD_FEATURE_NAMES: tuple[str, ...] = FEATURE_NAMES + WORD_PROBLEM_NAMES
_NUMBER_WORD = re.compile(
    r"\b(?:one|two|three|four|five|six|seven|eight|nine|ten|eleven|twelve|fifteen|twenty|thirty"
    r"|forty|fifty|hundred|thousand|million|dozen|half|twice|triple|double|third|quarter|fourth"
    r"|fifth)s?\b",
    re.I,
)
_PERCENT = re.compile(r"%|\bpercent", re.I)
_FRACTION = re.compile(r"\d+/\d+|\b(?:half|third|quarter|fourth|fifth)s?\b", re.I)
_MONEY = re.compile(
    r"\$|\b(?:dollars?|cents?|price|cost|costs|pay|paid|earn|earns|profit|sells?|buys?|bought"
    r"|sold)\b",
    re.I,
)
_TIME_UNIT = re.compile(
    r"\b(?:seconds?|minutes?|hours?|days?|weeks?|months?|years?|daily|weekly|monthly|hourly)\b",
    re.I,
)
_OTHER_UNIT = re.compile(
    r"\b(?:miles?|km|kilometers?|meters?|feet|foot|inches?|pounds?|ounces?|kg|grams?|liters?"
    r"|gallons?|cups?|mph)\b",
    re.I,
)
_QUESTION_WORD = re.compile(
    r"\b(?:how many|how much|what|which|when|who|how long|how far|how old)\b", re.I
)
_STEP_CUE = re.compile(
    r"\b(?:then|after|before|remaining|rest|left|more|less|fewer|each|per|every|if|twice|times"
    r"|total|altogether|combined|than|instead|while|but|also|another|again|respectively)\b",
    re.I,
)
_COMPARISON = re.compile(
    r"\b(?:more than|less than|fewer than|times as|as many|as much|older|younger|longer|shorter"
    r"|faster|slower)\b",
    re.I,
)
_DECIMAL = re.compile(r"\d\.\d")
# The head scores word problems only: free-form prompts with at least this many quantities (numbers
# and number words); other free-form prompts (chat, most everyday requests) keep the cell's score.
HEAD_MIN_QUANTITIES = 2
_QUANTITIES = WORD_PROBLEM_NAMES.index("log_quantities")


def prompt_form(text: str) -> int:
    """`MULTIPLE_CHOICE` when at least two lines open with a lettered option, else `FREE_FORM`."""
    options = _OPTION.finditer(text)
    return MULTIPLE_CHOICE if next(options, None) and next(options, None) else FREE_FORM


def form_of(stats: Sequence[float] | F64) -> int:
    """The form recorded in a prompt's statistics (its `multiple_choice` entry)."""
    return MULTIPLE_CHOICE if stats[-1] >= 0.5 else FREE_FORM


def prompt_statistics(text: str) -> list[float]:
    """The `STAT_COUNT` statistics of `FEATURE_NAMES[4:]`; the shares are counted over the UTF-8
    bytes (a non-ASCII character counts once per byte). Cheap enough for every request."""
    raw = text.encode("utf-8", "replace")
    size = len(raw)
    if not size:
        return [0.0] * STAT_COUNT
    numbers = _NUMBER.findall(text)
    largest = max((float(n.replace(",", "")) for n in numbers), default=0.0)
    return [
        math.log1p(len(text)),
        math.log1p(len(_WORD.findall(text))),
        (size - len(raw.translate(None, _DIGIT_BYTES))) / size,
        (size - len(raw.translate(None, _NON_ASCII_BYTES))) / size,
        (size - len(raw.translate(None, _PUNCTUATION_BYTES))) / size,
        math.log1p(text.count("\n")),
        1.0 if _CODE.search(text) else 0.0,
        1.0 if "?" in text[-200:] else 0.0,
        math.log1p(len(numbers)),
        math.log1p(len(_SENTENCE_END.findall(text))),
        math.log1p(min(largest, _LARGEST_NUMBER)),
        math.log1p(len(_OPERATION.findall(text))),
        1.0 if prompt_form(text) == MULTIPLE_CHOICE else 0.0,
    ]


def word_problem_statistics(text: str) -> list[float]:
    """The `WORD_PROBLEM_NAMES` statistics: counts (log) of distinct numbers, number words,
    quantities, fractions, money, time and other units, question words, multi-step cues and
    comparisons, decimals; whether there is a percentage; the last sentence's length (log), words
    per sentence and the sum of the numbers (log)."""
    values = [n.replace(",", "") for n in _NUMBER.findall(text)]
    number_words = len(_NUMBER_WORD.findall(text))
    sentences = [part for part in _SENTENCE_END.split(text) if part.strip()]
    last = sentences[-1] if sentences else text
    total = sum(float(v) for v in values if v.replace(".", "", 1).isdigit())
    return [
        math.log1p(len(set(values))),
        math.log1p(number_words),
        math.log1p(len(values) + number_words),
        1.0 if _PERCENT.search(text) else 0.0,
        math.log1p(len(_FRACTION.findall(text))),
        math.log1p(len(_MONEY.findall(text))),
        math.log1p(len(_TIME_UNIT.findall(text))),
        math.log1p(len(_OTHER_UNIT.findall(text))),
        math.log1p(len(_QUESTION_WORD.findall(text))),
        math.log1p(len(_STEP_CUE.findall(text))),
        math.log1p(len(_COMPARISON.findall(text))),
        math.log1p(len(_DECIMAL.findall(text))),
        math.log1p(len(last)),
        len(text.split()) / max(1, len(sentences)),
        math.log1p(min(total, _LARGEST_NUMBER)),
    ]


def is_word_problem(word_problem: Sequence[float] | F64) -> bool:
    """Whether a free-form prompt with these `word_problem_statistics` is a word problem (at least
    `HEAD_MIN_QUANTITIES` quantities), the free-form head's to score."""
    return bool(word_problem[_QUANTITIES] >= math.log1p(HEAD_MIN_QUANTITIES) - 1e-9)
