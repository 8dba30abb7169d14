"""What the dashboard's pages show: one module per page, pure functions over a `Storage`, no Streamlit.

`overview`, `forecast`, `comparison`, `anomalies`, `models` (versions and
Retrain now), `settings` (the tenant settings form), `notifications` and
`jobs`; `common` holds what several of them share (the freshness stamp that
keys the pages' caches, the stored forecast, where the data is). A view
reads and reports; the only writes are the ones a user asked for (Retrain
now, saving settings, marking notifications read, Run now), and rendering a
page never trains a model.
"""
