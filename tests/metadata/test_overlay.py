"""Admin changes as an overlay on the implementer's YAML (engine.metadata.overlay and friends):
laid over the base before the usual checks, re-applied over a new base with whatever no longer
fits set aside and reported (never silently dropped), computed back from a desired form, and
written back as YAML with the base file's comments kept."""
import shutil
from pathlib import Path

import pytest

from engine.forms.diff import changes, diff
from engine.forms.yaml_write import form_yaml, merged_yaml
from engine.metadata import overlay as ov
from engine.metadata.codes import MetadataInvalid
from engine.metadata.layering import OverlayRefused
from engine.metadata.loader import base_documents, load_app
from tests.apps import write_app
from tests.conftest import DEMO_APP, ROOT

ENTITY = """\
name: job
fields:
  title: {type: string, required: true}
  site: {type: string}
  phone: {type: phone}
  notes: {type: text}
  urgent: {type: boolean, default: false}
"""
FORM = """\
entity: job
# the implementer's comment on the form
sections:
  - label: Job
    fields: [title, site]
  # contact details come second
  - label: Contact
    fields:
      - phone
      - field: notes
        help: Anything the crew should know
"""


def app(tmp_path, form=FORM, entity=ENTITY):
    return write_app(tmp_path / "app", {"entities/job.yaml": entity, "forms/job.yaml": form})


def sections(a, form="job"):
    return [(s.label.get() if s.label else None, [f.name for f in s.fields]) for s in a.forms[form].sections]


def test_a_piece_arranges_relabels_and_conditions_the_form(tmp_path):
    root = app(tmp_path)
    piece = {"layout": [{"tab": None, "sections": [{"section": "contact", "fields": ["phone", "urgent"]},
                                                   {"section": "job", "fields": ["title", "site", "notes"]}]}],
             "fields": {"notes": {"help": None, "required_when": "urgent"}, "phone": {"label": {"en": "Phone", "zh": "电话"}}},
             "sections": {"job": {"columns": 1}}}
    a = load_app(root, {"job": piece})
    assert sections(a) == [("Contact", ["phone", "urgent"]), ("Job", ["title", "site", "notes"])]
    notes = a.forms["job"].sections[1].fields[2]
    assert notes.help is None and notes.required_when.source == "urgent"  # null removes the base's help
    assert a.forms["job"].sections[0].fields[0].label.get("zh") == "电话" and a.forms["job"].sections[1].columns == 1
    assert a.overlay_conflicts == ()


def test_a_new_base_is_laid_under_the_same_changes(tmp_path):
    """What the implementer added since comes through where the base puts it; what the overlay
    places but the base removed is reported, and everything else still applies."""
    root = app(tmp_path)
    piece = {"layout": [{"tab": None, "sections": [{"section": "job", "fields": ["title", "notes", "site"]},
                                                   {"section": "contact", "fields": ["phone"]}]}],
             "fields": {"site": {"required": True}}, "sections": {"contact": {"label": {"en": "Reach"}}}}
    (Path(root) / "entities" / "job.yaml").write_text(ENTITY.replace("  notes: {type: text}\n", "  email: {type: email}\n"))
    (Path(root) / "forms" / "job.yaml").write_text("entity: job\nsections:\n  - label: Job\n    fields: [title, site]\n"
                                                   "  - label: Contact\n    fields: [phone, email]\n  - label: Crew\n    fields: [urgent]\n")
    a = load_app(root, {"job": piece})
    assert sections(a) == [("Job", ["title", "site"]), ("Reach", ["phone", "email"]), ("Crew", ["urgent"])]
    assert a.forms["job"].sections[0].fields[1].required
    [c] = a.overlay_conflicts
    assert (c.kind, c.name) == ("layout", "notes") and "no longer a field of job" in c.message
    assert c.format().startswith("overlay:forms/job.yaml:1:1: E045 ")


def test_a_change_that_no_longer_compiles_is_set_aside_not_dropped_and_refused_when_new(tmp_path):
    root = app(tmp_path)
    piece = {"fields": {"notes": {"visible_when": "site == 'plant 2'"}, "phone": {"required_when": "urgent"}}}
    assert load_app(root, {"job": piece}).overlay_conflicts == ()
    (Path(root) / "entities" / "job.yaml").write_text(ENTITY.replace("  site: {type: string}\n", ""))
    (Path(root) / "forms" / "job.yaml").write_text(FORM.replace("[title, site]", "[title]"))
    a = load_app(root, {"job": piece})  # the app still starts: the piece is set aside, the rest applies
    [c] = a.overlay_conflicts
    assert (c.kind, c.name) == ("fields", "notes") and "E022" in c.message and "site" in c.message
    assert a.forms["job"].sections[1].fields[0].required_when.source == "urgent"
    with pytest.raises(OverlayRefused) as exc:  # the designer refuses the same change outright
        load_app(root, {"job": piece}, strict="job")
    assert exc.value.issues[0][:2] == ("fields", "notes")


def test_the_base_own_problems_are_never_blamed_on_the_overlay(tmp_path):
    root = app(tmp_path, form=FORM.replace("[title, site]", "[title, site, colour]"))
    with pytest.raises(MetadataInvalid) as exc:
        load_app(root, {"job": {"fields": {"phone": {"required": True}}}})
    assert [p.code for p in exc.value.problems] == ["E017"]


def test_a_malformed_or_hostile_piece_is_set_aside_whole(tmp_path):
    root = app(tmp_path)
    a = load_app(root, {"job": {"fields": {"notes": {"eval": "__import__('os')"}}, "layout": "everything"}})
    assert [(c.kind, "malformed" in c.message) for c in a.overlay_conflicts] == [("*", True)]
    assert sections(a) == sections(load_app(root))
    escape = {"job": {"fields": {"notes": {"visible_when": "().__class__.__bases__"}}}}
    with pytest.raises(OverlayRefused) as exc:
        load_app(root, escape, strict="job")
    assert "E021" in exc.value.issues[0][2]


def test_custom_fields_join_the_entity_and_a_base_field_of_the_same_name_wins(tmp_path):
    root = app(tmp_path)
    channel = {"type": "select", "label": {"en": "Channel"}, "options": ["web", "dealer"]}
    piece = {"new_fields": {"channel": channel}, "layout": [{"tab": None, "sections": [
        {"section": "job", "fields": ["title", "site", "channel"]}, {"section": "contact", "fields": ["phone", "notes"]}]}]}
    a = load_app(root, {"job": piece})
    assert a.entities["job"].fields["channel"].option_values() == ("web", "dealer") and "channel" in sections(a)[0][1]
    # the implementer folds it into the base as it is: nothing to report
    (Path(root) / "entities" / "job.yaml").write_text(ENTITY + "  channel: {type: select, label: {en: Channel}, options: [web, dealer]}\n")
    assert load_app(root, {"job": piece}).overlay_conflicts == ()
    # ...or defines another field of that name: theirs is used, and the admin's is reported
    (Path(root) / "entities" / "job.yaml").write_text(ENTITY + "  channel: {type: string}\n")
    a = load_app(root, {"job": piece})
    assert a.entities["job"].fields["channel"].type == "string"
    assert [(c.kind, c.name) for c in a.overlay_conflicts] == [("new_fields", "channel")]


def test_a_required_field_cannot_be_left_off_the_form(tmp_path):
    root = app(tmp_path)
    with pytest.raises(OverlayRefused) as exc:
        load_app(root, {"job": {"removed": ["title"]}}, strict="job")
    assert "E046" in exc.value.issues[0][2]
    a = load_app(root, {"job": {"removed": ["notes"]}})
    assert a.forms["job"].hidden == ("notes",) and "notes" not in a.forms["job"].field_names()


def test_diff_stores_only_what_differs_and_gives_the_desired_form_back(tmp_path):
    root = app(tmp_path)
    entity, base, _ = base_documents(root, "job")
    fields = set(entity["fields"])
    same, _, _ = ov.apply_form("job", base, {}, fields)
    assert diff(base, same, {}, fields) == {}  # the base as it is: nothing to store
    desired = {"entity": "job", "sections": [
        {"name": "contact", "label": "Contact", "fields": ["phone", {"field": "notes", "help": "Anything the crew should know",
                                                                       "required_when": "urgent"}]},
        {"name": "job", "label": {"en": "Job", "zh": "工作"}, "fields": ["title", "site", "channel"]},
        {"name": "added_1", "label": {"en": "Crew"}, "fields": ["urgent"]}], "hidden": []}
    custom = {"channel": {"type": "string"}}
    piece = diff(base, desired, custom, fields)
    assert set(piece) == {"layout", "fields", "sections", "new_sections", "new_fields"}
    assert piece["fields"] == {"notes": {"required_when": "urgent"}} and piece["sections"] == {"job": {"label": {"en": "Job", "zh": "工作"}}}
    again, conflicts, _ = ov.apply_form("job", base, piece, fields | {"channel"})
    assert conflicts == [] and ov.structure(again)[0] == ov.structure(desired)[0]
    words = changes(same, again, {}, custom, {})
    kinds = {c["kind"] for c in words}
    assert {"field_added", "section_added", "sections_reordered", "field_property", "section_property", "field_placed"} <= kinds


def test_every_form_file_writes_back_byte_for_byte_when_nothing_changed():
    for root in (Path(DEMO_APP), ROOT / "tests" / "scenarios" / "build_to_order"):
        for path in sorted((root / "forms").glob("*.yaml")) if (root / "forms").is_dir() else []:
            entity, base, fpath = base_documents(root, path.stem)
            doc, _, _ = ov.apply_form(path.stem, base, {}, set(entity["fields"]))
            assert form_yaml(fpath, doc) == path.read_text(encoding="utf-8"), path


def test_written_back_changes_keep_the_files_comments_and_load_as_the_overlay_did(tmp_path):
    root = app(tmp_path)
    piece = {"layout": [{"tab": None, "sections": [{"section": "contact", "fields": ["phone", "notes"]},
                                                   {"section": "job", "fields": ["title", "site", "channel"]}]}],
             "fields": {"site": {"visible_when": "urgent"}}, "new_fields": {"channel": {"type": "select", "options": [
                 {"value": "web", "label": "Web shop"}, "dealer"]}}}
    with_overlay = load_app(root, {"job": piece})
    entity, base, fpath = base_documents(root, "job")
    doc, _, _ = ov.apply_form("job", base, piece, set(entity["fields"]) | {"channel"})
    text = form_yaml(fpath, doc)
    assert "# the implementer's comment on the form" in text and "# contact details come second" in text
    assert "name:" not in text  # keys are told from the labels, as before
    folded = tmp_path / "folded"
    shutil.copytree(root, folded)
    (folded / "forms" / "job.yaml").write_text(text)
    (folded / "entities" / "job.yaml").write_text(merged_yaml(Path(root) / "entities" / "job.yaml",
                                                              {**entity, "fields": {**entity["fields"], **piece["new_fields"]}}))
    alone = load_app(folded)
    assert sections(alone) == sections(with_overlay) and alone.entities["job"].fields["channel"].option_values() == ("web", "dealer")
    # with the overlay still stored, the folded base makes it a no-op rather than a conflict
    assert load_app(folded, {"job": piece}).overlay_conflicts == ()
