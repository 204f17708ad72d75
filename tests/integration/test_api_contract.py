"""The files API keeps the contract its OpenAPI document states: schemathesis against the real stack.

Schemathesis reads /api/files/openapi.json and sends generated requests (valid and invalid ones,
undeclared methods, wrong content types) through nginx with a person's API token. Any server error
or any disagreement between the document and the answers fails the test. The run is seeded, so the
same requests are sent every time.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from tests.support import in_site
from tests.support.stack import files_role_toml, running_stack

pytestmark = pytest.mark.integration

CHECKS = (
    "not_a_server_error",
    "status_code_conformance",
    "content_type_conformance",
    "response_schema_conformance",
    "response_headers_conformance",
    "negative_data_rejection",
    "positive_data_acceptance",
    "missing_required_header",
    "unsupported_method",
)
# Valid requests may still be refused for the state they meet, never for their shape: 409 (the name is
# taken) is schemathesis' default; 410 (a file's content is gone) and 413 (over the person's quota or
# the site's size limit, set in strata.toml, not in the document) are the others. Three operations
# also answer 400 to a well-formed request that does not fit what exists: a part whose length is not
# the upload's part size, completing before every part arrived, moving a folder into itself. A download
# answers 302: its bytes are at the content host (declared, and not followed: see --max-redirects).
STATE = '"2xx", "401", "403", "404", "409", "410", "413"'
CONFIG = f"""
[checks.positive_data_acceptance]
expected-statuses = [{STATE}]

[[operations]]
include-path-regex = '^/api/files/(uploads/[^/]+/(parts|complete)|(files|folders)/[^/]+$)'
checks.positive_data_acceptance.expected-statuses = [{STATE}, "400"]

[[operations]]
include-path-regex = '^/api/files/files/[^/]+/content$'
checks.positive_data_acceptance.expected-statuses = [{STATE}, "302"]
"""


@pytest.fixture(scope="module")
def fuzzed_stack():
    """A stack of its own: the generated requests leave files, folders and uploads behind that other
    modules' tests must not meet."""
    with running_stack("strata-contract-", extra=files_role_toml()) as stack:
        yield stack


@pytest.fixture(scope="module")
def token(fuzzed_stack):
    fuzzed_stack.call(in_site.save_person, "fuzz")
    return fuzzed_stack.call(in_site.issue_token_for, "fuzz", "contract")


def test_files_api_matches_its_openapi_document(fuzzed_stack, token, tmp_path):
    files_stack = fuzzed_stack
    config = tmp_path / "schemathesis.toml"
    config.write_text(CONFIG)
    report = tmp_path / "report.json"
    st = Path(sys.executable).with_name("schemathesis")
    proc = subprocess.run(
        [
            str(st),
            "--config-file",
            str(config),
            "run",
            f"{files_stack.url}/api/files/openapi.json",
            "--url",
            files_stack.url,
            "--tls-verify",
            str(files_stack.ca),
            "-H",
            f"Authorization: Bearer {token}",
            "--checks",
            ",".join(CHECKS),
            "--phases",
            "examples,coverage,fuzzing",
            "--max-examples",
            "15",
            "--seed",
            "20260401",
            "--workers",
            "1",
            # A download answers 302 to the content host (declared): that answer is what is checked, and
            # the content host's name is not looked up by Python's resolver (test_files follows it).
            "--max-redirects",
            "0",
            "--no-shrink",
            "--suppress-health-check",
            "all",
            "--report",
            "json",
            "--report-json-path",
            str(report),
        ],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
        cwd=tmp_path,  # schemathesis keeps a cache directory in its working directory
    )
    assert proc.returncode == 0, proc.stdout[-20000:] + proc.stderr[-5000:]
    summary = json.loads(report.read_text())
    assert summary, summary
    # Whatever the generated requests did, each person's usage counter still equals a recount.
    usage = files_stack.call(in_site.usage_before_and_after_recount)
    assert usage["before"] == usage["after"], usage
