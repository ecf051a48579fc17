"""One self-contained HTML page for a verification run or a campaign (docs/report.md, "The HTML
report").

`page.py` holds what a page shows, as plain frozen values that `meshcheck verify` and
`meshcheck campaign` fill in; the renderer turns a `Page` into one HTML file with no outside
resources (styles, pictures and traces inline), so the file can be mailed or kept as a CI artefact.
"""
