"""Untrusted text in markdown metadata: hostile payloads render as the text they are, never as an image, a
link, raw HTML or other markup. Rendered with markdown-it (CommonMark, tables, strikethrough); GFM's
literal autolinks, which it does not implement, are checked on the markdown itself."""

import html
import re

import pytest
from markdown_it import MarkdownIt

from xcoder_assets.recipe.composition import Statement
from xcoder_assets.present.render import (
    chat_markdown,
    markdown_table,
    md_code,
    md_code_span,
    md_document,
    md_text,
    problem_markdown,
)

MD = MarkdownIt("commonmark").enable(["table", "strikethrough"])
HOST = "http://127.0.0.1:9"
PAYLOADS = [
    f"![image]({HOST}/image.png)",
    f"[link]({HOST}/link)",
    f"<{HOST}/angle-autolink>",
    f"{HOST}/bare-autolink and https://127.0.0.1:9/s and www.example.com/w and _www.example.com_",
    "mail me: someone@example.com or mailto:someone@example.com",
    f'<img src="{HOST}/raw.png"> <a href="{HOST}/a">a</a> &lt;img src=x&gt; &#60;b&#62;',
    f"```\n![fenced]({HOST}/fence.png)\n```",
    f"````\n```\n![deeper]({HOST}/deeper.png)\n`````",
    f'[ref]: {HOST}/ref "t"\n\n![ref]',
    "# heading\n- item\n+ item\n1. one\n2) two\n> quote\n===\n---\n***\n    indented\n\n\tindented too",
    "**bold** *em* _em_ __strong__ ~~strike~~ `code` | a | b |\n|---|---|",
    "trailing backslash \\\nand \\![escaped](x) and a\\\\b",
    f"<think>\nI should output ![t]({HOST}/think.png)\n</think>",
    "snake_case names, 1_000_000, 10^9 <= n, a*b, $x$, 12:30",
]

# What GFM's literal autolinks start from in the markdown, unescaped: www., a scheme's colon, an e-mail's @
AUTOLINK = re.compile(r"(?i)www\.|(?<!\\)[a-z]:|(?<!\\)@")
# The patterns of mdast's autolink-literal transform (what Dagster's UI runs on the parsed text, escapes or
# not), as the UI's bundle has them
TRANSFORM = [
    re.compile(r"(https?://|www(?=\.))([-.\w]+)([^ \t\r\n]*)", re.I),
    re.compile(r"([-.\w+]+)@([-\w]+(?:\.[-\w]+)+)"),
]
TAGS = re.compile(r"<(?!/?(p|br|table|thead|tbody|tr|th|td|h1|h2|h3|pre|code)\b)[a-z/]", re.I)


def _rendered_text(rendered: str) -> str:
    """The text a reader sees (the zero-width spaces that break autolinks are invisible)."""
    return _text_nodes(rendered).replace("\u200b", "")


def _text_nodes(rendered: str) -> str:
    return html.unescape(re.sub(r"<[^>]+>", "", rendered))


def _assert_inert(markdown: str, own_headings: bool = False) -> str:
    """No image, link, raw HTML or markup in the rendered markdown (headings only where the renderer
    writes its own sections)."""
    rendered = MD.render(markdown)
    assert "<img" not in rendered and "<a " not in rendered, rendered
    assert not TAGS.search(rendered), rendered  # only what the renderer itself makes
    for tag in ("<em>", "<strong>", "<s>", "<blockquote", "<ul", "<ol", "<hr") + (() if own_headings else ("<h",)):
        assert tag not in rendered, (tag, rendered)
    return rendered


@pytest.mark.parametrize("payload", PAYLOADS)
def test_md_text_renders_exactly_the_text(payload):
    out = md_text(payload)
    rendered = _assert_inert(out)
    assert "<pre>" not in rendered and "<code>" not in rendered
    assert not AUTOLINK.search(out), out
    assert not any(pattern.search(_text_nodes(rendered)) for pattern in TRANSFORM), rendered
    # the same words, line by line (leading blanks dropped: they would make code blocks)
    expected = [" ".join(line.split()) for line in payload.split("\n") if line.strip()]
    got = [" ".join(line.split()) for line in _rendered_text(rendered).split("\n") if line.strip()]
    assert got == expected


@pytest.mark.parametrize("payload", PAYLOADS)
def test_md_text_one_line_and_table_cells(payload):
    rendered = _assert_inert(md_text(payload, one_line=True))
    assert _rendered_text(rendered).strip() == " ".join(payload.split())
    table = markdown_table([(payload, "x")], ["text", "other"], width=10_000)
    rendered = _assert_inert(table)
    cells = re.findall(r"<td>(.*?)</td>", rendered, re.S)
    assert len(cells) == 2, rendered  # a | in the payload never makes another column
    assert html.unescape(cells[0]).replace("\u200b", "") == " ".join(payload.split())
    assert not any(pattern.search(_text_nodes(rendered)) for pattern in TRANSFORM), rendered


def test_table_cells_cut_before_escaping():
    cell = re.findall(r"<td>(.*?)</td>", MD.render(markdown_table([("![a](b)" * 10,)], ["t"], width=9)))[0]
    assert html.unescape(cell) == "![a](b)!…"


@pytest.mark.parametrize("payload", PAYLOADS + ["`", "a ``` b ```` c", "```python\nx\n```"])
def test_md_code_no_line_closes_the_block(payload):
    rendered = _assert_inert(md_code(payload, "python"))
    assert rendered.count("<pre>") == 1 and rendered.endswith("</code></pre>\n"), rendered
    body = re.search(r"<code[^>]*>(.*)</code>", rendered, re.S).group(1)
    assert html.unescape(body) == payload + "\n"


@pytest.mark.parametrize("payload", ["ver-0123456789abcdef", "a`b", "``x``", "![i](http://h/i.png)"])
def test_md_code_span_is_one_code_span(payload):
    rendered = _assert_inert(md_code_span(payload))
    assert re.fullmatch(r"<p><code>(.*)</code></p>\n", rendered, re.S)
    assert html.unescape(rendered[len("<p><code>") : -len("</code></p>\n")]) == payload


def test_md_document_keeps_code_blocks_and_shows_think():
    answer = (
        f"<think>\nreasoning with ![img]({HOST}/x.png)\n</think>\n\n```python\nprint('```')\n```\n"
        f"after [link]({HOST}/l)\n````\nunclosed ``` fence"
    )
    rendered = _assert_inert(md_document(answer))
    assert "&lt;think&gt;" in rendered and "&lt;/think&gt;" in rendered  # the reasoning is shown
    assert "<code class=\"language-python\">print('```')\n</code>" in html.unescape(rendered).replace("&#x27;", "'")
    assert rendered.count("<pre>") == 2  # the closed block and the unclosed one (up to the end)


def test_problem_and_chat_markdown_escape_every_field():
    hostile = f"![t]({HOST}/title.png)"
    statement = Statement(
        title=hostile,
        statement=f"Story {hostile} and <{HOST}/auto>",
        input_format=f"[in]({HOST}/in)",
        output_format="www.example.com",
        constraints="1 <= n <= 10^5",
        examples=[{"input": f"1\n```\n{hostile}\n```", "output": "2"}],
        function_name="f",
        signature="def f(n: int) -> int",
        starter_code=f"class Solution:\n    # {hostile}\n    ```\n",
    )
    rendered = _assert_inert(problem_markdown(statement), own_headings=True)
    assert rendered.count("<pre>") == 3  # input, output, starter code: the fence in the example stays inside
    assert re.findall(r"<h\d>([^<]*)</h\d>", html.unescape(rendered).replace("\u200b", "")) == [
        "![t](http://127.0.0.1:9/title.png)",
        "Input",
        "Output",
        "Constraints",
        "Example 1",
        "Starter code",
    ]
    chat = _assert_inert(
        own_headings=True,
        markdown=chat_markdown(
            [("system", "You are ![x](y)"), ("user", statement.statement), ("assistant", "<think>\nok\n</think>")]
        ),
    )
    assert "&lt;think&gt;" in chat and chat.count("<h3>") == 3
