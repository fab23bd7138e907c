"""``make report``: execute the notebooks and render the write-ups (see `deepvis.report.build`)."""
