"""A Salesforce-compatible HTTPS server on loopback, for the Salesforce source's tests and benchmark.

It implements what simple-salesforce and the worker call: SOAP login and the OAuth 2.0 token
endpoint (client credentials, JWT bearer), sObject describe, REST ``query``/``queryAll`` with
``nextRecordsUrl`` pages, and Bulk API 2.0 query jobs with ``Sforce-Locator`` result pages. It
serves seeded Account, Contact and Opportunity records that tests change between runs, and injects
faults: throttling (429 with ``Retry-After``, ``REQUEST_LIMIT_EXCEEDED``), 5xx, expired sessions,
fields queries refuse (``INVALID_FIELD``); wrong credentials get ``INVALID_LOGIN``.

It is a plain package, not on ``sys.path`` (tests use ``--import-mode=importlib``): consumers
load it from its location with ``importlib`` (``load_salesforce_server`` in
``tests/python/ingest/salesforce/conftest.py``, ``tests/e2e/test_salesforce_pipeline.py`` and
``benchmarks/salesforce_contender.py``).
"""

from .catalog import DEFAULT_ROWS, OBJECTS
from .faults import Fault, FaultPlan
from .server import SalesforceTestServer, start_server
from .state import OrgCredentials
from .store import RecordStore, now_ms
from .tls import Certificate, loopback_certificate, private_key_pem

__all__ = [
    "DEFAULT_ROWS", "OBJECTS", "Certificate", "Fault", "FaultPlan", "OrgCredentials", "RecordStore",
    "SalesforceTestServer", "loopback_certificate", "now_ms", "private_key_pem", "start_server",
]  # fmt: skip
