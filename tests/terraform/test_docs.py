"""terraform/README.md's input and output tables match the module's descriptions."""

from __future__ import annotations

from scripts.terraform_docs import BEGIN, END, render, replace_tables, tables
from tests.terraform.tfmodel import TERRAFORM


def test_readme_tables_are_current() -> None:
    readme = (TERRAFORM / "README.md").read_text()
    assert replace_tables(readme, tables()) == readme, (
        "run: python -m scripts.terraform_docs --write")


def test_render_shows_required_and_default_values() -> None:
    rendered = render({
        "variable": [{"project_id": {"description": "Project.", "type": "string"}},
                     {"names": {"description": "A | B.", "type": "${list(string)}",
                                "default": ["a"]}}],
        "output": [{"url": {"description": "URL.", "value": "${x}"}}],
    })
    assert "| `project_id` | Project. | `string` | required |" in rendered
    assert '| `names` | A \\| B. | `list(string)` | `["a"]` |' in rendered
    assert "| `url` | URL. |" in rendered


def test_replace_tables_keeps_the_text_around_the_markers() -> None:
    readme = f"intro\n{BEGIN}\nold\n{END}\noutro\n"
    assert replace_tables(readme, "new") == f"intro\n{BEGIN}\nnew\n{END}\noutro\n"
