
from deepvis.page.words import listed, with_article


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
