import pytest

from deepvis.page.words import counted, in_sentence, listed, power_of_ten, with_article


def test_listed_joins_as_english_does():
    assert listed([]) == ""
    assert listed(["cat"]) == "cat"
    assert listed(["cat", "dog"]) == "cat and dog"
    assert listed(iter(["a", "b", "c"])) == "a, b and c"
    assert listed([4, 5]) == "4 and 5"


def test_with_article_takes_an_before_a_vowel_letter():
    assert with_article("coat") == "a coat"
    assert with_article("ankle boot") == "an ankle boot"
    assert with_article("t-shirt/top") == "a t-shirt/top"
    assert with_article("Egyptian cat") == "an Egyptian cat"


@pytest.mark.parametrize(
    ("value", "text"),
    [
        (9.4e-07, "9 × 10⁻⁷"),
        (3e-06, "3 × 10⁻⁶"),
        (2.5e12, "2 × 10¹²"),
        (0.0, "0"),
        (-4e-5, "-4 × 10⁻⁵"),
    ],
)
def test_power_of_ten_reads_as_prose(value, text):
    assert power_of_ten(value) == text


def test_counted_spells_small_counts_and_keeps_digits_for_large_ones():
    assert [counted(n) for n in (0, 4, 10, 11, 250)] == ["zero", "four", "ten", "11", "250"]
    assert counted(7, capital=True) == "Seven" and counted(12, capital=True) == "12"


def test_in_sentence_lowers_class_names_but_keeps_t_shirts_capital():
    assert in_sentence("Ankle boot") == "ankle boot"
    assert in_sentence("T-shirt/top") == "T-shirt/top"
    assert in_sentence("Coat") == "coat"
