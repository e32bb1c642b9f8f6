"""How the Salesforce source reads objects (light to import, like :mod:`.credentials`)."""

from __future__ import annotations

import datetime as dt
import enum
from dataclasses import dataclass

DEFAULT_BULK_TIMEOUT_SECONDS = 3600.0


class Api(enum.StrEnum):
    """Which Salesforce API reads the records."""

    REST = "rest"  # query / queryAll with nextRecordsUrl paging
    BULK = "bulk"  # Bulk API 2.0 query jobs with CSV result pages


@dataclass(frozen=True)
class SalesforceSettings:
    """How objects are read.

    Attributes:
        api: REST query resources or Bulk API 2.0.
        fields: Fields to read (``--fields``); None for every loadable field.
        include_deleted: Read deleted records too (``queryAll``) and select ``IsDeleted``.
        lookback: Subtracted from the lower bound of incremental reads.
        bulk_timeout: Seconds to wait for a Bulk API 2.0 job to complete.
    """

    api: Api = Api.REST
    fields: tuple[str, ...] | None = None
    include_deleted: bool = True
    lookback: dt.timedelta = dt.timedelta(0)
    bulk_timeout: float = DEFAULT_BULK_TIMEOUT_SECONDS
