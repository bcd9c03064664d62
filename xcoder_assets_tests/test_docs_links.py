"""Every relative link in README.md and docs/*.md resolves: to a file or folder of this repository and,
with a #fragment into a markdown page, to one of that page's headings (GitHub's anchor rule)."""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parents[1]

# [text](target) and ![alt](target), with an optional "title"; the target has no spaces.
LINK = re.compile(r"!?\[[^\]]*\]\(\s*<?([^)\s>]+)>?(?:\s+\"[^\"]*\")?\s*\)")
CODE_SPAN = re.compile(r"(`+).*?\1")
FENCE = re.compile(r"^\s*(```|~~~)")
HEADING = re.compile(r"^(#{1,6})\s+(.*?)\s*#*\s*$")
SCHEME = re.compile(r"^[a-zA-Z][a-zA-Z0-9+.-]*:")


@dataclass(frozen=True)
class BrokenLink:
    page: Path
    line: int
    target: str
    reason: str

    def __str__(self) -> str:
        return f"{self.page}:{self.line}: {self.target}: {self.reason}"


def _prose_lines(text: str):
    """(line number, line) outside fenced code blocks: a `# y` in a shell block is a comment, not a
    heading."""
    in_fence = False
    for number, line in enumerate(text.splitlines(), start=1):
        if FENCE.match(line):
            in_fence = not in_fence
            continue
        if not in_fence:
            yield number, line


def _links(text: str):
    """(line number, target) of every link outside code: a `[x](y)` in inline code is an example."""
    for number, line in _prose_lines(text):
        for match in LINK.finditer(CODE_SPAN.sub("", line)):
            yield number, match.group(1)


def github_anchor(heading: str) -> str:
    """The anchor GitHub gives a heading: lower case, punctuation dropped (word characters, spaces and
    hyphens kept), spaces as hyphens. Inline code keeps its text, so its backticks go first."""
    text = re.sub(r"\[([^\]]*)\]\([^)]*\)", r"\1", heading)  # a link in a heading anchors on its text
    text = text.replace("`", "").strip().lower()
    text = re.sub(r"[^\w\- ]", "", text)
    return text.replace(" ", "-")


def anchors(page: Path) -> set[str]:
    """Every heading anchor of a markdown page; a repeated heading gets -1, -2, ... as on GitHub."""
    seen: dict[str, int] = {}
    found = set()
    for _, line in _prose_lines(page.read_text(encoding="utf-8")):
        match = HEADING.match(line)
        if not match:
            continue
        base = github_anchor(match.group(2))
        count = seen.get(base, 0)
        seen[base] = count + 1
        found.add(base if count == 0 else f"{base}-{count}")
    return found


def broken_links(page: Path, root: Path) -> list[BrokenLink]:
    """The relative links of one page that do not resolve. URLs with a scheme (https:, mailto:) are not
    followed: tests reach no network."""
    broken = []
    for number, target in _links(page.read_text(encoding="utf-8")):
        if SCHEME.match(target) or target.startswith("//"):
            continue
        path_part, _, fragment = target.partition("#")
        resolved = (page.parent / path_part).resolve() if path_part else page
        if not resolved.exists():
            broken.append(BrokenLink(page, number, target, "no such file"))
            continue
        try:
            resolved.relative_to(root.resolve())
        except ValueError:
            broken.append(BrokenLink(page, number, target, "outside the repository"))
            continue
        if fragment and resolved.suffix == ".md" and fragment not in anchors(resolved):
            broken.append(BrokenLink(page, number, target, f"no heading with anchor #{fragment}"))
    return broken


def _pages() -> list[Path]:
    return [PROJECT_ROOT / "README.md", *sorted((PROJECT_ROOT / "docs").glob("*.md"))]


def test_every_relative_link_resolves():
    pages = _pages()
    assert len(pages) > 1, "docs/*.md: no pages found"
    broken = [str(link) for page in pages for link in broken_links(page, PROJECT_ROOT)]
    assert not broken, "broken links:\n" + "\n".join(broken)


def test_the_readme_links_every_docs_page():
    """The README's "where to go next" table is the way into docs/: no page is left out of it."""
    readme = (PROJECT_ROOT / "README.md").read_text(encoding="utf-8")
    targets = {target.partition("#")[0] for _, target in _links(readme)}
    missing = [page.name for page in sorted((PROJECT_ROOT / "docs").glob("*.md")) if f"docs/{page.name}" not in targets]
    assert not missing, f"README.md does not link {missing}"


def test_the_readme_keeps_the_two_commands():
    """`make demo` sets up and runs the main job, `make test` sets up and runs the tests: both stay on the
    README's first page, in one shell block."""
    readme = (PROJECT_ROOT / "README.md").read_text(encoding="utf-8")
    block = re.search(r"```bash\n(.*?)```", readme, re.DOTALL)
    assert block, "README.md: no ```bash block"
    commands = [line.split("#")[0].strip() for line in block.group(1).splitlines()]
    assert commands == ["make demo", "make test"]


def test_the_checker_finds_a_missing_file_a_missing_anchor_and_ignores_code(tmp_path):
    root = tmp_path / "repo"
    (root / "docs").mkdir(parents=True)
    (tmp_path / "elsewhere.md").touch()  # exists, but outside the repository
    (root / "docs" / "a.md").write_text(
        "# A page\n\n## `make serve`: the deployment\n\n## Strict's exit rule\n\n## Notes\n\n## Notes\n"
    )
    page = root / "README.md"
    page.write_text(
        "\n".join(
            [
                "[ok](docs/a.md) [ok](docs/a.md#make-serve-the-deployment) [ok](docs/a.md#stricts-exit-rule)",
                "[ok](docs/a.md#notes-1) [ok](docs/) [ok](#top) [web](https://example.invalid/x) ![img](docs/a.md)",
                "# Top",
                "[gone](docs/b.md) [bad anchor](docs/a.md#notes-2)",
                "`[in code](docs/c.md)`",
                "```",
                "[in a fence](docs/d.md)",
                "```",
                "[up and out](../elsewhere.md)",
            ]
        )
    )
    found = [(link.line, link.target, link.reason) for link in broken_links(page, root)]
    assert found == [
        (4, "docs/b.md", "no such file"),
        (4, "docs/a.md#notes-2", "no heading with anchor #notes-2"),
        (9, "../elsewhere.md", "outside the repository"),
    ]
