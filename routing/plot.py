"""A plan as a picture: routes per tanker on a map-like canvas (SVG, no dependencies; PNG via matplotlib).

Sites and depots are placed by longitude/latitude (equirectangular, x scaled by cos(latitude) so that
a kilometre is as long east as north), over a graticule with a kilometre scale bar.  Each tanker has its
colour; its trips are polylines depot -> stops -> depot (straight legs: the picture shows the order,
not the road geometry), later trips dashed.  Unassigned jobs are red crosses.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path
from xml.sax.saxutils import escape

from routing.problem import Problem
from routing.solution import Solution

__all__ = ["Layers", "layers", "render_png", "render_svg", "save_plot"]

PALETTE = (
    "#1f77b4",
    "#ff7f0e",
    "#2ca02c",
    "#9467bd",
    "#8c564b",
    "#e377c2",
    "#17becf",
    "#bcbd22",
    "#7f7f7f",
    "#393b79",
    "#637939",
    "#8c6d31",
    "#843c39",
    "#7b4173",
    "#3182bd",
    "#e6550d",
)
UNASSIGNED = "#d62728"


@dataclass(frozen=True, slots=True)
class RouteLayer:
    tanker_id: str
    colour: str
    trips: tuple[tuple[tuple[float, float], ...], ...]  # per trip: points (x, y) in km
    label: str


@dataclass(frozen=True, slots=True)
class Layers:
    """Everything to draw, in kilometres east/north of the south-west corner of the plan."""

    width_km: float
    height_km: float
    depots: tuple[tuple[str, float, float], ...]
    served: tuple[tuple[float, float, float], ...]  # x, y, litres
    unassigned: tuple[tuple[str, float, float, str], ...]  # id, x, y, reason
    routes: tuple[RouteLayer, ...]
    origin: tuple[float, float]  # (lat, lon) of the south-west corner
    title: str


def layers(problem: Problem, solution: Solution, *, title: str = "") -> Layers:
    points = [(d.lat, d.lon) for d in problem.depots] + [(j.lat, j.lon) for j in problem.jobs]
    lat0 = min(p[0] for p in points)
    lon0 = min(p[1] for p in points)
    mean_lat = math.radians(sum(p[0] for p in points) / len(points))
    km_lat = 111.195
    km_lon = 111.195 * math.cos(mean_lat)

    def xy(lat: float, lon: float) -> tuple[float, float]:
        return ((lon - lon0) * km_lon, (lat - lat0) * km_lat)

    depot_xy = {d.id: xy(d.lat, d.lon) for d in problem.depots}
    job_xy = {j.id: xy(j.lat, j.lon) for j in problem.jobs}
    tankers = {t.id: t for t in problem.tankers}
    routes = []
    for number, route in enumerate(solution.routes):
        trips = []
        for trip in route.trips:
            home = depot_xy[trip.depot_id]
            stops = [job_xy[s.job_id] for s in trip.stops]
            trips.append((home, *stops, home))
        km = sum(t.distance_m for t in route.trips) / 1000
        visits = sum(len(t.stops) for t in route.trips)
        tanker = tankers.get(route.tanker_id)
        litres = sum(tanker.compartments) if tanker else 0
        label = f"{route.tanker_id} ({litres // 1000} kL): {len(route.trips)} trips, {visits} stops, {km:.0f} km"
        routes.append(RouteLayer(route.tanker_id, PALETTE[number % len(PALETTE)], tuple(trips), label))
    served_ids = solution.served_job_ids()
    all_xy = list(job_xy.values()) + list(depot_xy.values())
    return Layers(
        width_km=max(1.0, max(x for x, _ in all_xy)),
        height_km=max(1.0, max(y for _, y in all_xy)),
        depots=tuple((d.id, *depot_xy[d.id]) for d in problem.depots),
        served=tuple((*job_xy[j.id], float(j.litres)) for j in problem.jobs if j.id in served_ids),
        unassigned=tuple(
            (u.job_id, *job_xy[u.job_id], str(u.reason)) for u in solution.unassigned if u.job_id in job_xy
        ),
        routes=tuple(routes),
        origin=(lat0, lon0),
        title=title,
    )


def _nice_step(span: float) -> float:
    raw = span / 5
    power = 10 ** math.floor(math.log10(raw)) if raw > 0 else 1
    for factor in (1, 2, 5, 10):
        if raw <= factor * power:
            return factor * power
    return 10 * power


def render_svg(plan: Layers, *, width_px: int = 1000, legend_rows: int = 24) -> str:
    margin = 40
    legend_w = 330
    scale = (width_px - 2 * margin) / plan.width_km
    height_px = int(plan.height_km * scale + 2 * margin)
    height_px = max(height_px, 120 + 18 * min(legend_rows, len(plan.routes) + 3))
    total_w = width_px + legend_w

    def px(x: float, y: float) -> tuple[float, float]:
        return (margin + x * scale, height_px - margin - y * scale)

    out = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{total_w}" height="{height_px}" '
        f'viewBox="0 0 {total_w} {height_px}" font-family="sans-serif" font-size="12">',
        f'<rect width="{total_w}" height="{height_px}" fill="#f4f1ea"/>',
    ]
    step = _nice_step(max(plan.width_km, plan.height_km))
    grid = []
    k = 0.0
    while k <= plan.width_km + 1e-9:
        x0, _ = px(k, 0)
        grid.append(f'<line x1="{x0:.1f}" y1="0" x2="{x0:.1f}" y2="{height_px}"/>')
        k += step
    k = 0.0
    while k <= plan.height_km + 1e-9:
        _, y0 = px(0, k)
        grid.append(f'<line x1="0" y1="{y0:.1f}" x2="{width_px}" y2="{y0:.1f}"/>')
        k += step
    out.append(f'<g stroke="#dcd6c8" stroke-width="1">{"".join(grid)}</g>')
    for layer in plan.routes:
        for number, trip in enumerate(layer.trips):
            path = " ".join(f"{a:.1f},{b:.1f}" for a, b in (px(*p) for p in trip))
            dash = ' stroke-dasharray="6,4"' if number else ""
            out.append(
                f'<polyline points="{path}" fill="none" stroke="{layer.colour}" stroke-width="2" '
                f'stroke-opacity="0.85"{dash}/>'
            )
    biggest = max((litres for _, _, litres in plan.served), default=1.0)
    for x, y, litres in plan.served:
        a, b = px(x, y)
        r = 2.5 + 3.5 * math.sqrt(litres / biggest)
        out.append(f'<circle cx="{a:.1f}" cy="{b:.1f}" r="{r:.1f}" fill="#fff" stroke="#333" stroke-width="1"/>')
    for job_id, x, y, reason in plan.unassigned:
        a, b = px(x, y)
        out.append(
            f'<g stroke="{UNASSIGNED}" stroke-width="2.5"><title>{escape(job_id)}: {escape(reason)}</title>'
            f'<line x1="{a - 5:.1f}" y1="{b - 5:.1f}" x2="{a + 5:.1f}" y2="{b + 5:.1f}"/>'
            f'<line x1="{a - 5:.1f}" y1="{b + 5:.1f}" x2="{a + 5:.1f}" y2="{b - 5:.1f}"/></g>'
        )
    for depot_id, x, y in plan.depots:
        a, b = px(x, y)
        out.append(f'<rect x="{a - 7:.1f}" y="{b - 7:.1f}" width="14" height="14" fill="#111"/>')
        out.append(f'<text x="{a + 10:.1f}" y="{b - 8:.1f}" font-weight="bold">{escape(depot_id)}</text>')
    # Scale bar and legend.
    bar_x, bar_y = margin, height_px - 14
    out.append(
        f'<line x1="{bar_x}" y1="{bar_y}" x2="{bar_x + step * scale:.1f}" y2="{bar_y}" stroke="#111" stroke-width="3"/>'
    )
    out.append(f'<text x="{bar_x + step * scale + 6:.1f}" y="{bar_y + 4}">{step:g} km</text>')
    lx = width_px + 10
    out.append(f'<text x="{lx}" y="24" font-size="15" font-weight="bold">{escape(plan.title or "Plan")}</text>')
    y = 48
    for layer in plan.routes[:legend_rows]:
        out.append(
            f'<line x1="{lx}" y1="{y - 4}" x2="{lx + 22}" y2="{y - 4}" stroke="{layer.colour}" stroke-width="3"/>'
        )
        out.append(f'<text x="{lx + 28}" y="{y}">{escape(layer.label)}</text>')
        y += 18
    if len(plan.routes) > legend_rows:
        out.append(f'<text x="{lx}" y="{y}">… and {len(plan.routes) - legend_rows} more tankers</text>')
        y += 18
    if plan.unassigned:
        out.append(f'<text x="{lx}" y="{y}" fill="{UNASSIGNED}">✕ {len(plan.unassigned)} unassigned jobs</text>')
        y += 18
    out.append(f'<text x="{lx}" y="{y}" fill="#555">dashed: 2nd and later trips; ■ depot; ○ site</text>')
    out.append("</svg>")
    return "\n".join(out)


def render_png(plan: Layers, path: str | Path, *, dpi: int = 110) -> None:
    """PNG through matplotlib (the ``bench`` extra); raises ImportError when it is not installed."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    aspect = plan.height_km / plan.width_km
    fig, ax = plt.subplots(figsize=(11, max(4.0, 8 * aspect)))
    ax.set_facecolor("#f4f1ea")
    ax.grid(color="#dcd6c8")
    for layer in plan.routes:
        for number, trip in enumerate(layer.trips):
            xs, ys = zip(*trip, strict=True)
            ax.plot(
                xs, ys, color=layer.colour, lw=1.6, ls="--" if number else "-", label=None if number else layer.label
            )
    if plan.served:
        xs, ys, litres = zip(*plan.served, strict=True)
        biggest = max(litres)
        ax.scatter(xs, ys, s=[8 + 40 * v / biggest for v in litres], c="white", edgecolors="#333", zorder=3)
    if plan.unassigned:
        ax.scatter([u[1] for u in plan.unassigned], [u[2] for u in plan.unassigned], marker="x", c=UNASSIGNED, s=50)
    ax.scatter([d[1] for d in plan.depots], [d[2] for d in plan.depots], marker="s", c="#111", s=80, zorder=4)
    for depot_id, x, y in plan.depots:
        ax.annotate(depot_id, (x, y), xytext=(6, 6), textcoords="offset points", weight="bold")
    ax.set_aspect("equal")
    ax.set_xlabel("km east")
    ax.set_ylabel("km north")
    ax.set_title(plan.title or "Plan")
    if len(plan.routes) <= 24:
        ax.legend(loc="center left", bbox_to_anchor=(1.01, 0.5), fontsize=8, frameon=False)
    fig.tight_layout()
    fig.savefig(path, dpi=dpi)
    plt.close(fig)


def save_plot(problem: Problem, solution: Solution, path: str | Path, *, title: str = "") -> Path:
    """Write the plan as ``.svg`` (always available) or ``.png`` (needs matplotlib)."""
    target = Path(path)
    plan = layers(problem, solution, title=title)
    if target.suffix.lower() == ".svg":
        target.write_text(render_svg(plan), encoding="utf-8")
    elif target.suffix.lower() == ".png":
        render_png(plan, target)
    else:
        raise ValueError(f"{target.name}: the plot format is chosen by the suffix, .svg or .png")
    return target
