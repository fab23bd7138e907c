import pytest

from deepvis.page.words import listed, numbered, with_article


def test_listed_joins_as_english_does():
    assert listed([]) == ""
    assert listed(["cat"]) == "cat"
    assert listed(["cat", "dog"]) == "cat and dog"
    assert listed(iter(["a", "b", "c"])) == "a, b and c"
    assert listed([4, 5]) == "4 and 5"


def test_numbered_is_plural_for_more_than_one_number():
    assert numbered("epoch", [9]) == "epoch 9"
    assert numbered("epoch", [4, 5]) == "epochs 4 and 5"
    assert numbered("epoch", (3, 7, 9)) == "epochs 3, 7 and 9"
    with pytest.raises(ValueError, match="at least one number"):
        numbered("epoch", [])


def test_with_article_takes_an_before_a_vowel_letter():
    assert with_article("coat") == "a coat"
    assert with_article("ankle boot") == "an ankle boot"
    assert with_article("t-shirt/top") == "a t-shirt/top"
    assert with_article("Egyptian cat") == "an Egyptian cat"
