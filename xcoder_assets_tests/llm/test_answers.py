from xcoder_assets.llm.answers import extract_json, split_reasoning


def test_think_block_is_kept_apart():
    split = split_reasoning("<think>\nfirst I read\n</think>\nThe answer is 4")
    assert split.answer == "The answer is 4"
    assert split.reasoning == "first I read"


def test_reasoning_field_and_think_block_both_kept():
    split = split_reasoning("<think>a</think>x", "from the field")
    assert split.answer == "x"
    assert split.reasoning == "from the field\n\na"


def test_opening_tag_swallowed_by_chat_template():
    split = split_reasoning("I think about it...\n</think>\n\nfinal")
    assert split.answer == "final" and "think about it" in split.reasoning


def test_unclosed_think_means_no_answer():
    split = split_reasoning("<think>still thinking when the tokens ran out")
    assert split.answer == ""
    assert split.reasoning.startswith("still thinking")


def test_json_in_fence_after_prose():
    result = extract_json('Sure! Here it is:\n```json\n{"a": [1, 2]}\n```\nAnything else?')
    assert result.value == {"a": [1, 2]} and result.error is None and not result.repaired


def test_last_fence_wins():
    result = extract_json('draft:\n```json\n{"a": 1}\n```\nfinal:\n```json\n{"a": 2}\n```')
    assert result.value == {"a": 2}


def test_json_in_prose_without_fence():
    result = extract_json('The tree is {"a": {"b": ["c"]}} as requested; note {braces} in text.')
    assert result.value == {"a": {"b": ["c"]}}


def test_braces_inside_strings_do_not_confuse_the_scanner():
    result = extract_json('x {"a": "}{", "b": ["]"]} y')
    assert result.value == {"a": "}{", "b": ["]"]}


def test_trailing_commas_are_repaired_and_flagged():
    result = extract_json('```json\n{"a": ["x", "y",],}\n```')
    assert result.value == {"a": ["x", "y"]} and result.repaired


def test_prose_only_is_an_error_not_none():
    result = extract_json("The solution uses a greedy strategy and runs in linear time.")
    assert result.value is None and "no JSON dict" in result.error


def test_empty_answer_is_an_error():
    assert extract_json("   ").error == "empty answer"


def test_expecting_a_list():
    assert extract_json("here: [1, 2, 3]", list).value == [1, 2, 3]
    assert extract_json('{"a": 1}', list).error
