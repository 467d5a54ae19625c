"""Server-side SVG charts: pure, deterministic functions of data -> Chart (SVG text + title + table alternative).

svg.py (scales, ticks, elements, palette), lab_trend.py, ae_timeline.py, spaghetti.py, swimmer.py, compliance.py
draw; participant.py and cohort.py turn the other areas' records into their inputs; agenda.py is the nurse's list.
No JavaScript and no CDN: each chart is inline SVG with <title>/<desc>, aria labels and a table next to it.
"""
