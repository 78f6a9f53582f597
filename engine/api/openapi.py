"""An OpenAPI 3.1 document generated from the metadata: one schema and set of paths per entity."""
from __future__ import annotations

from engine import __version__
from engine.core.values import DEFAULT_MAX_LENGTH, INT_MAX
from engine.metadata.model import App, Entity, Field
from engine.records.listing import MAX_IN, MAX_LIMIT, sortable_fields

_PROBLEM = {"$ref": "#/components/responses/Problem"}


def _field_schema(app: App, f: Field) -> dict:
    t = f.value_type
    label = f.label.get("en")
    s: dict
    if t in ("string", "text", "email", "phone", "url"):
        s = {"type": ["string", "null"]}
        limit = f.max_length or DEFAULT_MAX_LENGTH.get(t)
        if limit:
            s["maxLength"] = limit
        if f.min_length:
            s["minLength"] = f.min_length
        if f.pattern:
            s["pattern"] = f.pattern
        if t == "email":
            s["format"] = "email"
        if t == "url":
            s["format"] = "uri"
    elif t == "select":
        s = {"enum": [*f.option_values(), None]}
    elif t == "integer":
        s = {"type": ["integer", "null"]}
        if f.min is not None:
            s["minimum"] = int(f.min)
        if f.max is not None:
            s["maximum"] = int(f.max)
    elif t == "decimal":
        scale = f.scale if f.scale is not None else 2
        s = {"type": ["string", "null"], "pattern": r"^-?\d+(\.\d{1,%d})?$" % scale if scale else r"^-?\d+$",
             "description": f"exact decimal as text, up to {scale} decimal places"}
    elif t == "boolean":
        s = {"type": ["boolean", "null"]}
    elif t == "date":
        s = {"type": ["string", "null"], "format": "date"}
    elif t == "datetime":
        s = {"type": ["string", "null"], "format": "date-time"}
    elif t in ("link", "user"):
        s = {"type": ["integer", "null"], "minimum": 1,
             "description": f"id of a {f.entity}" if t == "link" else "id of a user"}
    elif t == "json":
        s = {}
    elif t == "file":  # set by uploading to /api/v1/{entity}/{id}/files/{field}; read as the file it holds
        s = {"anyOf": [{"$ref": "#/components/schemas/FieldFile"}, {"type": "null"}], "readOnly": True,
             "description": "the file the field holds; set it with PUT /api/v1/{entity}/{id}/files/{field} (multipart field `file`)"}
    else:  # pragma: no cover
        s = {}
    s["title"] = label
    if f.help:
        s["description"] = (s.get("description", "") + " " + f.help.get("en")).strip()
    if f.type == "computed" or f.read_only:
        s["readOnly"] = True
    return s


def _not_null(s: dict) -> dict:
    """The schema of a value that must be given: no null, and text not empty ("" counts as no value)."""
    s = dict(s)
    if isinstance(s.get("type"), list):
        s["type"] = [t for t in s["type"] if t != "null"][0]
        if s["type"] == "string" and "pattern" not in s:
            s["minLength"] = max(1, s.get("minLength", 1))
    if "enum" in s:
        s["enum"] = [v for v in s["enum"] if v is not None]
    return s


def _entity_schemas(app: App, ent: Entity, name: str, hidden: frozenset = frozenset(), locked: frozenset = frozenset()) -> dict:
    props: dict = {"id": {"type": "integer", "readOnly": True}}
    required = []
    must = {}  # required fields: never null or "" when sent; on create, null is allowed where a default fills it
    for f in ent.fields.values():
        if f.name in hidden:
            continue
        if f.type == "table":
            props[f.name] = {"type": "array", "items": {"$ref": f"#/components/schemas/{f.entity}"}, "title": f.label.get("en")}
            continue
        props[f.name] = _field_schema(app, f)
        if f.name in locked:
            props[f.name] = {**props[f.name], "readOnly": True, "description": "read-only for your roles"}
        elif f.required and f.type != "computed":
            defaulted = f.default is not None or f.default_expr is not None
            must[f.name] = defaulted
            if not defaulted:
                required.append(f.name)
    if not ent.child:
        for n, t in (("owner", "integer"), ("created_by", "integer"), ("updated_by", "integer"), ("version", "integer")):
            props[n] = {"type": [t, "null"] if n != "version" else t, "readOnly": True}
        props["created_at"] = {"type": "string", "format": "date-time", "readOnly": True}
        props["updated_at"] = {"type": "string", "format": "date-time", "readOnly": True}
    schemas = {name: {"type": "object", "title": ent.label.get("en"), "properties": props}}
    writable = {k: v for k, v in props.items() if not v.get("readOnly")}
    if ent.child:
        writable["id"] = {"type": "integer", "minimum": 1, "maximum": INT_MAX,
                          "description": "an existing line's id, to change that line; leave out for a new line"}
    for f in ent.table_fields():
        if f.name in writable:
            writable[f.name] = {"type": "array", "items": {"$ref": f"#/components/schemas/{f.entity}_input"}, "title": f.label.get("en")}
            if f.required:
                writable[f.name]["minItems"] = 1
    create = {k: (_not_null(v) if k in must and not must[k] else v) for k, v in writable.items()}
    schemas[f"{name}_input"] = {"type": "object", "properties": create, "required": required, "additionalProperties": False}
    if not ent.child:
        patch = {k: (_not_null(v) if k in must else v) for k, v in writable.items()}
        schemas[f"{name}_patch"] = {"type": "object", "properties": {**patch, "version": {"type": "integer", "minimum": 1}},
                                    "required": ["version"], "additionalProperties": False}
    return schemas


_TEXT = ("string", "text", "email", "phone", "url", "select")


def _filter_value(f: Field) -> dict:
    """The schema of one value to compare a field with in a query string; empty means "no value"."""
    t = f.value_type
    if t in ("integer", "link", "user"):
        return {"type": "integer"} if t == "integer" else {"type": "integer", "minimum": 1, "maximum": INT_MAX}
    if t == "decimal":
        return {"type": "string", "pattern": r"^-?[0-9]+(\.[0-9]+)?$"}
    if t == "boolean":
        return {"type": "boolean"}
    if t == "date":
        return {"type": "string", "format": "date"}
    if t == "datetime":
        return {"type": "string", "format": "date-time"}
    if t == "select":
        return {"enum": list(f.option_values())}
    return {"type": "string"}


def _filter_params(ent: Entity, hidden: frozenset = frozenset()) -> list[dict]:
    params = []
    for f in ent.fields.values():
        if not f.stored or f.value_type == "json" or f.name in hidden:
            continue
        label = f.label.get("en")
        if f.value_type == "file":
            params.append({"name": f"{f.name}__isnull", "in": "query", "required": False, "schema": {"type": "boolean"},
                           "description": f"filter: {label} holds no file (true) or one (false)"})
            continue
        value = _filter_value(f)
        ops = [("", value, f"{label} equals this (empty: has no value)"), ("__ne", value, f"{label} differs from this"),
               ("__in", {"type": "string"}, f"{label} is one of these, separated by commas (at most {MAX_IN})"),
               ("__isnull", {"type": "boolean"}, f"{label} has no value (true) or has one (false)")]
        if f.value_type in ("integer", "decimal", "date", "datetime"):
            ops += [(op, value, f"{label} {word} this") for op, word in (("__gt", "above"), ("__gte", "at least"), ("__lt", "below"),
                                                                          ("__lte", "at most"))]
        if f.value_type in _TEXT:
            ops += [("__contains", {"type": "string"}, f"{label} contains this text (any case)"),
                    ("__startswith", {"type": "string"}, f"{label} starts with this text (any case)")]
        for op, schema, text in ops:
            params.append({"name": f"{f.name}{op}", "in": "query", "required": False, "schema": schema, "description": "filter: " + text})
    return params


def _workflow_paths(wf, n: str, label: str, idp: list, errors: dict) -> dict:
    """Transitions, the timeline and the review of an entity with a workflow (docs/workflows.md)."""
    obj = {"content": {"application/json": {"schema": {"type": "object"}}}}
    tp = {"name": "transition", "in": "path", "required": True, "schema": {"enum": list(wf.transitions)}}
    fire_body = {"type": "object", "properties": {"comment": {"type": "string", "maxLength": 2000}, "fields": {"type": "object"},
                                                  "version": {"type": "integer"}}}
    return {
        f"/api/v1/{n}/{{id}}/transitions": {"get": {
            "operationId": f"transitions_{n}", "summary": f"The state of a {label} and the transitions the caller may fire",
            "tags": [label], "parameters": idp, "responses": {"200": {"description": "state and transitions", **obj}, **errors}}},
        f"/api/v1/{n}/{{id}}/transitions/{{transition}}": {"post": {
            "operationId": f"fire_{n}", "summary": f"Fire a transition on a {label}", "tags": [label], "parameters": idp + [tp],
            "requestBody": {"content": {"application/json": {"schema": fire_body}}},
            "responses": {"200": {"description": "the record after the step", **obj}, "409": _PROBLEM, **errors}}},
        f"/api/v1/{n}/transitions/{{transition}}": {"post": {
            "operationId": f"fire_many_{n}", "summary": f"Fire a transition on several {label} records, each on its own",
            "tags": [label], "parameters": [tp],
            "requestBody": {"required": True, "content": {"application/json": {"schema": {**fire_body, "required": ["ids"], "properties": {
                **fire_body["properties"], "ids": {"type": "array", "items": {"type": "integer"}, "maxItems": 500}}}}}},
            "responses": {"200": {"description": "per id, whether it moved and why not", **obj}, **errors}}},
        f"/api/v1/{n}/{{id}}/timeline": {"get": {
            "operationId": f"timeline_{n}", "summary": f"Every transition of a {label}", "tags": [label], "parameters": idp,
            "responses": {"200": {"description": "steps, oldest first", **obj}, **errors}}},
        f"/api/v1/{n}/{{id}}/review": {
            "get": {"operationId": f"review_{n}", "summary": f"The latest department review of a {label}", "tags": [label],
                    "parameters": idp, "responses": {"200": {"description": "tasks, opinions and outcome", **obj}, **errors}},
            "post": {"operationId": f"decide_{n}", "summary": f"Approve or reject in the open review of a {label}", "tags": [label],
                     "parameters": idp, "requestBody": {"required": True, "content": {"application/json": {"schema": {
                         "type": "object", "required": ["decision"], "properties": {
                             "decision": {"enum": ["approve", "reject"]}, "opinion": {"type": "string", "maxLength": 4000},
                             "role": {"type": "string"}}}}}},
                     "responses": {"200": {"description": "the review after this opinion", **obj}, "409": _PROBLEM, **errors}}},
    }


def build_openapi(app: App, grants=None) -> dict:
    """The API as `grants` (a user's permissions) may use it: only entities they may read, only
    the operations they may do, without the fields hidden from them. Without grants (no token):
    only the sign-in endpoints."""
    paths: dict = {}
    schemas: dict = {
        "Problem": {"type": "object", "properties": {
            "type": {"type": "string"}, "title": {"type": "string"}, "status": {"type": "integer"},
            "detail": {"type": "string"},
            "errors": {"type": "array", "items": {"type": "object", "properties": {"field": {"type": "string"}, "message": {"type": "string"}}}},
        }, "required": ["title", "status", "detail"]},
    }
    readable = [e for e in app.top_entities() if grants is not None and grants.can(e.name, "read")]
    names = {e.name for e in readable}
    for ent in app.entities.values():
        if ent.name in names or (ent.child and ent.parent in names):
            hidden = grants.hidden(ent.name)
            locked = frozenset(n for n in ent.fields if grants.level(ent.name, n) == "read_only")
            schemas.update(_entity_schemas(app, ent, ent.name, hidden, locked))
    errors = {str(s): _PROBLEM for s in (400, 401, 403, 404, 422)}
    imports = attachments = comments = False
    for ent in readable:
        n = ent.name
        hidden = grants.hidden(n)
        label = ent.label.get("en")
        ref = {"$ref": f"#/components/schemas/{n}"}
        sortable = [s for s in sortable_fields(ent) if s not in hidden]
        list_params = [
            {"name": "sort", "in": "query", "schema": {"enum": [x for s in sortable for x in (s, "-" + s)]},
             "description": "a field name, '-' before it for descending"},
            {"name": "limit", "in": "query", "schema": {"type": "integer", "minimum": 1, "maximum": MAX_LIMIT}},
            {"name": "cursor", "in": "query", "schema": {"type": "string"}, "description": "next_cursor of the previous page"},
            {"name": "q", "in": "query", "schema": {"type": "string"}, "description": "quick search in: " + ", ".join(ent.search_fields or ("(none)",))},
            {"name": "count", "in": "query", "schema": {"enum": ["exact", "capped"]}},
        ] + _filter_params(ent, hidden)
        if grants.can(n, "export"):
            paths[f"/api/v1/{n}/export.csv"] = {"get": {
                "operationId": f"export_{n}", "summary": f"Export {ent.label_plural.get('en')} as CSV (the list's filters, sort and search)",
                "tags": [label], "parameters": [p for p in list_params if p["name"] not in ("limit", "cursor", "count")] + [
                    {"name": "lang", "in": "query", "schema": {"enum": list(app.languages)}, "description": "language of headers and options"},
                    {"name": "columns", "in": "query", "schema": {"type": "string"},
                     "description": "the columns, in order, separated by commas (or the parameter repeated): field names, `id`, "
                                    "and line fields as `lines.product`; default every field you may see"},
                    {"name": "per_line", "in": "query", "schema": {"enum": ["true", "false"]},
                     "description": "a row per line of the record's table, the record's values on each"}],
                "responses": {"200": {"description": "CSV text (UTF-8 with a byte-order mark), a header row of labels",
                                      "content": {"text/csv": {"schema": {"type": "string"}}}}, **errors}}}
            paths[f"/api/v1/{n}/export.xlsx"] = {"get": {
                **paths[f"/api/v1/{n}/export.csv"]["get"], "operationId": f"export_xlsx_{n}",
                "summary": f"Export {ent.label_plural.get('en')} as an Excel workbook (the list's filters, sort and search)",
                "responses": {"200": {"description": "an .xlsx workbook: a frozen header row of labels, numbers and dates as Excel types",
                                      "content": {"application/vnd.openxmlformats-officedocument.spreadsheetml.sheet": {
                                          "schema": {"type": "string", "format": "binary"}}}}, **errors}}}
        if grants.can(n, "import"):
            paths[f"/api/v1/{n}/import"] = {"post": {
                "operationId": f"import_{n}", "summary": f"Import {ent.label_plural.get('en')} from a spreadsheet (.xlsx or .csv)", "tags": [label],
                "parameters": [{"name": k, "in": "query", "schema": {"enum": ["true", "false"]}, "description": d} for k, d in (
                    ("dry_run", "do everything and write nothing: what would happen"),
                    ("skip_errors", "write the good records and report the others (default: one error writes nothing)"))] + [
                    {"name": "key", "in": "query", "schema": {"enum": [f.name for f in ent.fields.values() if f.unique]} if any(
                        f.unique for f in ent.fields.values()) else {"type": "string"}, "description": "a unique field: existing records are updated"}],
                "requestBody": {"required": True, "content": {"multipart/form-data": {"schema": {
                    "type": "object", "required": ["file"], "properties": {"file": {"type": "string", "format": "binary"}}}}}},
                "responses": {"200": {"description": "what was (or, in a dry run, would be) done, and every error by row and column",
                                      "content": {"application/json": {"schema": {"$ref": "#/components/schemas/ImportResult"}}}},
                              "202": {"description": "a large file: queued; follow status_url (GET /api/v1/jobs/{id})",
                                      "content": {"application/json": {"schema": {"type": "object", "properties": {
                                          "job": {"type": "integer"}, "status_url": {"type": "string"}}}}}},
                              "413": {"description": "the file is larger than the import limit"}, **errors}}}
            paths[f"/api/v1/{n}/import-template.xlsx"] = {"get": {
                "operationId": f"import_template_{n}", "summary": f"The import template of {ent.label_plural.get('en')}: columns, an example, what each takes",
                "tags": [label], "parameters": [{"name": "lang", "in": "query", "schema": {"enum": list(app.languages)}}],
                "responses": {"200": {"description": "an .xlsx workbook", "content": {
                    "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet": {"schema": {"type": "string", "format": "binary"}}}},
                    **errors}}}
            imports = True
        paths[f"/api/v1/{n}"] = {
            "get": {"operationId": f"list_{n}", "summary": f"List {ent.label_plural.get('en')}", "tags": [label],
                    "parameters": list_params,
                    "responses": {"200": {"description": "a page", "content": {"application/json": {"schema": {
                        "type": "object", "properties": {"items": {"type": "array", "items": ref},
                                                         "next_cursor": {"type": ["string", "null"]},
                                                         "count": {"type": "integer"}, "count_exact": {"type": "boolean"}}}}}},
                                  **errors}},
            "post": {"operationId": f"create_{n}", "summary": f"Create a {label}", "tags": [label],
                     "requestBody": {"required": True, "content": {"application/json": {"schema": {"$ref": f"#/components/schemas/{n}_input"}}}},
                     "responses": {"201": {"description": "created", "content": {"application/json": {"schema": ref}}}, **errors}},
        }
        if not grants.can(n, "create"):
            del paths[f"/api/v1/{n}"]["post"]
        idp = [{"name": "id", "in": "path", "required": True, "schema": {"type": "integer", "minimum": 1, "maximum": INT_MAX}}]
        paths[f"/api/v1/{n}/{{id}}"] = {
            "get": {"operationId": f"get_{n}", "summary": f"Read a {label}", "tags": [label], "parameters": idp,
                    "responses": {"200": {"description": "the record", "content": {"application/json": {"schema": ref}}}, **errors}},
            "patch": {"operationId": f"update_{n}", "summary": f"Change a {label}", "tags": [label], "parameters": idp,
                      "requestBody": {"required": True, "content": {"application/json": {"schema": {"$ref": f"#/components/schemas/{n}_patch"}}}},
                      "responses": {"200": {"description": "the changed record", "content": {"application/json": {"schema": ref}}},
                                    "409": _PROBLEM, **errors}},
            "delete": {"operationId": f"delete_{n}", "summary": f"Delete a {label}", "tags": [label],
                       "parameters": idp + [{"name": "version", "in": "query", "schema": {"type": "integer", "minimum": 1}}],
                       "responses": {"204": {"description": "deleted"}, "409": _PROBLEM, **errors}},
        }
        for op, action in (("patch", "update"), ("delete", "delete")):
            if not grants.can(n, action):
                del paths[f"/api/v1/{n}/{{id}}"][op]
        paths[f"/api/v1/{n}/{{id}}/history"] = {
            "get": {"operationId": f"history_{n}", "summary": f"Audit history of a {label}", "tags": [label], "parameters": idp,
                    "responses": {"200": {"description": "audit entries, oldest first", "content": {"application/json": {"schema": {
                        "type": "object", "properties": {"items": {"type": "array", "items": {"$ref": "#/components/schemas/AuditEntry"}}}}}}},
                                  **errors}},
        }
        if ent.attachments is not None:
            paths.update(_attachment_paths(n, label, idp, errors, grants is None or grants.can(n, "update")))
            attachments = True
        if grants.can(n, "update"):
            found = _file_field_paths(app, ent, n, label, idp, errors, grants.hidden(n))
            paths.update(found)
            attachments = attachments or bool(found)  # their files download from /api/v1/attachments/{id}
        if ent.comments:
            paths.update(_comment_paths(n, label, idp, errors))
            comments = True
        if ent.documents:
            paths[f"/api/v1/{n}/{{id}}/document/{{name}}.pdf"] = {"get": {
                "operationId": f"document_{n}", "summary": f"Print a {label} as a PDF (as you may read it)", "tags": [label],
                "parameters": idp + [{"name": "name", "in": "path", "required": True, "schema": {"enum": [d.name for d in ent.documents]}},
                                     {"name": "lang", "in": "query", "schema": {"enum": list(app.languages)}}],
                "responses": {"200": {"description": "the PDF", "content": {"application/pdf": {"schema": {"type": "string", "format": "binary"}}}},
                              **errors}}}
        wf = app.workflows.get(n)
        if wf is not None:
            paths.update(_workflow_paths(wf, n, label, idp, errors))
    if attachments:
        paths.update(_attachment_file_paths(errors))
        schemas["Attachment"] = {"type": "object", "properties": {
            "id": {"type": "integer"}, "entity": {"type": "string"}, "record_id": {"type": "integer"}, "name": {"type": "string"},
            "size": {"type": "integer"}, "content_type": {"type": "string"}, "sha256": {"type": "string"},
            "created_by": {"type": ["integer", "null"]}, "created_by_name": {"type": ["string", "null"]},
            "created_at": {"type": "string", "format": "date-time"}, "url": {"type": "string"},
            "image": {"type": "boolean"}, "inline": {"type": "boolean", "description": "may be shown in the page (?inline=1)"}}}

    schemas["FieldFile"] = {"type": "object", "description": "the file a file field holds; it downloads from its url", "properties": {
        "id": {"type": "integer"}, "name": {"type": "string"}, "size": {"type": "integer"}, "content_type": {"type": "string"},
        "url": {"type": "string"}, "image": {"type": "boolean"}, "inline": {"type": "boolean"}}}
    names = sorted(r.name for r in app.reports.values() if any(e.name == r.source for e in readable))
    if names:
        paths.update(_report_paths(names, errors))
        schemas["ReportResult"] = {"type": "object", "properties": {
            "report": {"type": "string"}, "label": {"type": "string"}, "chart": {"type": "string"},
            "columns": {"type": "array", "items": {"type": "object", "properties": {
                "name": {"type": "string"}, "label": {"type": "string"}, "type": {"type": "string"}}}},
            "rows": {"type": "array", "items": {"type": "object", "description": "each group's label and `<group>__value`, and each measure"}},
            "totals": {"type": "object"}, "defaults": {"type": "array", "items": {"type": "object"}}}}
    if comments:
        paths.update(_comment_item_paths(errors))
        schemas["Comment"] = {"type": "object", "properties": {
            "id": {"type": "integer"}, "entity": {"type": "string"}, "record_id": {"type": "integer"}, "text": {"type": "string"},
            "html": {"type": "string", "description": "the text rendered safely (a small subset of Markdown; no HTML of the author's)"},
            "author_id": {"type": ["integer", "null"]}, "author": {"type": ["string", "null"]},
            "mentions": {"type": "array", "items": {"type": "string"}}, "created_at": {"type": "string", "format": "date-time"},
            "edited_at": {"type": ["string", "null"], "format": "date-time"}, "may_edit": {"type": "boolean"}, "may_delete": {"type": "boolean"},
            "shared": {"type": "boolean", "description": "part of the conversation with the record's party (shown on their portal)"},
            "from_party": {"type": "boolean", "description": "written by a contact of the party"}}}
        schemas["CommentInput"] = {"type": "object", "required": ["text"], "additionalProperties": False,
                                   "properties": {"text": {"type": "string", "minLength": 1, "maxLength": 10000},
                                                  "shared": {"type": "boolean", "description": "share it with the record's party (new comments)"}}}
    if imports:  # someone who may import follows their jobs
        paths.update(_job_paths(errors))
        schemas["ImportResult"] = {"type": "object", "properties": {
            "dry_run": {"type": "boolean"}, "created": {"type": "integer"}, "updated": {"type": "integer"}, "unchanged": {"type": "integer"},
            "transitioned": {"type": "integer"}, "job": {"type": "integer"},
            "errors": {"type": "array", "items": {"type": "object", "properties": {
                "row": {"type": "integer"}, "field": {"type": "string"}, "message": {"type": "string"}}}},
            "changes": {"type": "array", "items": {"type": "object", "properties": {
                "row": {"type": "integer"}, "id": {"type": "integer"}, "fields": {"type": "object"}}}}}}
    if grants is not None and (grants.admin or grants.integration or grants.unrestricted):
        paths["/api/v1/events"] = {"get": {
            "operationId": "events", "summary": "The event feed: every create, update, delete, transition, state entered, opinion and deadline, in id order",
            "parameters": [
                {"name": "after", "in": "query", "schema": {"type": "integer", "minimum": 0}, "description": "the id of the last event you have"},
                {"name": "cursor", "in": "query", "schema": {"type": "string"}, "description": "next_cursor of the previous answer"},
                {"name": "limit", "in": "query", "schema": {"type": "integer", "minimum": 1, "maximum": 1000}}],
            "responses": {"200": {"description": "events, oldest first", "content": {"application/json": {"schema": {
                "type": "object", "required": ["items", "next_cursor", "more"], "properties": {
                    "items": {"type": "array", "items": {"$ref": "#/components/schemas/Event"}},
                    "next_cursor": {"type": "string"}, "more": {"type": "boolean"}}}}}}, **errors}}}
        schemas["Event"] = {"type": "object", "properties": {
            "id": {"type": "integer"}, "type": {"type": "string"}, "entity": {"type": "string"}, "record_id": {"type": ["integer", "null"]},
            "actor": {"type": "string"}, "actor_id": {"type": ["integer", "null"]}, "via": {"type": "string"},
            "at": {"type": "string", "format": "date-time"}, "data": {"type": "object"}}}
    if grants is not None and (grants.admin or grants.unrestricted) and app.connectors:
        paths.update(_connector_paths(app, errors))
    if grants is not None:
        obj = {"content": {"application/json": {"schema": {"type": "object"}}}}
        paths["/api/v1/reviews/pending"] = {"get": {"operationId": "pending_reviews", "summary": "Review tasks waiting for the caller",
                                                    "responses": {"200": {"description": "open tasks, oldest first", **obj}, **errors}}}
        paths["/api/v1/notifications"] = {"get": {"operationId": "notifications", "summary": "The caller's unread notifications",
                                                  "responses": {"200": {"description": "items and the unread count", **obj}, **errors}}}
        paths["/api/v1/notifications/read"] = {"post": {
            "operationId": "notifications_read", "summary": "Mark notifications read (all, or the given ids)",
            "requestBody": {"content": {"application/json": {"schema": {"type": "object", "properties": {
                "ids": {"type": "array", "items": {"type": "integer"}}}}}}},
            "responses": {"200": {"description": "how many were marked", **obj}, **errors}}}
    schemas["AuditEntry"] = {"type": "object", "properties": {
        "id": {"type": "integer"}, "action": {"type": "string"}, "actor": {"type": "string"}, "actor_id": {"type": ["integer", "null"]},
        "via": {"enum": ["screen", "api", "import", "workflow", "system"]}, "at": {"type": "string", "format": "date-time"},
        "changes": {"type": "object"}}}
    paths["/api/v1/auth/token"] = {"post": {
        "operationId": "create_token", "summary": "Exchange a username and password for an API token", "security": [],
        "requestBody": {"required": True, "content": {"application/json": {"schema": {
            "type": "object", "required": ["username", "password"],
            "properties": {"username": {"type": "string"}, "password": {"type": "string"}, "label": {"type": "string"}}}}}},
        "responses": {"200": {"description": "a new token, shown once", "content": {"application/json": {"schema": {
            "type": "object", "properties": {"token": {"type": "string"}}, "required": ["token"]}}}}, "429": _PROBLEM, **errors}},
        "delete": {"operationId": "revoke_token", "summary": "Revoke the token this request carries",
                   "responses": {"204": {"description": "revoked"}, **errors}}}
    paths["/healthz"] = {"get": {"operationId": "healthz", "summary": "Liveness and database check", "security": [],
                                 "responses": {"200": {"description": "ok", "content": {"application/json": {"schema": {
                                     "type": "object", "properties": {"status": {"const": "ok"}}}}}}}}}
    return {
        "openapi": "3.1.0",
        "info": {"title": app.label.get("en"), "version": __version__,
                 "description": "Generated from the app's metadata. Errors are application/problem+json."},
        "servers": [{"url": "/"}],
        "security": [{"bearer": []}],
        "paths": paths,
        "components": {
            "schemas": schemas,
            "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}},
            "responses": {"Problem": {"description": "an error", "content": {"application/problem+json": {"schema": {"$ref": "#/components/schemas/Problem"}}}}},
        },
    }


def _connector_paths(app, errors: dict) -> dict:
    """The connectors' log and its Retry/Replay (administrators)."""
    obj = {"content": {"application/json": {"schema": {"type": "object"}}}}
    name = {"name": "name", "in": "path", "required": True, "schema": {"enum": sorted(app.connectors)}}
    did = {"name": "id", "in": "path", "required": True, "schema": {"type": "integer", "minimum": 1}}
    tag = ["Connectors"]
    return {
        "/api/v1/connectors": {"get": {"operationId": "connectors", "summary": "The connectors and their deliveries by status", "tags": tag,
                                       "responses": {"200": {"description": "every connector of the app", **obj}, **errors}}},
        "/api/v1/connectors/{name}/deliveries": {"get": {
            "operationId": "connector_deliveries", "summary": "A connector's deliveries, newest first", "tags": tag,
            "parameters": [name, {"name": "status", "in": "query", "schema": {"enum": ["pending", "sending", "delivered", "dead"]}},
                           {"name": "before", "in": "query", "schema": {"type": "integer", "minimum": 1}},
                           {"name": "limit", "in": "query", "schema": {"type": "integer", "minimum": 1, "maximum": 500}}],
            "responses": {"200": {"description": "deliveries and next_before for the page after", **obj}, **errors}}},
        "/api/v1/connectors/{name}/calls": {"get": {
            "operationId": "connector_calls", "summary": "A webhook connector's calls, newest first, with what became of each", "tags": tag,
            "parameters": [name, {"name": "before", "in": "query", "schema": {"type": "integer", "minimum": 1}},
                           {"name": "limit", "in": "query", "schema": {"type": "integer", "minimum": 1, "maximum": 500}}],
            "responses": {"200": {"description": "calls and next_before for the page after", **obj}, **errors}}},
        "/api/v1/connectors/{name}/deliveries/{id}": {"get": {
            "operationId": "connector_delivery", "summary": "One delivery: its request, last answer and every attempt", "tags": tag,
            "parameters": [name, did], "responses": {"200": {"description": "the delivery", **obj}, **errors}}},
        "/api/v1/connectors/{name}/deliveries/{id}/retry": {"post": {
            "operationId": "connector_retry", "summary": "Retry a dead or waiting delivery now, or replay a delivered one (audited)",
            "tags": tag, "parameters": [name, did],
            "responses": {"200": {"description": "the delivery is due now", **obj}, "409": _PROBLEM, **errors}}},
    }


def _attachment_paths(n: str, label: str, idp: list, errors: dict, may_add: bool) -> dict:
    """The files of a record: listed by whoever reads it, added by whoever may update it."""
    ops = {"get": {
        "operationId": f"attachments_{n}", "summary": f"The files of a {label}", "tags": [label], "parameters": idp,
        "responses": {"200": {"description": "the files, oldest first", "content": {"application/json": {"schema": {
            "type": "object", "properties": {"items": {"type": "array", "items": {"$ref": "#/components/schemas/Attachment"}}}}}}}, **errors}}}
    if may_add:
        ops["post"] = {
            "operationId": f"attach_{n}", "summary": f"Attach a file to a {label}", "tags": [label], "parameters": idp,
            "requestBody": {"required": True, "content": {"multipart/form-data": {"schema": {
                "type": "object", "required": ["file"], "properties": {"file": {"type": "string", "format": "binary"}}}}}},
            "responses": {"201": {"description": "attached", "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Attachment"}}}},
                          "409": _PROBLEM, "413": {"description": "the file is larger than the limit"}, **errors}}
    return {f"/api/v1/{n}/{{id}}/attachments": ops}


def _file_field_paths(app, ent: Entity, n: str, label: str, idp: list, errors: dict, hidden) -> dict:
    """PUT (upload) and DELETE (clear) of each file field of a record, and of its lines' (docs/collaboration.md#file-fields)."""
    out = {}
    ref = {"application/json": {"schema": {"$ref": f"#/components/schemas/{n}"}}}
    upload = {"required": True, "content": {"multipart/form-data": {"schema": {"type": "object", "required": ["file"], "properties": {
        "file": {"type": "string", "format": "binary"}, "version": {"type": "integer", "description": "the version you last read (optional)"}}}}}}
    line = {"name": "line", "in": "path", "required": True, "schema": {"type": "integer", "minimum": 1, "maximum": INT_MAX}}
    places = [(f"/api/v1/{n}/{{id}}/files/{f.name}", f, idp, f.name) for f in ent.file_fields() if f.name not in hidden]
    for tf in ent.table_fields():
        if tf.name not in hidden:
            places += [(f"/api/v1/{n}/{{id}}/files/{tf.name}/{{line}}/{f.name}", f, idp + [line], f"{tf.name}_{f.name}")
                       for f in app.entity(tf.entity).file_fields()]
    for path, f, params, key in places:
        what = f.label.get("en")
        out[path] = {
            "put": {"operationId": f"upload_{n}_{key}", "summary": f"Set the {what} of a {label} (a file)", "tags": [label], "parameters": params,
                    "requestBody": upload, "responses": {"200": {"description": "the record", "content": ref}, "409": _PROBLEM,
                                                         "413": {"description": "the file is larger than the field's limit"}, **errors}},
            "delete": {"operationId": f"clear_{n}_{key}", "summary": f"Clear the {what} of a {label}", "tags": [label],
                       "parameters": params + [{"name": "version", "in": "query", "schema": {"type": "integer", "minimum": 1}}],
                       "responses": {"200": {"description": "the record", "content": ref}, "409": _PROBLEM, **errors}}}
    return out


def _report_paths(names: list[str], errors: dict) -> dict:
    """The reports (docs/reports.md): those the caller may run, and one run with list-style filters."""
    return {
        "/api/v1/reports": {"get": {"operationId": "reports", "summary": "The reports you may run", "tags": ["Reports"],
                                    "responses": {"200": {"description": "the reports", "content": {"application/json": {"schema": {
                                        "type": "object", "properties": {"items": {"type": "array", "items": {"type": "object"}}}}}}}, **errors}}},
        "/api/v1/reports/{name}": {"get": {
            "operationId": "run_report", "summary": "Run a report within your scope (filters as for lists: field, field__gte, ...)",
            "tags": ["Reports"], "parameters": [{"name": "name", "in": "path", "required": True, "schema": {"enum": names}},
                                               {"name": "lang", "in": "query", "schema": {"type": "string"}}],
            "responses": {"200": {"description": "the figures", "content": {"application/json": {"schema": {
                "$ref": "#/components/schemas/ReportResult"}}}}, **errors}}}}


def _comment_paths(n: str, label: str, idp: list, errors: dict) -> dict:
    """The comments of a record: read and written by whoever reads it."""
    one = {"application/json": {"schema": {"$ref": "#/components/schemas/Comment"}}}
    return {f"/api/v1/{n}/{{id}}/comments": {
        "get": {"operationId": f"comments_{n}", "summary": f"The comments on a {label}", "tags": [label], "parameters": idp,
                "responses": {"200": {"description": "the comments, oldest first", "content": {"application/json": {"schema": {
                    "type": "object", "properties": {"items": {"type": "array", "items": {"$ref": "#/components/schemas/Comment"}}}}}}}, **errors}},
        "post": {"operationId": f"comment_{n}", "summary": f"Comment on a {label} (@username mentions someone who may read it)", "tags": [label],
                 "parameters": idp,
                 "requestBody": {"required": True, "content": {"application/json": {"schema": {"$ref": "#/components/schemas/CommentInput"}}}},
                 "responses": {"201": {"description": "the comment", "content": one}, **errors}}}}


def _comment_item_paths(errors: dict) -> dict:
    idp = [{"name": "id", "in": "path", "required": True, "schema": {"type": "integer", "minimum": 1, "maximum": INT_MAX}}]
    return {"/api/v1/comments/{id}": {
        "patch": {"operationId": "edit_comment", "summary": "Edit your comment (within 10 minutes)", "tags": ["Comments"], "parameters": idp,
                  "requestBody": {"required": True, "content": {"application/json": {"schema": {"$ref": "#/components/schemas/CommentInput"}}}},
                  "responses": {"200": {"description": "the comment, changed", "content": {"application/json": {
                      "schema": {"$ref": "#/components/schemas/Comment"}}}}, "409": _PROBLEM, **errors}},
        "delete": {"operationId": "delete_comment", "summary": "Delete a comment (its author or an administrator)", "tags": ["Comments"],
                   "parameters": idp, "responses": {"204": {"description": "deleted"}, **errors}}}}


def _attachment_file_paths(errors: dict) -> dict:
    """One attachment: downloaded, or removed."""
    idp = [{"name": "id", "in": "path", "required": True, "schema": {"type": "integer", "minimum": 1, "maximum": INT_MAX}}]
    return {"/api/v1/attachments/{id}": {
        "get": {"operationId": "attachment", "summary": "Download a file (images and PDFs in the page with inline=true)", "tags": ["Files"],
                "parameters": idp + [{"name": "inline", "in": "query", "schema": {"enum": ["true", "false"]}}],
                "responses": {"200": {"description": "the file", "content": {"application/octet-stream": {
                    "schema": {"type": "string", "format": "binary"}}}}, **errors}},
        "delete": {"operationId": "detach", "summary": "Remove a file from its record", "tags": ["Files"], "parameters": idp,
                   "responses": {"204": {"description": "removed"}, "409": _PROBLEM, **errors}}}}


def _job_paths(errors: dict) -> dict:
    """GET /api/v1/jobs/{id} and its errors file: an import's progress and result, for whoever started it."""
    idp = [{"name": "id", "in": "path", "required": True, "schema": {"type": "integer"}}]
    return {
        "/api/v1/jobs/{id}": {"get": {
            "operationId": "job", "summary": "An import you started: its status, progress and, once done, its result", "tags": ["Imports"],
            "parameters": idp,
            "responses": {"200": {"description": "the job", "content": {"application/json": {"schema": {"allOf": [
                {"$ref": "#/components/schemas/ImportResult"},
                {"type": "object", "properties": {
                    "id": {"type": "integer"}, "kind": {"const": "import"}, "entity": {"type": "string"}, "file_name": {"type": "string"},
                    "rows": {"type": "integer"}, "status": {"enum": ["uploaded", "queued", "running", "done", "failed"]},
                    "progress": {"type": "object", "properties": {"done": {"type": "integer"}, "total": {"type": "integer"}}},
                    "error": {"type": ["string", "null"]}, "errors_url": {"type": "string"}}}]}}}}, **errors}}},
        "/api/v1/jobs/{id}/errors": {"get": {
            "operationId": "job_errors", "summary": "The imported file with an error column beside each row", "tags": ["Imports"],
            "parameters": idp,
            "responses": {"200": {"description": "the file, .xlsx or CSV as it was uploaded", "content": {
                "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet": {"schema": {"type": "string", "format": "binary"}},
                "text/csv": {"schema": {"type": "string"}}}}, **errors}}},
    }
