"""`diesel route solve|plot` and `diesel osrm build` through click's CliRunner."""

from __future__ import annotations

import json
from pathlib import Path

import msgspec
import pytest
from click.testing import CliRunner

from api.route_cli import osrm, route
from routing import check, decode_problem, decode_solution

ROOT = Path(__file__).resolve().parents[3]
EXAMPLE = ROOT / "docs" / "examples" / "fuel-day-small.json"
PBF = ROOT / "tests" / "data" / "osm" / "monaco.osm.pbf"


@pytest.fixture(scope="module")
def solved(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, str]:
    out = tmp_path_factory.mktemp("cli") / "solution.json"
    result = CliRunner().invoke(route, ["solve", str(EXAMPLE), "--time-limit", "1", "--seed", "3", "--out", str(out)])
    assert result.exit_code == 0, result.output
    return out, result.output


def test_solve_writes_a_valid_solution_and_a_summary(solved: tuple[Path, str]) -> None:
    out, output = solved
    problem = decode_problem(EXAMPLE.read_bytes())
    solution = decode_solution(out.read_bytes())
    assert check(problem, solution) == []
    assert "checker: the plan is valid" in output
    assert "tankers" in output and "trips" in output and "km" in output and "cost" in output
    assert f"of {len(problem.jobs)} jobs served" in output
    assert "seed 3" in output


def test_plot_draws_svg_and_png(solved: tuple[Path, str], tmp_path: Path) -> None:
    out, _ = solved
    svg = tmp_path / "plan.svg"
    result = CliRunner().invoke(route, ["plot", str(EXAMPLE), str(out), "--out", str(svg)])
    assert result.exit_code == 0, result.output
    text = svg.read_text()
    assert text.startswith("<svg") and text.count("<polyline") >= 1 and "D1" in text
    pytest.importorskip("matplotlib")
    png = tmp_path / "plan.png"
    result = CliRunner().invoke(route, ["plot", str(EXAMPLE), str(out), "--out", str(png)])
    assert result.exit_code == 0, result.output
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_plot_refuses_an_unknown_format_and_a_foreign_solution(solved: tuple[Path, str], tmp_path: Path) -> None:
    out, _ = solved
    result = CliRunner().invoke(route, ["plot", str(EXAMPLE), str(out), "--out", str(tmp_path / "plan.gif")])
    assert result.exit_code != 0 and ".svg or .png" in result.output
    foreign = json.loads(out.read_text())
    foreign["routes"][0]["tanker_id"] = "NOPE"
    path = tmp_path / "foreign.json"
    path.write_text(json.dumps(foreign))
    result = CliRunner().invoke(route, ["plot", str(EXAMPLE), str(path), "--out", str(tmp_path / "x.svg")])
    assert result.exit_code != 0 and "NOPE" in result.output


def test_an_invalid_problem_lists_every_fault(tmp_path: Path) -> None:
    data = json.loads(EXAMPLE.read_text())
    data["jobs"][0]["litres"] = -5
    data["tankers"][0]["depot_id"] = "NOWHERE"
    path = tmp_path / "bad.json"
    path.write_text(json.dumps(data))
    result = CliRunner().invoke(route, ["solve", str(path), "--time-limit", "1"])
    assert result.exit_code == 1
    assert "litres must be positive" in result.output and "unknown depot 'NOWHERE'" in result.output


def test_osrm_build_then_solve_on_roads(tmp_path: Path) -> None:
    pytest.importorskip("osrm", reason="the osrm-bindings wheel (extra 'osrm') is not installed")
    runner = CliRunner()
    built = runner.invoke(osrm, ["build", str(PBF), "--out", str(tmp_path / "osrm")])
    assert built.exit_code == 0, built.output
    dataset = tmp_path / "osrm" / "monaco.osrm"
    assert "extract" in built.output and "customize" in built.output and str(dataset) in built.output
    problem = {
        "depots": [{"id": "D", "lat": 43.7311, "lon": 7.4197}],
        "tankers": [{"id": "T", "depot_id": "D", "compartments": [6000, 6000], "cost_per_km_minor": 500}],
        "jobs": [
            {"id": "A", "lat": 43.7384, "lon": 7.4246, "product": "0#", "litres": 3000},
            {"id": "B", "lat": 43.7270, "lon": 7.4150, "product": "0#", "litres": 3000},
            {"id": "SEA", "lat": 43.0, "lon": 7.0, "product": "0#", "litres": 1000},
        ],
    }
    path = tmp_path / "monaco.json"
    path.write_text(json.dumps(problem))
    out = tmp_path / "sol.json"
    args = ["solve", str(path), "--time-limit", "0.5", "--osrm", str(dataset), "--out", str(out)]
    args += ["--cache-dir", str(tmp_path / "cache")]
    result = runner.invoke(route, args)
    assert result.exit_code == 0, result.output
    assert "SEA: unreachable" in result.output
    solution = msgspec.json.decode(out.read_bytes())
    assert {u["job_id"] for u in solution["unassigned"]} == {"SEA"}
    assert list((tmp_path / "cache").glob("*.npz"))
