"""NIST's published schemas for the ledger's exports, and the check of a document against one."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import jsonschema
from jsonschema.validators import validator_for

import ledger

SCHEMAS = Path(ledger.__file__).parent / "publish" / "schemas" / "nist"
RESULTS_SCHEMA = "NIST_V2_election_results_reporting.json"
CVR_SCHEMA = "NIST_V0_cast_vote_records.json"
EVENTS_SCHEMA = "NIST_V1_election_event_logging.json"


def validate(document: Any, schema_file: str) -> None:
    """Raise ``jsonschema.ValidationError`` unless ``document`` fits ``schema_file``."""
    schema = json.loads((SCHEMAS / schema_file).read_text(encoding="utf-8"))
    validator = validator_for(schema)  # the draft the schema declares ($schema)
    assert validator is jsonschema.Draft4Validator
    validator.check_schema(schema)
    validator(schema, format_checker=validator.FORMAT_CHECKER).validate(document)
