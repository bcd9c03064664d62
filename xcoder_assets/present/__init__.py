"""Presentation: what people read. Markdown and its escaping (render), the UI's charts and tables (ui),
the figures a run's metadata and `xcoder status` report (figures), progress lines (progress), and a
row's lineage as terminal text or markdown (lineage_view). Reads the store; the store never imports it."""
