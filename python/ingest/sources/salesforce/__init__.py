"""The ``salesforce`` source: sObjects read with SOQL through the REST API or Bulk API 2.0.

Modules, one concept each: ``options`` (CLI options and factory), ``credentials`` (which
environment variables each flow reads), ``settings`` (how objects are read), ``auth`` (the four
login flows, via simple-salesforce), ``transport`` (HTTP session with timeouts), ``client``
(requests with retries, session renewal, error mapping), ``retry`` (tenacity policy), ``errors``
(Salesforce error responses), ``schema`` (describe -> fields and Arrow types), ``soql`` (the
query), ``records`` (JSON/CSV pages -> Arrow batches), ``rest_query`` and ``bulk_query`` (the
two ways of reading), ``source`` (the :class:`~ingest.sources.base.Source` implementation).
"""

from ingest.sources.salesforce.options import add_salesforce_options, open_salesforce

__all__ = ["add_salesforce_options", "open_salesforce"]
