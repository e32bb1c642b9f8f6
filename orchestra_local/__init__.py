"""orchestra_local: run Orchestra pipeline YAML (version v1) on one machine.

The contract it follows is ``docs/orchestra-contract.md`` (pipeline file, expressions, running semantics,
integrations, public API), itself compiled from Orchestra's public OpenAPI document.
"""

__version__ = "0.1.0"
