"""`flowkit demo`: the synthetic country, FlowAPI and FlowAuth on localhost, ready to try."""

from __future__ import annotations

import threading
import time
from datetime import date
from pathlib import Path

import click

from flowkit.cli.data import synthesise, synthesise_via_export
from flowkit.cli.options import DATA_DIR
from flowkit.cli.serve import ServeOptions, mint_data_dir_token, serve_api
from flowkit.data_dir import DEFAULT_SERVER_NAME, DataDir

DEMO_EXAMPLE = """\
import flowclient
conn = flowclient.connect(url="{url}", token=TOKEN)
before = flowclient.modal_location_from_dates_spec(start_date="2016-01-27", end_date="2016-02-10", method="most-common", aggregation_unit="admin3")
counts = flowclient.spatial_aggregate(connection=conn, locations=before).get_result()
print(counts.sort_values("value", ascending=False).head())"""


@click.command()
@DATA_DIR
@click.option("--port", type=int, default=9090, show_default=True)
@click.option("--auth-port", type=int, default=8000, show_default=True, help="FlowAuth's port.")
@click.option(
    "--via-export",
    is_flag=True,
    help="On first use, load the demo country as an operator would: export it (raw MSISDNs) to export/ in "
    "--data-dir, make pseudonymisation.key there, and ingest the files (pseudonymised, QA checked).",
)
def demo(data_dir: Path, port: int, auth_port: int, via_export: bool) -> None:
    """Generate the demo country on first use, then serve FlowAPI and FlowAuth and print how to try them."""
    from flowkit.auth.demo import seed_demo
    from flowkit.auth.deployment import open_deployment
    from flowkit.db.synthetic import SyntheticConfig
    from flowkit.machine.catalogue import scope_universe

    data = DataDir(data_dir)
    if not data.flowdb_path.exists():
        config = SyntheticConfig(start_date=date(2016, 1, 1), end_date=date(2016, 2, 29), crisis_date=date(2016, 2, 10))
        if via_export:
            click.echo("First run: exporting the demo country as an operator would, then ingesting it…")
            synthesise_via_export(data, config)
        else:
            click.echo("First run: generating the demo country (2016-01-01 to 2016-02-29, crisis on 2016-02-10)…")
            synthesise(data, config)
    url, auth_url = f"http://127.0.0.1:{port}", f"http://127.0.0.1:{auth_port}"
    deployment = open_deployment(data)
    passwords = seed_demo(deployment, data, DEFAULT_SERVER_NAME, scope_universe())
    _start_in_background(deployment.app(), auth_port)
    token = mint_data_dir_token(data, DEFAULT_SERVER_NAME, "demo", None, 24 * 60)
    data.write_secret("demo-token.txt", token)  # read by docs/demo.ipynb
    click.echo(f"\nFlowAPI: {url}/api/0   (OpenAPI: {url}/api/0/spec/openapi.json)")
    click.echo(f"FlowAuth: {auth_url}/login")
    for user, password in passwords.items():
        click.echo(f"  {user:<8} password {password}")
    click.echo(f'\nAn all-scopes token, valid 24 hours:\n\nTOKEN = "{token}"\n')
    click.echo("Or sign in to FlowAuth as the analyst and take a token under New token.\n")
    click.echo("Try it in Python (pip install flowclient==1.34.0, or `uv run python` here):\n")
    click.echo(DEMO_EXAMPLE.format(url=url) + "\n")
    click.echo("Or the whole demo notebook: uv run --with jupyterlab jupyter lab docs/demo.ipynb\n")
    serve_api(data, ServeOptions(port=port, auth_url=auth_url))


def _start_in_background(app, port: int) -> None:
    """Serve `app` on localhost from a daemon thread; return once it listens."""
    import uvicorn

    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, name="flowauth", daemon=True)
    thread.start()
    while not server.started:
        if not thread.is_alive():
            raise click.ClickException(f"FlowAuth could not start on port {port} (is it taken? try --auth-port)")
        time.sleep(0.05)
