"""Route planning for bulk-fuel tankers: a pure library (validated problem in, result out).

See docs/ROUTING.md for the JSON formats and the design.
"""

from routing.check import Code, Violation, check
from routing.matrix import UNREACHABLE, GeodesicProvider, Matrix, MatrixProvider, matrix_for
from routing.osrm import OsrmError, OsrmHttp, OsrmLocal, RoadTable, Snap, build_dataset
from routing.problem import (
    Depot,
    Job,
    Options,
    Pin,
    Problem,
    ProblemError,
    StartedTrip,
    Tanker,
    decode_problem,
    encode_problem,
    validate,
)
from routing.result import Result, Stats
from routing.solution import (
    CompartmentLoad,
    Route,
    Solution,
    Stop,
    Trip,
    Unassigned,
    UnassignedReason,
    decode_solution,
    encode_solution,
)
from routing.solver import Progress, SolveParams, solve
from routing.solver.rearrange import MoveError, move_job

__all__ = [
    "UNREACHABLE",
    "Code",
    "CompartmentLoad",
    "Depot",
    "GeodesicProvider",
    "Job",
    "Matrix",
    "MatrixProvider",
    "MoveError",
    "Options",
    "OsrmError",
    "OsrmHttp",
    "OsrmLocal",
    "Pin",
    "Problem",
    "ProblemError",
    "Progress",
    "Result",
    "RoadTable",
    "Route",
    "Snap",
    "Solution",
    "SolveParams",
    "StartedTrip",
    "Stats",
    "Stop",
    "Tanker",
    "Trip",
    "Unassigned",
    "UnassignedReason",
    "Violation",
    "build_dataset",
    "check",
    "decode_problem",
    "decode_solution",
    "encode_problem",
    "encode_solution",
    "matrix_for",
    "move_job",
    "solve",
    "validate",
]
