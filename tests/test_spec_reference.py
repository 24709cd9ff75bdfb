"""docs/spec.md is the spec reference generated from the dataclasses: complete and current."""
import dataclasses
import typing

from hwgen.spec import Spec
from hwgen.spec.reference import field_docs, reference_markdown, sections, undocumented
from tests.conftest import REPO


def test_docs_spec_md_is_current():
    assert (REPO / "docs" / "spec.md").read_text() == reference_markdown(), \
        "docs/spec.md is stale: run python -m hwgen.spec.reference --write"


def test_every_key_has_its_meaning():
    assert undocumented(Spec) == []


def test_every_section_and_key_is_listed():
    text = reference_markdown()
    for section in sections(Spec):
        for f in dataclasses.fields(section.cls):
            if not f.metadata.get("internal"):
                assert f"| `{f.metadata.get('yaml', f.name)}` |" in text
    assert "## `model.layers[]` with `type: conv`" in text and "## `cim`" in text


def test_a_field_without_its_comment_is_caught():
    @dataclasses.dataclass(frozen=True)
    class Section:
        #: Documented.
        kept: int = 1
        forgotten: int = 2

    assert field_docs(Section) == {"kept": "Documented."}
    assert undocumented(Section) == ["forgotten"]
    assert typing.get_type_hints(Section)["forgotten"] is int
