"""The workbench's web app: Starlette on uvicorn, bound to 127.0.0.1.

Every request must carry the session's token (``?token=`` in the address, or the
``X-Token`` header the page sends); others get 403. The page and Leaflet are
served from the installed package, the run folder's own files under ``/files/``
(a path outside it gets 404), and the JSON API edits the :class:`EditSession`:

``GET /api/units`` the units as GeoJSON (WGS 84) and the territories;
``GET /api/state`` the plan, locks, live figures, log and pending proposal;
``POST /api/assign`` ``{"units": [...], "territory": ...}``;
``POST /api/lock`` ``{"units": [...], "locked": true}``;
``POST /api/lock_territory`` ``{"territory": ..., "locked": true}``;
``POST /api/undo``, ``/api/redo``, ``/api/rebalance``, ``/api/accept``,
``/api/discard``; ``POST /api/save`` ``{"folder": optional}``.
Each edit answers with the new state.
"""

from __future__ import annotations

import hmac
import json
import math
import secrets
import threading
import time
from importlib.resources import files
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from territory_opt.errors import TerritoryOptError
from territory_opt.workbench.session import EditSession

MAX_BODY = 1_000_000  # bytes of a request body
MAX_UNITS = 200_000  # unit ids in one request


class _Body(BaseModel):
    model_config = ConfigDict(extra="forbid")


class AssignBody(_Body):
    units: list[str] = Field(min_length=1, max_length=MAX_UNITS)
    territory: str = Field(min_length=1, max_length=200)


class LockBody(_Body):
    units: list[str] = Field(min_length=1, max_length=MAX_UNITS)
    locked: bool = True


class LockTerritoryBody(_Body):
    territory: str = Field(min_length=1, max_length=200)
    locked: bool = True


class RebalanceBody(_Body):
    time_limit: float = Field(default=30.0, gt=0, le=3600)
    move_penalty: float | None = Field(default=None, ge=0)


class SaveBody(_Body):
    folder: str | None = Field(default=None, max_length=1000)


class _Empty(_Body):
    pass


def _asset(name: str) -> str:
    return (files("territory_opt.workbench") / "static" / name).read_text(encoding="utf-8")


def units_geojson(session: EditSession) -> dict[str, Any]:
    """The units in WGS 84 (id, position, accounts) and the territories
    (label, rep, colour, base), for the page to draw once."""
    import geopandas as gpd

    from territory_opt.geo import lon_cut_of, to_lonlat
    from territory_opt.outputs.maps import coloured_territories

    p = session.problem
    cut = lon_cut_of(p.units)
    units = to_lonlat(p.units, cut)
    geoms = json.loads(units.geometry.to_json(drop_id=True))["features"]
    features = [{"type": "Feature", "geometry": g["geometry"],
                 "properties": {"id": session.unit_ids[i], "i": i,
                                "accounts": int(session.accounts[i])}}
                for i, g in enumerate(geoms)]
    # a rep keeps the colour of the run's map and report
    colours = coloured_territories(session.start, session.reach_km)["colour"].tolist()
    info = session.start.territory_info
    bases = to_lonlat(gpd.GeoDataFrame(geometry=gpd.points_from_xy(info["x"], info["y"]),
                                       crs=p.units.crs), cut).geometry
    lon, lat = bases.x.to_numpy(), bases.y.to_numpy()
    territories = [{"label": str(session.labels[t]), "rep_id": str(session.rep_ids[t]),
                    "rep_name": str(session.rep_names[t]), "colour": colours[t],
                    "lat": float(lat[t]), "lon": float(lon[t])}
                   for t in range(len(session.labels))]
    return {"units": {"type": "FeatureCollection", "features": features},
            "territories": territories,
            "source": None if session.context.source is None else str(session.context.source)}


def create_app(session: EditSession, token: str, *, save_to: str | Path | None = None) -> Any:
    """The Starlette app over ``session``; ``token`` guards every request."""
    from starlette.applications import Starlette
    from starlette.middleware import Middleware
    from starlette.middleware.base import BaseHTTPMiddleware
    from starlette.requests import Request
    from starlette.responses import FileResponse, HTMLResponse, JSONResponse, Response
    from starlette.routing import Route

    from territory_opt.outputs.maps import leaflet_asset

    lock = threading.Lock()  # one edit at a time: the session is not thread-safe
    geo: dict[str, Any] = {}

    class TokenGate(BaseHTTPMiddleware):
        async def dispatch(self, request: Request, call_next: Any) -> Response:
            given = request.query_params.get("token") or request.headers.get("x-token") or ""
            if not hmac.compare_digest(given.encode(), token.encode()):
                return Response("forbidden: open the address territory-opt edit printed "
                                "(it carries the session's token)\n", status_code=403,
                                media_type="text/plain")
            if int(request.headers.get("content-length") or 0) > MAX_BODY:
                return JSONResponse({"error": "request too large"}, status_code=413)
            return await call_next(request)

    def page(request: Request) -> Response:
        html = _asset("workbench.html")
        parts = {"LEAFLET_CSS": leaflet_asset("leaflet.css"),
                 "LEAFLET_JS": leaflet_asset("leaflet.js"),
                 "WORKBENCH_CSS": _asset("workbench.css"),
                 "WORKBENCH_JS": _asset("workbench.js"),
                 "TITLE": _escape(session.context.title)}
        for key, value in parts.items():
            html = html.replace(f"/*{key}*/", value) if key != "TITLE" else \
                html.replace("{{TITLE}}", value)
        return HTMLResponse(html, headers={"Cache-Control": "no-store",
                                           "Content-Security-Policy": CSP})

    def units(request: Request) -> Response:
        with lock:
            if not geo:
                geo.update(units_geojson(session))
        return JSONResponse(geo)

    def state(request: Request) -> Response:
        with lock:
            return JSONResponse(_clean(session.state()))

    def action(model: type[_Body], run: Any) -> Any:
        async def endpoint(request: Request) -> Response:
            try:
                raw = await request.body()
                body = model.model_validate_json(raw or b"{}")
            except ValidationError as exc:
                first = exc.errors()[0]
                where = ".".join(str(x) for x in first.get("loc", ())) or "body"
                return JSONResponse({"error": f"{where}: {first['msg']}"}, status_code=422)
            return await _threaded(lambda: _run_locked(body))

        def _run_locked(body: Any) -> Response:
            with lock:
                t0 = time.perf_counter()
                try:
                    extra = run(body) or {}
                except TerritoryOptError as exc:
                    return JSONResponse({"error": str(exc)}, status_code=400)
                out = _clean(session.state()) | extra
                out["server_ms"] = (time.perf_counter() - t0) * 1e3
                return JSONResponse(out)
        return endpoint

    async def _threaded(fn: Any) -> Response:
        from starlette.concurrency import run_in_threadpool

        return await run_in_threadpool(fn)

    def serve_file(request: Request) -> Response:
        source = session.context.source
        if source is None:
            return Response("not found\n", status_code=404, media_type="text/plain")
        root = source.resolve()
        target = (root / request.path_params["path"]).resolve()
        if not target.is_relative_to(root) or not target.is_file():
            return Response("not found\n", status_code=404, media_type="text/plain")
        return FileResponse(target)

    def saved(body: SaveBody) -> dict[str, Any]:
        folder = session.save(body.folder or save_to)
        return {"saved": str(folder)}

    routes = [
        Route("/", page),
        Route("/api/units", units),
        Route("/api/state", state),
        Route("/api/assign", action(AssignBody, lambda b: {
            "moved": session.assign(b.units, b.territory)}), methods=["POST"]),
        Route("/api/lock", action(LockBody, lambda b: {
            "changed": session.lock(b.units, b.locked)}), methods=["POST"]),
        Route("/api/lock_territory", action(LockTerritoryBody, lambda b: {
            "changed": session.lock_territory(b.territory, b.locked)}), methods=["POST"]),
        Route("/api/undo", action(_Empty, lambda b: {"done": session.undo()}),
              methods=["POST"]),
        Route("/api/redo", action(_Empty, lambda b: {"done": session.redo()}),
              methods=["POST"]),
        Route("/api/rebalance", action(RebalanceBody, lambda b: session.rebalance(
            time_limit=b.time_limit, move_penalty=b.move_penalty) and None),
            methods=["POST"]),
        Route("/api/accept", action(_Empty, lambda b: {"moved": session.accept()}),
              methods=["POST"]),
        Route("/api/discard", action(_Empty, lambda b: session.discard()), methods=["POST"]),
        Route("/api/save", action(SaveBody, saved), methods=["POST"]),
        Route("/files/{path:path}", serve_file),
    ]
    return Starlette(routes=routes, middleware=[Middleware(TokenGate)])


# the page loads nothing from elsewhere: scripts and styles are inline, data from here
CSP = ("default-src 'none'; script-src 'unsafe-inline'; style-src 'unsafe-inline'; "
       "img-src 'self' data:; connect-src 'self'; base-uri 'none'; form-action 'none'")


def _escape(text: str) -> str:
    import html

    return html.escape(text)


def _clean(value: Any) -> Any:
    """NaN and infinity as null, so that the JSON is valid for the browser."""
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, dict):
        return {k: _clean(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_clean(v) for v in value]
    if hasattr(value, "item"):  # numpy scalars
        return _clean(value.item())
    return value


class Workbench:
    """A running workbench: the server in a background thread.

    ``url`` is the address with the token; :meth:`stop` ends the server.
    """

    def __init__(self, session: EditSession, *, host: str = "127.0.0.1", port: int = 0,
                 save_to: str | Path | None = None) -> None:
        import uvicorn

        self.session = session
        self.token = secrets.token_urlsafe(24)
        app = create_app(session, self.token, save_to=save_to)
        config = uvicorn.Config(app, host=host, port=port, log_level="warning",
                                lifespan="off", access_log=False)
        self._server = uvicorn.Server(config)
        self._thread = threading.Thread(target=self._server.run, daemon=True,
                                        name="territory-opt-workbench")
        self._thread.start()
        deadline = time.monotonic() + 30
        while not self._server.started:
            if not self._thread.is_alive() or time.monotonic() > deadline:
                raise RuntimeError(f"the workbench could not listen on {host}:{port} (is "
                                   "the port taken? pick another with --port)")
            time.sleep(0.02)
        sock = self._server.servers[0].sockets[0]
        self.host, self.port = sock.getsockname()[:2]
        self.url = f"http://{self.host}:{self.port}/?token={self.token}"

    def __repr__(self) -> str:
        return f"Workbench({self.url})"

    def _repr_html_(self) -> str:
        return (f'<a href="{_escape(self.url)}" target="_blank">Open the workbench</a> '
                f"({_escape(self.url)})")

    def stop(self) -> None:
        """Stop the server (the session and its edits stay)."""
        self._server.should_exit = True
        self._thread.join(timeout=10)

    def wait(self) -> None:
        """Block until the server stops (Ctrl-C stops it)."""
        try:
            while self._thread.is_alive():
                self._thread.join(timeout=0.5)
        except KeyboardInterrupt:
            self.stop()
            raise


def start(session: EditSession, *, port: int = 0, open_browser: bool = False,
          save_to: str | Path | None = None) -> Workbench:
    """Serve ``session`` on 127.0.0.1 (``port`` 0: a free one) and return the
    running :class:`Workbench`; ``open_browser`` opens its address."""
    bench = Workbench(session, port=port, save_to=save_to)
    if open_browser:
        import webbrowser

        webbrowser.open(bench.url)
    return bench
