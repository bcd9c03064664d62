"""Programs that Dagster launches through Pipes (training, serving). No Dagster import but `dagster_pipes`:
each runs by hand too (`python -m xcoder_assets.launched.train --help`)."""
