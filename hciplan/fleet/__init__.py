"""Fleets: the upgrade campaign of many clusters (issue 12, docs/fleet.md).

A fleet file is a `.hciplan` file with one `fleet` block: the cluster files,
their rings and sites, weekly windows in each site's time zone, blackouts,
the in-flight limit, operator shifts and the health gate between waves.
`model` holds its schema and typed records, `load` checks it (every cluster
file compiled once, fleet rules as diagnostics), `campaign` computes the
deterministic schedule from each cluster's compiled Plan, `render` shows it,
`commands` is the click layer (`hciplan fleet plan`).
"""
