"""The DuckDB files a dbt task writes, read from a real profiles.yml by dbt's own renderer."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from orchestra_local.integrations.dbt_profiles import duckdb_files

PROFILES = """
shop:
  target: "{{ env_var('SHOP_TARGET', 'local') }}"
  outputs:
    local:
      type: duckdb
      path: "{{ env_var('SHOP_DUCKDB', 'warehouse.duckdb') }}"
    absolute:
      type: duckdb
      path: /srv/data/../data/shop.duckdb
    attached:
      type: duckdb
      path: main.duckdb
      attach:
        - {path: side.duckdb}
        - {path: reference.duckdb, read_only: true}
    memory:
      type: duckdb
    cloud:
      type: duckdb
      path: "md:shop"
    postgres:
      type: postgres
      host: "{{ env_var('NO_SUCH_HOST_VARIABLE') }}"
other:
  outputs:
    default: {type: duckdb, path: other.duckdb}
"""


@pytest.fixture
def project(tmp_path: Path) -> Path:
    folder = tmp_path / "dbt"
    folder.mkdir()
    (folder / "dbt_project.yml").write_text("name: shop\nversion: '1.0'\nprofile: shop\n")
    (folder / "profiles.yml").write_text(PROFILES)
    return folder


@pytest.mark.parametrize(
    ("env", "commands", "expected"),
    [
        pytest.param({}, ["dbt build"], ["warehouse.duckdb"], id="default-target-relative-path"),
        pytest.param({"SHOP_DUCKDB": "/tmp/w/x.duckdb"}, ["dbt build"], ["/tmp/w/x.duckdb"], id="env-var-path"),
        pytest.param({"SHOP_TARGET": "absolute"}, ["dbt run"], ["/srv/data/shop.duckdb"], id="target-from-env-var"),
        pytest.param({"DBT_TARGET": "attached"}, ["dbt build"], ["main.duckdb", "side.duckdb"],
                     id="writable-attachments"),
        pytest.param({}, ["dbt build --target memory"], [], id="in-memory"),
        pytest.param({}, ["dbt build -t cloud"], [], id="motherduck"),
        pytest.param({}, ["dbt build --target=postgres"], [], id="not-duckdb-and-its-env-vars-unset"),
        pytest.param({}, ["dbt seed", "dbt build --target absolute"], ["warehouse.duckdb", "/srv/data/shop.duckdb"],
                     id="each-command"),
        pytest.param({"DBT_PROFILE": "other"}, ["dbt build"], ["other.duckdb"], id="profile-from-env"),
        pytest.param({}, ["dbt build --profile other"], ["other.duckdb"], id="profile-flag"),
        pytest.param({}, ["dbt build", "dbt test"], ["warehouse.duckdb"], id="each-file-once"),
    ],
)
def test_duckdb_files(project: Path, env: dict[str, str], commands: list[str], expected: list[str]) -> None:
    found = duckdb_files(project, {"DBT_PROFILES_DIR": str(project), **env}, commands)
    assert found == [Path(os.path.realpath(project / name)) for name in expected]


def test_profiles_dir_flag_and_home_default(project: Path, tmp_path: Path) -> None:
    elsewhere = tmp_path / "profiles"
    elsewhere.mkdir()
    (elsewhere / "profiles.yml").write_text("shop:\n  target: x\n  outputs:\n    x: {type: duckdb, path: /a/b.duckdb}\n")
    assert duckdb_files(project, {}, [f"dbt build --profiles-dir {elsewhere}"]) == [Path("/a/b.duckdb")]
    (project / "profiles.yml").unlink()
    home = tmp_path / "home"
    (home / ".dbt").mkdir(parents=True)
    (home / ".dbt" / "profiles.yml").write_text((elsewhere / "profiles.yml").read_text())
    assert duckdb_files(project, {"HOME": str(home)}, ["dbt build"]) == [Path("/a/b.duckdb")]


def test_an_env_var_without_a_value_fails_as_dbt_would(project: Path) -> None:
    (project / "profiles.yml").write_text(
        "shop:\n  target: x\n  outputs:\n    x: {type: duckdb, path: \"{{ env_var('UNSET_PATH_VARIABLE') }}\"}\n")
    with pytest.raises(Exception, match="UNSET_PATH_VARIABLE"):
        duckdb_files(project, {"DBT_PROFILES_DIR": str(project)}, ["dbt build"])
