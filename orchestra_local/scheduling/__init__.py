"""Starting pipelines on their own: schedule fire times (``fire_times.py``)."""
