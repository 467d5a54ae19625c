"""Work done once per data change, not once per run or per view (issue 18).

- versions:  data versions bumped by SQLite triggers (m0155) and the checks' watermarks (``check_state``)
- lab_sweep: the lab rules evaluated again only for participants whose inputs changed, or all when the rules did
- figures:   computed figures cached in SQLite under their data version, shared by every web worker
"""
