"""The pipeline file: models (``models``), loading with located errors (``loader``), bounds checked
before parsing (``limits``), reference and Orchestra rules (``references``, ``rules``,
``orchestra_lang``), how ours and Orchestra's findings combine (``agreement``), local-vs-hosted
warnings (``portability``), cron, catalog, statuses.

Import from the submodules (``from orchestra_local.spec.loader import load_file``); this package
imports nothing itself, so the low-level modules (``statuses``, ``yaml_source``) stay free of cycles.
"""
