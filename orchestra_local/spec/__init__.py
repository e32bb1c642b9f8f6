"""Pipeline file models (pydantic), YAML loading with located errors, and reference rules."""

from orchestra_local.spec.loader import LoadedPipeline, discover, load_file, load_text
from orchestra_local.spec.models import Pipeline, Task, TaskGroup

__all__ = ["LoadedPipeline", "Pipeline", "Task", "TaskGroup", "discover", "load_file", "load_text"]
